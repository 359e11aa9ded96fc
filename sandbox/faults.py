"""Fault injection and traffic counters: how the sandbox misbehaves on purpose, and what it saw.

Owns the fault kinds, which routes each applies to, the seeded picker, the pure-ASGI
:class:`FaultMiddleware` that carries the faults out, and the in-memory :class:`Stats` behind
``GET /_sandbox/stats``.

A fault is chosen per request: ``X-Sandbox-Fault: <kind>`` forces one (``none`` forces none);
otherwise, with ``--fault-rate F``, a request gets a fault with probability F, the kind drawn
uniformly from the kinds that apply to its route. The picker is a ``random.Random(seed)`` that
draws exactly two numbers per eligible request (header or not), so the same seed and the same
request sequence give the same faults. Kinds:

==================  ===============================================================================
``429``             the provider's rate-limit error (Oxen ``rate_limited``, LTX
                    ``rate_limit_error``) with ``Retry-After: 1``
``500``, ``503``    a server error in the provider's envelope
``422``             LTX's content-filter refusal of a submit: 422 ``content_filtered_error``
                    "rejected by safety filters" (ltx.md §5; nothing is created or charged)
``drop-before``     the connection is closed with no HTTP response before the request has any
                    effect (a paid POST creates and charges nothing)
``drop-after``      the request is handled in full (a paid POST creates its generations, counted
                    in ``paid_posts``), then the connection is closed instead of answering
``slow``            the answer is held back ``--slow-s`` seconds (after the request took effect)
``malformed``       200 with ``application/json`` and a truncated, unparsable body (GETs only)
``sse-disconnect``  ``/api/events`` sends its headers and one ``: keep-alive``, then closes
==================  ===============================================================================

Which kinds apply where (:data:`ROUTES`): paid POSTs (``POST /api/ai/queue``,
``POST /api/ai/videos/generate``, ``POST /v2/video-to-video-hdr``) get the errors, both drops
and ``slow`` — never ``malformed``, which on a paid POST would look just like ``drop-after``;
``POST /v2/video-to-video-hdr`` also ``422``; the JSON GETs also ``malformed``; ``DELETE /api/ai/queue/{id}`` the same as a paid POST (its
``drop-after`` cancels, then drops); ``/api/events`` the errors, ``drop-before``, ``slow`` and
``sse-disconnect``. Faults target the client-facing API only: never ``/_sandbox/*`` (health,
stats, LTX result files — the pre-signed upload PUT, which lives there, is an upload), never
repo file GETs (inputs and results), never an unknown path. Uploads — repo file PUT,
``POST /api/repos``, ``POST /v1/upload`` and the pre-signed upload URL — get only ``500``,
``503`` and ``drop-before``. A forced kind that does not apply to the route is
ignored: the request is served normally and the answer carries ``X-Sandbox-Fault-Skipped``.
Answers that carry an injected fault have an ``X-Sandbox-Fault: <kind>`` header; an unknown
kind in the request header is a 400.

Dropping a connection: uvicorn answers 500 itself when an app raises or returns before
starting a response, so a "no response at all" needs the socket. The ASGI ``receive`` uvicorn
hands the app is a bound method of its per-request cycle object, which holds the asyncio
transport (both the httptools and the h11 protocol); :func:`_drop` aborts that transport and
waits for uvicorn's ``http.disconnect``, after which uvicorn sends nothing. Clients see
``RemoteDisconnected`` / ``ConnectionResetError`` (``requests.ConnectionError``). Under a
server without such a transport (e.g. Starlette's TestClient) a drop raises
:class:`ConnectionDropped` instead.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import threading
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.problems import error_response

log = logging.getLogger("sandbox")

RATE_LIMITED = "429"
CONTENT_FILTERED = "422"
SERVER_ERROR = "500"
UNAVAILABLE = "503"
DROP_BEFORE = "drop-before"
DROP_AFTER = "drop-after"
SLOW = "slow"
MALFORMED = "malformed"
SSE_DISCONNECT = "sse-disconnect"
NONE = "none"
KINDS = (
    RATE_LIMITED,
    CONTENT_FILTERED,
    SERVER_ERROR,
    UNAVAILABLE,
    DROP_BEFORE,
    DROP_AFTER,
    SLOW,
    MALFORMED,
    SSE_DISCONNECT,
)
HEADER = "x-sandbox-fault"
RETRY_AFTER_S = 1
DEFAULT_SLOW_S = 3.0
# How long a drop waits for uvicorn to notice its own closed transport.
_DISCONNECT_WAIT_S = 5.0
_RECENT = 200  # faults kept in the stats' "recent_faults" list

_ERRORS = (RATE_LIMITED, SERVER_ERROR, UNAVAILABLE)
# Which kinds apply to which class of route (the random picker draws from these, in order).
PAID_KINDS = (*_ERRORS, DROP_BEFORE, DROP_AFTER, SLOW)
LTX_PAID_KINDS = (*PAID_KINDS, CONTENT_FILTERED)
READ_KINDS = (*_ERRORS, DROP_BEFORE, DROP_AFTER, SLOW, MALFORMED)
WRITE_KINDS = (*_ERRORS, DROP_BEFORE, DROP_AFTER, SLOW)
EVENTS_KINDS = (*_ERRORS, DROP_BEFORE, SLOW, SSE_DISCONNECT)
UPLOAD_KINDS = (SERVER_ERROR, UNAVAILABLE, DROP_BEFORE)
EXEMPT: tuple[str, ...] = ()


@dataclass(frozen=True)
class Route:
    """A route as the stats name it (``"GET /api/ai/queue/{generation_id}"``) and the fault
    kinds that apply to it."""

    name: str
    kinds: tuple[str, ...]


_REPO_FILE = "/api/repos/{namespace}/{repo}/file/{branch}/{path}"
_LTX_RESULT = "/_sandbox/ltx-results/{id}/{name}"
# Every route the sandbox serves. ``{path}`` spans segments; other ``{...}`` are one segment.
ROUTES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("POST", "/api/ai/queue", PAID_KINDS),
    ("GET", "/api/ai/queue", READ_KINDS),
    ("GET", "/api/ai/queue/{generation_id}", READ_KINDS),
    ("DELETE", "/api/ai/queue/{generation_id}", WRITE_KINDS),
    ("POST", "/api/ai/videos/generate", PAID_KINDS),
    ("GET", "/api/ai/generations", READ_KINDS),
    ("GET", "/api/ai/generations/{generation_id}", READ_KINDS),
    ("GET", "/api/events", EVENTS_KINDS),
    ("GET", "/api/ai/models", READ_KINDS),
    ("GET", "/api/ai/models/{model_id}", READ_KINDS),
    ("POST", "/api/repos", UPLOAD_KINDS),
    ("PUT", _REPO_FILE, UPLOAD_KINDS),
    ("GET", _REPO_FILE, EXEMPT),
    ("HEAD", _REPO_FILE, EXEMPT),
    ("POST", "/v2/video-to-video-hdr", LTX_PAID_KINDS),
    ("GET", "/v2/video-to-video-hdr/{id}", READ_KINDS),
    ("POST", "/v1/upload", UPLOAD_KINDS),
    ("PUT", "/_sandbox/uploads/{token}", UPLOAD_KINDS),
    ("GET", _LTX_RESULT, EXEMPT),
    ("HEAD", _LTX_RESULT, EXEMPT),
    ("GET", "/_sandbox/health", EXEMPT),
    ("GET", "/_sandbox/stats", EXEMPT),
)
STATS_ROUTE = "GET /_sandbox/stats"


def _pattern(template: str) -> re.Pattern[str]:
    regex = re.sub(r"\{(\w+)\}", lambda m: ".+" if m.group(1) == "path" else "[^/]+", template)
    return re.compile(regex + "/?")


_COMPILED = tuple(
    (method, _pattern(template), Route(f"{method} {template}", kinds))
    for method, template, kinds in ROUTES
)


def classify(method: str, path: str) -> Route | None:
    """The sandbox route ``method path`` hits, or ``None`` for a path it does not serve."""
    for m, pattern, route in _COMPILED:
        if m == method and pattern.fullmatch(path):
            return route
    return None


class ConnectionDropped(Exception):
    """Raised for a drop fault when the server gives no transport to close (not uvicorn)."""


class FaultPlan:
    """Chooses the fault for each request. Thread-safe.

    ``rate``: probability (0..1) that an eligible request gets a fault; ``seed``: seed of the
    ``random.Random`` (``None``: seeded from the OS); ``slow_s``: delay of the ``slow`` fault.
    """

    def __init__(self, rate: float = 0.0, seed: int | None = None, slow_s: float = DEFAULT_SLOW_S):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1 (got {rate})")
        if slow_s < 0:
            raise ValueError(f"slow delay must be >= 0 seconds (got {slow_s})")
        self.rate = rate
        self.seed = seed
        self.slow_s = slow_s
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def pick(self, route: Route | None, forced: str | None) -> str | None:
        """The fault for one request on ``route`` (``forced``: the header's kind, or ``None``).

        Exempt routes get nothing and draw nothing; every other request draws two numbers.
        A forced kind wins over the rate when it applies to the route; ``none`` forces none.
        """
        if route is None or not route.kinds:
            return None
        with self._lock:
            hit, which = self._rng.random(), self._rng.random()
        if forced is not None:  # NONE is in no route's kinds
            return forced if forced in route.kinds else None
        if hit < self.rate:
            return route.kinds[min(int(which * len(route.kinds)), len(route.kinds) - 1)]
        return None


class Stats:
    """Per-process traffic counters (in memory; thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()
        self._recent: deque[dict[str, str]] = deque(maxlen=_RECENT)
        self._paid_posts = 0
        self._paid_generations = 0

    def request(self, route: Route | None) -> None:
        name = route.name if route else "unmatched"
        if name == STATS_ROUTE:
            return  # reading the stats does not change them
        with self._lock:
            self._routes[name] += 1

    def fault(self, route: Route, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1
            self._recent.append({"route": route.name, "kind": kind})

    def paid(self, generations: int) -> None:
        """A paid POST was accepted and created ``generations`` generations."""
        with self._lock:
            self._paid_posts += 1
            self._paid_generations += generations

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "routes": dict(sorted(self._routes.items())),
                "paid_posts": self._paid_posts,
                "paid_generations": self._paid_generations,
                "faults": {k: self._faults[k] for k in KINDS if self._faults[k]},
                "recent_faults": list(self._recent),
            }


# -- the middleware --------------------------------------------------------------------------


def _with_header(message: Message, name: bytes, value: bytes) -> Message:
    return {**message, "headers": [*message.get("headers", ()), (name, value)]}


async def _drop(receive: Receive, *, flush: bool = False) -> None:
    """Close the client connection without (the rest of) an HTTP response, see the module
    docstring. ``flush``: let bytes already written leave first (``close`` vs ``abort``)."""
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None or not hasattr(transport, "abort"):
        raise ConnectionDropped("sandbox fault: connection dropped")
    if flush:
        transport.close()
    else:
        transport.abort()
    # Wait until uvicorn has seen the connection go (then it sends no 500 of its own).
    try:
        async with asyncio.timeout(_DISCONNECT_WAIT_S):
            while (await receive())["type"] != "http.disconnect":
                pass
    except TimeoutError:
        log.warning("sandbox: dropped connection was not reported closed")


def _truncated(body: bytes) -> bytes:
    """A prefix of a JSON body that is not itself valid JSON."""
    cut = body[: max(1, len(body) // 2)]
    try:
        json.loads(cut)
    except ValueError:
        return cut
    return b'{"generations": [{"generation_id": '


class FaultMiddleware:
    """Pure ASGI middleware: counts every request in :class:`Stats` and carries out the fault
    :class:`FaultPlan` picks for it. Sits inside :class:`sandbox.server.RequestContext`
    (so injected answers get an ``x-request-id``) and receives uvicorn's own ``receive``."""

    def __init__(self, app: ASGIApp, plan: FaultPlan, stats: Stats):
        self.app = app
        self.plan = plan
        self.stats = stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = classify(scope["method"], scope["path"])
        self.stats.request(route)
        forced = None
        for name, value in scope.get("headers", ()):
            if name == HEADER.encode():
                forced = value.decode("latin-1").strip().lower()
                break
        if forced is not None and forced not in (*KINDS, NONE):
            response = error_response(
                Request(scope),
                400,
                f"X-Sandbox-Fault must be one of {', '.join((*KINDS, NONE))} (got {forced!r}).",
            )
            await response(scope, receive, send)
            return
        kind = self.plan.pick(route, forced)
        if kind is None or route is None:
            if forced is not None and forced != NONE:  # forced, but not for this route
                send = self._tagging(send, b"x-sandbox-fault-skipped", forced)
            await self.app(scope, receive, send)
            return
        self.stats.fault(route, kind)
        log.info("sandbox: injecting fault %s on %s", kind, route.name)
        await self._inject(kind, scope, receive, send)

    @staticmethod
    def _tagging(send: Send, name: bytes, value: str) -> Send:
        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = _with_header(message, name, value.encode())
            await send(message)

        return tagged

    async def _inject(self, kind: str, scope: Scope, receive: Receive, send: Send) -> None:
        tagged = self._tagging(send, HEADER.encode(), kind)
        if kind in _ERRORS:
            await self._error(int(kind), scope, receive, tagged)
        elif kind == CONTENT_FILTERED:
            await self._content_filtered(scope, receive, tagged)
        elif kind == DROP_BEFORE:
            await _drop(receive)
        elif kind == DROP_AFTER:
            await self._drop_after(scope, receive)
        elif kind == SLOW:
            await self._slow(scope, receive, tagged)
        elif kind == MALFORMED:
            await self._malformed(scope, receive, tagged)
        elif kind == SSE_DISCONNECT:
            await self._sse_disconnect(scope, receive, tagged)
        else:  # pragma: no cover - KINDS and this dispatch are kept in step
            raise AssertionError(kind)

    @staticmethod
    async def _error(status: int, scope: Scope, receive: Receive, send: Send) -> None:
        messages = {
            429: "Too many requests: rate limit exceeded. Retry after 1 second.",
            500: "Internal server error. Try again later.",
            503: "The service is temporarily unavailable. Try again later.",
        }
        headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 429 else None
        response = error_response(
            Request(scope),
            status,
            messages[status],
            detail="Injected by the sandbox (X-Sandbox-Fault or --fault-rate).",
            headers=headers,
        )
        await response(scope, receive, send)

    @staticmethod
    async def _content_filtered(scope: Scope, receive: Receive, send: Send) -> None:
        """LTX's documented 422 (ltx.md §5: ``content_filtered_error``, "rejected by safety
        filters"), answered before the submit has any effect."""
        response = error_response(
            Request(scope),
            422,
            "The input video was rejected by content safety filters.",
            code="content_filtered_error",
        )
        await response(scope, receive, send)

    async def _drop_after(self, scope: Scope, receive: Receive) -> None:
        async def swallow(message: Message) -> None:
            pass

        try:
            await self.app(scope, receive, swallow)
        except Exception:  # the answer would have been a 500; it is lost all the same
            log.exception("sandbox: error under an injected drop-after on %s", scope["path"])
        await _drop(receive)

    async def _slow(self, scope: Scope, receive: Receive, send: Send) -> None:
        delay = self.plan.slow_s

        async def delayed(message: Message) -> None:
            if message["type"] == "http.response.start":
                await asyncio.sleep(delay)
            await send(message)

        await self.app(scope, receive, delayed)

    async def _malformed(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = _truncated(b"".join(chunks))
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})

    @staticmethod
    async def _sse_disconnect(scope: Scope, receive: Receive, send: Send) -> None:
        """Headers as the real stream sends them, one keep-alive comment, then the connection
        closes (the handler is not run, so no subscription is left behind)."""
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream; charset=utf-8"),
                    (b"cache-control", b"no-cache"),
                    (b"x-accel-buffering", b"no"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b": keep-alive\n\n", "more_body": True})
        await _drop(receive, flush=True)
