"""Local sandbox that speaks the Oxen.ai and LTX HTTP contracts and really processes clips.

No machine here reaches Oxen or LTX, so the app, the tests and the demos talk to this server
instead; only the base URL and key differ from live use (DESIGN.md). It serves:

* Oxen (shared/api/oxen.md): the generation queue, synchronous generation, history with cost,
  the per-user SSE stream, the model list with pricing and request schema, and repo file
  upload/download — :mod:`sandbox.oxen_api`;
* LTX (shared/api/ltx.md): the async video-to-video HDR job and pre-signed uploads —
  :mod:`sandbox.ltx_api`.

It is its own package and checks the client rather than mirroring it: requests are validated
against the vendored JSON Schemas with the vendors' error texts (:mod:`sandbox.validation`),
output geometry follows its own reading of the docs (:mod:`sandbox.models`) and charges come
from its own price list (:mod:`sandbox.prices`). Beside its five built-in endpoints it serves
any described by a model file from outside the package (``--model-file``,
:mod:`sandbox.model_files`). It imports nothing of the client's model units,
pricing, billing, rate book, service, budget or job store; the only client code it uses is
media plumbing, through :mod:`sandbox.codec`. The boundary is an import contract that runs in
the tests (``[tool.importlinter]`` in pyproject.toml).

It can also misbehave on purpose, for testing clients: injected faults (429/500/503, LTX's
422 content filter, dropped connections before or after a paid POST takes effect, slow or
malformed answers, SSE disconnects) at a seeded rate or forced per request —
:mod:`sandbox.faults`; the old Oxen queue TTL (``--ttl``); credit balances that refuse paid
POSTs with 402 (``--credits``) — :mod:`sandbox.credits`; charges off the list price
(``--price-skew``); expiring result links (``--result-ttl``) — :mod:`sandbox.signing`.
``GET /_sandbox/stats`` counts what it saw.

Start it with ``python -m sandbox --port PORT`` (see :mod:`sandbox.__main__`; its web
dependencies are the ``sandbox`` extra) or build the app in-process with
:func:`sandbox.server.create_app`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.server import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Lazy, so importing sandbox.processing (pure media code) does not pull in FastAPI.
    if name == "create_app":
        from sandbox.server import create_app

        return create_app
    raise AttributeError(name)
