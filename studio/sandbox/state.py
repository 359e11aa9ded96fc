"""The sandbox instance shared by every route, plus small request helpers the routes share.

Owns :class:`Sandbox` — data dir, store, event broker, worker pool — and its start-up rule:
rows left ``queued``/``processing`` by a previous run are failed with "sandbox restarted while
processing", since no worker of this process can be running them.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request

from studio.sandbox.events import EventBroker
from studio.sandbox.files import DataDir
from studio.sandbox.inputs import SelfAddresses
from studio.sandbox.problems import ApiProblem
from studio.sandbox.runner import INTERRUPTED, JobRunner
from studio.sandbox.store import GenerationStore


class Sandbox:
    """Everything one running sandbox owns. :meth:`close` is idempotent."""

    def __init__(self, data_dir: Path, *, workers: int, preset: str, keepalive_s: float):
        self.data = DataDir(data_dir)
        self.store = GenerationStore(self.data.db_path)
        self.store.fail_active(INTERRUPTED, time.time())
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
        )
        self._closed = False
        self._close_lock = threading.Lock()

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
