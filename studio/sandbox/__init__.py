"""Local sandbox that speaks the Oxen.ai and LTX HTTP contracts and really processes clips.

No machine here reaches Oxen or LTX, so the app, the tests and the demos talk to this server
instead; only the base URL and key differ from live use (DESIGN.md). It serves:

* Oxen (shared/api/oxen.md): the generation queue, synchronous generation, history with cost,
  the per-user SSE stream, the model list with pricing and request schema, and repo file
  upload/download — :mod:`studio.sandbox.oxen_api`;
* LTX (shared/api/ltx.md): the async video-to-video HDR job and pre-signed uploads —
  :mod:`studio.sandbox.ltx_api`.

It can also misbehave on purpose, for testing clients: injected faults (429/500/503, dropped
connections before or after a paid POST takes effect, slow or malformed answers, SSE
disconnects) at a seeded rate or forced per request — :mod:`studio.sandbox.faults`; the old
Oxen queue TTL (``--ttl``); and credit balances that refuse paid POSTs with 402
(``--credits``) — :mod:`studio.sandbox.credits`. ``GET /_sandbox/stats`` counts what it saw.

Start it with ``python -m studio.sandbox --port PORT`` (see :mod:`studio.sandbox.__main__`) or
build the app in-process with :func:`studio.sandbox.server.create_app`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from studio.sandbox.server import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Lazy, so importing studio.sandbox.processing (pure media code) does not pull in FastAPI.
    if name == "create_app":
        from studio.sandbox.server import create_app

        return create_app
    raise AttributeError(name)
