"""Builds the sandbox FastAPI app: the Oxen + LTX contract served from one local process.

Owns :func:`create_app` — wiring of state, routes, error envelopes and the request middleware
— plus ``GET /_sandbox/health`` and ``GET /_sandbox/stats`` (no auth; per-process counters:
requests per route, ``paid_posts`` = paid POSTs that created generations, ``paid_generations``,
injected faults per kind, and the store's ``generations`` count). The routes themselves live in
:mod:`sandbox.oxen_api` (``/api/...``) and :mod:`sandbox.ltx_api` (``/v1``,
``/v2`` and the pre-signed upload URLs); jobs run in :mod:`sandbox.runner`; state is in
:mod:`sandbox.store`; fault injection and the counters are
:mod:`sandbox.faults`; credit balances :mod:`sandbox.credits`.

The app's own OpenAPI/docs pages are switched off: the sandbox should answer only what the
real services answer, and every unknown path gets the provider's 404 envelope.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox import codec, ltx_api, oxen_api
from sandbox.faults import DEFAULT_SLOW_S, FaultMiddleware
from sandbox.inputs import SelfAddresses
from sandbox.problems import install_handlers
from sandbox.state import Sandbox

KEEPALIVE_S = 15.0  # SSE ": keep-alive" comment interval on Oxen (oxen.md §10)


class RequestContext:
    """Pure ASGI middleware (a ``BaseHTTPMiddleware`` would buffer the SSE stream).

    * adds an ``x-request-id`` header to every response (LTX sends one on every response,
      ltx.md §1; clients log it);
    * records the ``Host`` the sandbox is reached under, so URLs pointing back at it resolve
      to local files (:class:`sandbox.inputs.SelfAddresses`).
    """

    def __init__(self, app: ASGIApp, own: SelfAddresses):
        self.app = app
        self.own = own

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"host":
                self.own.add(value.decode("latin-1"))
                break
        request_id = str(uuid.uuid4()).encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), (b"x-request-id", request_id)]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


def create_app(
    data_dir: Path,
    *,
    workers: int = 2,
    preset: str = codec.DEFAULT_PRESET,
    keepalive_s: float = KEEPALIVE_S,
    fault_rate: float = 0.0,
    seed: int | None = None,
    slow_s: float = DEFAULT_SLOW_S,
    ttl_s: float | None = None,
    credits_usd: Decimal | str | float | None = None,
    price_skew: Decimal | str | float = Decimal(0),
    result_ttl_s: float | None = None,
) -> FastAPI:
    """The sandbox app over ``data_dir`` (created if missing; reused across restarts).

    ``workers``: job threads. ``preset``: x264/x265 speed preset handed to processing.
    ``keepalive_s``: SSE keep-alive interval in seconds (tests shorten it).
    ``fault_rate`` (0..1), ``seed``, ``slow_s``: fault injection, see
    :mod:`sandbox.faults`. ``ttl_s``: seconds a terminal generation stays on the queue
    routes / LTX job GET (``None``: forever / 24 h). ``credits_usd``: every user's credit
    (``None``: unlimited), see :mod:`sandbox.credits`. ``price_skew``: relative
    difference of every charge from the list price (:mod:`sandbox.prices`).
    ``result_ttl_s``: seconds a result URL stays valid (``None``: forever; :mod:`sandbox.signing`).
    The app's :class:`~sandbox.state.Sandbox` is ``app.state.sandbox``; its ``close()``
    stops the worker pool and closes the database. It runs on lifespan shutdown, and tests
    that never start the lifespan call it themselves.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    sandbox = Sandbox(
        data_dir,
        workers=workers,
        preset=preset,
        keepalive_s=keepalive_s,
        ttl_s=ttl_s,
        credits_usd=None if credits_usd is None else Decimal(str(credits_usd)),
        fault_rate=fault_rate,
        seed=seed,
        slow_s=slow_s,
        price_skew=Decimal(str(price_skew)),
        result_ttl_s=result_ttl_s,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(sandbox.close)  # may wait for workers to stop

    app = FastAPI(
        title="Video Enhance Studio sandbox",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.sandbox = sandbox
    install_handlers(app)
    # Added first = inner: faults run inside RequestContext, so injected answers carry an
    # x-request-id and the Host is recorded even for a request that is dropped.
    app.add_middleware(FaultMiddleware, plan=sandbox.faults, stats=sandbox.stats)
    app.add_middleware(RequestContext, own=sandbox.own)
    app.include_router(oxen_api.router)
    app.include_router(ltx_api.router)

    @app.get("/_sandbox/health")
    async def health() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/_sandbox/stats")
    async def stats() -> dict[str, Any]:
        return sandbox.stats_snapshot()

    return app
