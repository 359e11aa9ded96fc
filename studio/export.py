"""Copy as Python / cURL / JavaScript: the exact request a submit sends, with the key as a
variable.

The key is never written: it appears as ``$OXEN_API_KEY`` / ``$LTXV_API_KEY`` (cURL),
``os.environ[...]`` (Python) or ``process.env...`` (JavaScript). Each snippet runs as shown:
the Python body is a Python literal (``True``/``False``/``None``, not JSON's ``true``), the
cURL body is JSON quoted for a POSIX shell, the JavaScript is a Node 18+ ES module using
``fetch``. :func:`for_real_service` turns a sandbox request into the same request for the
real service (its base URL, a placeholder clip URL). Pure functions over the request body.
"""

from __future__ import annotations

import json
import pprint
from collections.abc import Mapping
from typing import Any

from studio import models
from studio.config import LTX_DEFAULT_URL, OXEN_DEFAULT_URL

KEY_VARS = {"oxen": "OXEN_API_KEY", "ltx": "LTXV_API_KEY"}
REAL_BASE_URLS = {"oxen": OXEN_DEFAULT_URL, "ltx": LTX_DEFAULT_URL}
#: What the real-service variant puts where the clip's URL goes: an obvious placeholder.
PLACEHOLDER_CLIP_URL = "https://example.com/your-clip.mp4"


def endpoint(model_id: str, mode: str = "queue") -> str:
    """The submit path: Oxen queue or sync route, or the unit's own route (LTX)."""
    unit = models.get(model_id)
    if not unit.supports_queue:
        return unit.route
    return "/api/ai/videos/generate" if mode == "sync" else "/api/ai/queue"


def _url(model_id: str, base_url: str, mode: str) -> str:
    return f"{base_url.rstrip('/')}{endpoint(model_id, mode)}"


def _key_var(model_id: str) -> str:
    return KEY_VARS[models.get(model_id).provider]


def curl_command(model_id: str, body: Mapping[str, Any], base_url: str, *,
                 mode: str = "queue") -> str:
    """A runnable ``curl`` posting ``body`` (as JSON) to ``base_url`` + the model's route;
    the key comes from the shell variable."""
    payload = json.dumps(dict(body), indent=2).replace("'", "'\\''")
    return (f"curl -sS --fail-with-body -X POST '{_url(model_id, base_url, mode)}' \\\n"
            f"  -H \"Authorization: Bearer ${_key_var(model_id)}\" \\\n"
            f"  -H 'Content-Type: application/json' \\\n"
            f"  -d '{payload}'")


def _python_dict(body: Mapping[str, Any]) -> str:
    """``body`` as a Python dict literal, one key per line (``True``/``False``/``None``, never
    JSON's ``true``/``false``/``null``)."""
    if not body:
        return "{}"
    lines = [f"    {key!r}: {pprint.pformat(value, width=80, sort_dicts=False)},"
             for key, value in body.items()]
    return "{\n" + "\n".join(lines) + "\n}"


def python_snippet(model_id: str, body: Mapping[str, Any], base_url: str, *,
                   mode: str = "queue") -> str:
    """A ``requests`` script posting ``body``; the body is a Python literal and the key is
    read from the environment."""
    timeout = "(10, 1800)" if mode == "sync" else "(10, 60)"
    literal = _python_dict(body)
    return (
        "import os\n\nimport requests\n\n"
        f"body = {literal}\n"
        "resp = requests.post(\n"
        f"    {_url(model_id, base_url, mode)!r},\n"
        f"    headers={{\"Authorization\": f\"Bearer {{os.environ['{_key_var(model_id)}']}}\"}},\n"
        "    json=body,\n"
        f"    timeout={timeout},\n"
        ")\n"
        "resp.raise_for_status()\n"
        "print(resp.json())\n"
    )


def javascript_snippet(model_id: str, body: Mapping[str, Any], base_url: str, *,
                       mode: str = "queue") -> str:
    """A ``fetch`` script (Node 18+ ES module, e.g. ``request.mjs``) posting ``body``; the key
    is read from ``process.env``."""
    var = _key_var(model_id)
    return (
        f"// Node 18+: save as request.mjs and run `{var}=… node request.mjs`\n"
        f"const body = {json.dumps(dict(body), indent=2)};\n"
        f"const resp = await fetch({json.dumps(_url(model_id, base_url, mode))}, {{\n"
        "  method: \"POST\",\n"
        "  headers: {\n"
        f"    Authorization: `Bearer ${{process.env.{var}}}`,\n"
        "    \"Content-Type\": \"application/json\",\n"
        "  },\n"
        "  body: JSON.stringify(body),\n"
        "});\n"
        "if (!resp.ok) throw new Error(`${resp.status}: ${await resp.text()}`);\n"
        "console.log(JSON.stringify(await resp.json(), null, 2));\n"
    )


def snippets(model_id: str, body: Mapping[str, Any], base_url: str, *,
             mode: str = "queue") -> dict[str, tuple[str, str]]:
    """Every export of one request: tab label → (code, language for highlighting)."""
    return {
        "Python": (python_snippet(model_id, body, base_url, mode=mode), "python"),
        "cURL": (curl_command(model_id, body, base_url, mode=mode), "bash"),
        "JavaScript": (javascript_snippet(model_id, body, base_url, mode=mode), "javascript"),
    }


def for_real_service(model_id: str, body: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """``(body, base_url)`` of the same request sent to the real service: the provider's real
    base URL and :data:`PLACEHOLDER_CLIP_URL` in the source field (a sandbox URL means
    nothing to the real service)."""
    unit = models.get(model_id)
    out = dict(body)
    out[unit.source_field] = PLACEHOLDER_CLIP_URL
    return out, REAL_BASE_URLS[unit.provider]


__all__ = ["KEY_VARS", "PLACEHOLDER_CLIP_URL", "REAL_BASE_URLS", "curl_command", "endpoint",
           "for_real_service", "javascript_snippet", "python_snippet", "snippets"]
