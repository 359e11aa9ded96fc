"""Copy as cURL / Python: the exact request a submit sends, with the key as a variable.

The key is never written: it appears as ``$OXEN_API_KEY`` / ``$LTXV_API_KEY`` (cURL) or
``os.environ[...]`` (Python). Pure functions over the request body.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from studio import catalog

KEY_VARS = {"oxen": "OXEN_API_KEY", "ltx": "LTXV_API_KEY"}


def endpoint(model_id: str, mode: str = "queue") -> str:
    """The submit path: Oxen queue or sync route, or the LTX HDR route."""
    spec = catalog.get(model_id)
    if spec.provider == "ltx":
        return spec.route
    return "/api/ai/videos/generate" if mode == "sync" else "/api/ai/queue"


def curl_command(model_id: str, body: Mapping[str, Any], base_url: str, *, mode: str = "queue") -> str:
    """A runnable ``curl`` for ``body`` posted to ``base_url`` + the model's route."""
    spec = catalog.get(model_id)
    var = KEY_VARS[spec.provider]
    payload = json.dumps(dict(body), indent=2).replace("'", "'\\''")
    return (f"curl -X POST '{base_url.rstrip('/')}{endpoint(model_id, mode)}' \\\n"
            f"  -H \"Authorization: Bearer ${var}\" \\\n"
            f"  -H 'Content-Type: application/json' \\\n"
            f"  -d '{payload}'")


def python_snippet(model_id: str, body: Mapping[str, Any], base_url: str, *, mode: str = "queue") -> str:
    """A ``requests`` snippet for ``body``; reads the key from the environment."""
    spec = catalog.get(model_id)
    var = KEY_VARS[spec.provider]
    timeout = "(10, 1800)" if mode == "sync" else "(10, 60)"
    return (
        "import os\n\nimport requests\n\n"
        f"body = {json.dumps(dict(body), indent=4)}\n"
        "resp = requests.post(\n"
        f"    \"{base_url.rstrip('/')}{endpoint(model_id, mode)}\",\n"
        f"    headers={{\"Authorization\": f\"Bearer {{os.environ['{var}']}}\"}},\n"
        "    json=body,\n"
        f"    timeout={timeout},\n"
        ")\n"
        "resp.raise_for_status()\n"
        "print(resp.json())\n"
    )
