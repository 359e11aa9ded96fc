"""The sandbox instance shared by every route, plus small request helpers the routes share.

Owns :class:`Sandbox` — data dir, store, event broker, worker pool, credit ledger, fault plan,
traffic stats, the queue TTL, the price skew and the result-link signer — and its start-up rule: rows left ``queued``/``processing``
by a previous run are failed with "sandbox restarted while processing", since no worker of
this process can be running them.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request

from sandbox.credits import Ledger
from sandbox.events import EventBroker
from sandbox.faults import DEFAULT_SLOW_S, FaultPlan, Stats
from sandbox.files import DataDir
from sandbox.inputs import SelfAddresses
from sandbox.problems import ApiProblem
from sandbox.runner import INTERRUPTED, JobRunner
from sandbox.signing import ResultLinks
from sandbox.store import TERMINAL, Generation, GenerationStore


class Sandbox:
    """Everything one running sandbox owns. :meth:`close` is idempotent.

    ``ttl_s``: seconds a terminal generation stays visible under the queue routes (Oxen) and
    ``GET /v2/video-to-video-hdr/{id}`` (LTX); ``None`` keeps Oxen rows forever and LTX jobs
    24 h. ``credits_usd``: every user's credit (``None``: unlimited), see
    :mod:`sandbox.credits`. ``fault_rate``, ``seed``, ``slow_s``: see
    :mod:`sandbox.faults`. ``price_skew``: relative difference of every charge from the
    list price (:mod:`sandbox.prices`, −1 < F < 1). ``result_ttl_s``: seconds a result URL
    stays valid (``None``: result URLs do not expire; :mod:`sandbox.signing`).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        workers: int,
        preset: str,
        keepalive_s: float,
        ttl_s: float | None = None,
        credits_usd: Decimal | None = None,
        fault_rate: float = 0.0,
        seed: int | None = None,
        slow_s: float = DEFAULT_SLOW_S,
        price_skew: Decimal = Decimal(0),
        result_ttl_s: float | None = None,
    ):
        if not Decimal(-1) < price_skew < Decimal(1):
            raise ValueError(f"price skew must be between -1 and 1 (got {price_skew})")
        if ttl_s is not None and ttl_s < 0:
            raise ValueError(f"ttl must be >= 0 seconds (got {ttl_s})")
        if credits_usd is not None and credits_usd < 0:
            raise ValueError(f"credits must be >= 0 USD (got {credits_usd})")
        self.faults = FaultPlan(fault_rate, seed, slow_s)
        self.stats = Stats()
        self.ttl_s = ttl_s
        self.price_skew = price_skew
        self.data = DataDir(data_dir)
        self.links = ResultLinks(data_dir, result_ttl_s)
        self.store = GenerationStore(self.data.db_path)
        self.store.fail_active(INTERRUPTED, time.time())
        self.ledger = Ledger(self.store, credits_usd)
        self.broker = EventBroker()
        self.own = SelfAddresses()
        self.keepalive_s = keepalive_s
        self.runner = JobRunner(
            data=self.data,
            store=self.store,
            broker=self.broker,
            own=self.own,
            workers=workers,
            preset=preset,
            ledger=self.ledger,
            price_skew=price_skew,
            links=self.links,
        )
        self._closed = False
        self._close_lock = threading.Lock()

    def expired(self, gen: Generation, *, ttl_s: float | None = None) -> bool:
        """Whether ``gen`` reached a terminal state more than ``ttl_s`` (default: the
        sandbox's ``--ttl``; ``None`` = never) seconds ago."""
        ttl = self.ttl_s if ttl_s is None else ttl_s
        return (
            ttl is not None
            and gen.status in TERMINAL
            and gen.completed_at is not None
            and time.time() - gen.completed_at > ttl
        )

    def stats_snapshot(self) -> dict[str, Any]:
        """The body of ``GET /_sandbox/stats``: :class:`~sandbox.faults.Stats` plus the
        store's row count (``generations``, every user, including rows of earlier runs over
        the same data dir), rows per status and, with ``--credits``, balances by username."""
        body = self.stats.snapshot()
        by_status = self.store.status_counts()
        body["generations"] = sum(by_status.values())
        body["generations_by_status"] = by_status
        if self.ledger.enabled:
            body["balances"] = self.ledger.balances()
        return body

    def close(self) -> None:
        """End SSE streams, stop the worker pool (active rows → failed), close the database."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self.broker.close()
        self.runner.shutdown()
        self.store.close()


def get_sandbox(request: Request) -> Sandbox:
    """FastAPI dependency: the app's :class:`Sandbox`."""
    return request.app.state.sandbox  # type: ignore[no-any-return]


# Route parameter type: ``sb: SandboxDep`` injects the app's Sandbox.
SandboxDep = Annotated[Sandbox, Depends(get_sandbox)]


def base_url(request: Request) -> str:
    """``scheme://host:port`` the caller used; result URLs are built on it."""
    return str(request.base_url).rstrip("/")


async def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 in the path's envelope."""
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        raise ApiProblem(400, "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiProblem(400, "The request body must be a JSON object.")
    return body


def iso(ts: float) -> str:
    """Unix seconds → ISO-8601 UTC with a ``Z`` suffix (LTX timestamps, ltx.md §3.4)."""
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
