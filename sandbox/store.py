"""The sandbox's durable state: generations, LTX upload slots and repo branch heads in SQLite.

Owns the ``sandbox.sqlite3`` file in the data dir. One connection, WAL journal, every access
under one lock, so route handlers (event loop thread) and job workers (pool threads) can share
it. State changes are conditional ``UPDATE ... WHERE status IN (...)`` statements: that is what
makes cancel-vs-finish races safe (a row cancelled while its worker runs stays ``cancelled``).

Rows keep the Oxen status vocabulary (queued / processing / succeeded / failed / cancelled,
oxen.md §7) whatever API created them; the LTX routes map it to pending / processing /
completed / failed when they render a job (ltx.md §4.1). Times are Unix epoch seconds (float
here; the Oxen routes render integers, the LTX routes ISO-8601).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATUSES = ("queued", "processing", "succeeded", "failed", "cancelled")
ACTIVE = ("queued", "processing")
TERMINAL = ("succeeded", "failed", "cancelled")

# Which API created a row. Oxen queue rows are addressable under /api/ai/queue; sync rows only
# appear in the history (/api/ai/generations); LTX rows only under /v2/video-to-video-hdr.
API_OXEN_QUEUE = "oxen_queue"
API_OXEN_SYNC = "oxen_sync"
API_LTX = "ltx"
OXEN_APIS = (API_OXEN_QUEUE, API_OXEN_SYNC)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS generations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    generation_id TEXT NOT NULL UNIQUE,
    api TEXT NOT NULL,
    user_id TEXT NOT NULL,
    username TEXT NOT NULL,
    model_name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    status TEXT NOT NULL,
    enqueued_at REAL NOT NULL,
    started_at REAL,
    completed_at REAL,
    params TEXT NOT NULL,
    target_namespace TEXT,
    target_repo TEXT,
    target_directory TEXT,
    outputs TEXT,
    error_message TEXT,
    error_type TEXT,
    cost TEXT,
    base_url TEXT NOT NULL,
    source_path TEXT
);
CREATE INDEX IF NOT EXISTS generations_user ON generations (user_id, api, status);
CREATE TABLE IF NOT EXISTS uploads (
    token TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    path TEXT NOT NULL,
    size INTEGER
);
CREATE TABLE IF NOT EXISTS repo_heads (
    namespace TEXT NOT NULL,
    repo TEXT NOT NULL,
    branch TEXT NOT NULL,
    commit_id TEXT NOT NULL,
    PRIMARY KEY (namespace, repo, branch)
);
"""

_COLUMNS = (
    "generation_id",
    "api",
    "user_id",
    "username",
    "model_name",
    "media_type",
    "status",
    "enqueued_at",
    "started_at",
    "completed_at",
    "params",
    "target_namespace",
    "target_repo",
    "target_directory",
    "outputs",
    "error_message",
    "error_type",
    "cost",
    "base_url",
    "source_path",
)


@dataclass(frozen=True)
class Generation:
    """One generation row.

    ``params`` are the model parameters exactly as the client sent them (echoed back at the top
    level of Oxen rows, oxen.md §4.1). ``outputs`` maps an output label (``"video"``,
    ``"exr_frames"``) to its public URL once succeeded. ``error_type`` uses the LTX error
    vocabulary (``invalid_request_error`` for a bad request or clip, ``api_error`` for a
    sandbox fault); the Oxen routes map it. ``cost`` is a decimal string in USD or ``None``
    until charged. ``source_path`` is the local input file resolved at submit time (LTX).
    """

    generation_id: str
    api: str
    user_id: str
    username: str
    model_name: str
    media_type: str
    status: str
    enqueued_at: float
    base_url: str
    params: dict[str, Any] = field(default_factory=dict)
    started_at: float | None = None
    completed_at: float | None = None
    target_namespace: str | None = None
    target_repo: str | None = None
    target_directory: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    error_message: str | None = None
    error_type: str | None = None
    cost: str | None = None
    source_path: str | None = None

    @classmethod
    def queued(cls, *, api: str, user: Any, model_name: str, base_url: str,
               params: dict[str, Any], generation_id: str | None = None,
               **extra: Any) -> Generation:
        """A new video generation, ``queued`` and enqueued now, for ``user`` (anything with
        ``user_id`` and ``username``); ``extra`` sets the optional fields (targets, source)."""
        return cls(generation_id=generation_id or str(uuid.uuid4()), api=api,
                   user_id=user.user_id, username=user.username, model_name=model_name,
                   media_type="video", status="queued", enqueued_at=time.time(),
                   base_url=base_url, params=params, **extra)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


@dataclass(frozen=True)
class Upload:
    """An LTX pre-signed upload slot (ltx.md §7). ``size`` is ``None`` until bytes arrived."""

    token: str
    user_id: str
    created_at: float
    expires_at: float
    path: str
    size: int | None


@dataclass(frozen=True)
class Filters:
    """Row filters shared by the Oxen list routes (oxen.md §5, §6.1); ``None`` = no filter."""

    statuses: Sequence[str] | None = None
    model: str | None = None
    media_type: str | None = None
    namespace: str | None = None
    repo: str | None = None
    folder: str | None = None


class GenerationStore:
    """SQLite-backed store; thread-safe. Create one per data dir and :meth:`close` it."""

    def __init__(self, path: Path):
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- generations -------------------------------------------------------------------------

    def insert(self, gen: Generation) -> None:
        with self._lock:
            self._insert(gen)

    def insert_if_capacity(self, gen: Generation, *, limit: int) -> bool:
        """Insert ``gen`` unless its user already has ``limit`` active rows of the same API.

        Check and insert happen under one lock, so two simultaneous submits cannot both take
        the last slot (LTX concurrency limit, ltx.md §6). Returns whether it was inserted.
        """
        with self._lock:
            (active,) = self._conn.execute(
                "SELECT COUNT(*) FROM generations WHERE user_id=? AND api=? AND status IN (?,?)",
                (gen.user_id, gen.api, *ACTIVE),
            ).fetchone()
            if active >= limit:
                return False
            self._insert(gen)
            return True

    def count_active(self, user_id: str, api: str) -> int:
        with self._lock:
            (n,) = self._conn.execute(
                "SELECT COUNT(*) FROM generations WHERE user_id=? AND api=? AND status IN (?,?)",
                (user_id, api, *ACTIVE),
            ).fetchone()
        return int(n)

    def get(self, generation_id: str) -> Generation | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM generations WHERE generation_id=?", (generation_id,)
            ).fetchone()
        return _from_row(row) if row else None

    def get_for_user(
        self, generation_id: str, user_id: str, apis: Iterable[str]
    ) -> Generation | None:
        """The row if it exists, belongs to ``user_id`` and was created by one of ``apis``."""
        gen = self.get(generation_id)
        if gen is None or gen.user_id != user_id or gen.api not in tuple(apis):
            return None
        return gen

    def query(
        self,
        user_id: str,
        apis: Sequence[str],
        filters: Filters,
        *,
        newest_first: bool,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Generation]:
        where, args = _where(user_id, apis, filters)
        order = "DESC" if newest_first else "ASC"
        sql = f"SELECT * FROM generations WHERE {where} ORDER BY enqueued_at {order}, seq {order}"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            args += [limit, offset]
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
        return [_from_row(r) for r in rows]

    def count(self, user_id: str, apis: Sequence[str], filters: Filters) -> int:
        where, args = _where(user_id, apis, filters)
        with self._lock:
            (n,) = self._conn.execute(
                f"SELECT COUNT(*) FROM generations WHERE {where}", args
            ).fetchone()
        return int(n)

    def costs(self, user_id: str, apis: Sequence[str], filters: Filters) -> list[str]:
        """Every non-null ``cost`` string in the filter set (summed as Decimal by the caller:
        SQLite's SUM would go through floats)."""
        where, args = _where(user_id, apis, filters)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT cost FROM generations WHERE {where} AND cost IS NOT NULL", args
            ).fetchall()
        return [r[0] for r in rows]

    def status_counts(self) -> dict[str, int]:
        """Rows per status over every user and API (``/_sandbox/stats``)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT status, COUNT(*) FROM generations GROUP BY status"
            ).fetchall()
        return {status: int(n) for status, n in rows}

    def users(self) -> dict[str, str]:
        """``user_id`` → ``username`` of everyone with a generation."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT DISTINCT user_id, username FROM generations"
            ).fetchall()
        return {uid: name for uid, name in rows}

    def mark_processing(self, generation_id: str, started_at: float) -> bool:
        """queued → processing; ``False`` when the row is no longer queued (e.g. cancelled)."""
        return self._update(
            "UPDATE generations SET status='processing', started_at=? "
            "WHERE generation_id=? AND status='queued'",
            (started_at, generation_id),
        )

    def mark_succeeded(
        self, generation_id: str, *, outputs: dict[str, str], completed_at: float, cost: str | None
    ) -> bool:
        """processing → succeeded; ``False`` when cancelled meanwhile (the result is dropped)."""
        return self._update(
            "UPDATE generations SET status='succeeded', outputs=?, completed_at=?, cost=? "
            "WHERE generation_id=? AND status='processing'",
            (json.dumps(outputs), completed_at, cost, generation_id),
        )

    def mark_failed(
        self, generation_id: str, *, message: str, error_type: str, completed_at: float
    ) -> bool:
        """queued/processing → failed; ``False`` when already terminal."""
        return self._update(
            "UPDATE generations SET status='failed', error_message=?, error_type=?, completed_at=? "
            "WHERE generation_id=? AND status IN ('queued','processing')",
            (message, error_type, completed_at, generation_id),
        )

    def cancel(self, generation_id: str, completed_at: float) -> bool:
        """queued/processing → cancelled; terminal rows are left unchanged (oxen.md §7, §8)."""
        return self._update(
            "UPDATE generations SET status='cancelled', completed_at=? "
            "WHERE generation_id=? AND status IN ('queued','processing')",
            (completed_at, generation_id),
        )

    def fail_active(self, message: str, completed_at: float) -> list[str]:
        """Every queued/processing row → failed with ``message``; returns their ids.

        Used at start-up: nothing can be running in a fresh process, so a row left active was
        interrupted by a stop or crash.
        """
        with self._lock:
            ids = [
                r[0]
                for r in self._conn.execute(
                    "SELECT generation_id FROM generations WHERE status IN ('queued','processing')"
                ).fetchall()
            ]
            self._conn.execute(
                "UPDATE generations SET status='failed', error_message=?, error_type='api_error', "
                "completed_at=? WHERE status IN ('queued','processing')",
                (message, completed_at),
            )
        return ids

    # -- LTX uploads ---------------------------------------------------------------------------

    def create_upload(self, upload: Upload) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO uploads (token, user_id, created_at, expires_at, path, size) "
                "VALUES (?,?,?,?,?,?)",
                (
                    upload.token,
                    upload.user_id,
                    upload.created_at,
                    upload.expires_at,
                    upload.path,
                    upload.size,
                ),
            )

    def get_upload(self, token: str) -> Upload | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM uploads WHERE token=?", (token,)).fetchone()
        return Upload(**dict(row)) if row else None

    def set_upload_size(self, token: str, size: int) -> None:
        self._update("UPDATE uploads SET size=? WHERE token=?", (size, token))

    # -- repo branch heads (commit parents) ----------------------------------------------------

    def swap_head(self, namespace: str, repo: str, branch: str, commit_id: str) -> str | None:
        """Set the branch head to ``commit_id``; return the previous head (the commit parent)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT commit_id FROM repo_heads WHERE namespace=? AND repo=? AND branch=?",
                (namespace, repo, branch),
            ).fetchone()
            self._conn.execute(
                "INSERT OR REPLACE INTO repo_heads (namespace, repo, branch, commit_id) "
                "VALUES (?,?,?,?)",
                (namespace, repo, branch, commit_id),
            )
        return row[0] if row else None

    # -- internals -----------------------------------------------------------------------------

    def _insert(self, gen: Generation) -> None:
        values = [getattr(gen, c) for c in _COLUMNS]
        values[_COLUMNS.index("params")] = json.dumps(gen.params)
        values[_COLUMNS.index("outputs")] = json.dumps(gen.outputs)
        placeholders = ",".join("?" for _ in _COLUMNS)
        self._conn.execute(
            f"INSERT INTO generations ({','.join(_COLUMNS)}) VALUES ({placeholders})", values
        )

    def _update(self, sql: str, args: Sequence[Any]) -> bool:
        with self._lock:
            cur = self._conn.execute(sql, args)
        return cur.rowcount > 0


def _where(user_id: str, apis: Sequence[str], f: Filters) -> tuple[str, list[Any]]:
    clauses = ["user_id=?", f"api IN ({','.join('?' for _ in apis)})"]
    args: list[Any] = [user_id, *apis]
    if f.statuses is not None:
        clauses.append(f"status IN ({','.join('?' for _ in f.statuses)})")
        args += list(f.statuses)
    for column, value in (
        ("model_name", f.model),
        ("media_type", f.media_type),
        ("target_namespace", f.namespace),
        ("target_repo", f.repo),
        ("target_directory", f.folder),
    ):
        if value is not None:
            clauses.append(f"{column}=?")
            args.append(value)
    return " AND ".join(clauses), args


def _from_row(row: sqlite3.Row) -> Generation:
    data = {c: row[c] for c in _COLUMNS}
    data["params"] = json.loads(data["params"] or "{}")
    data["outputs"] = json.loads(data["outputs"] or "{}")
    return Generation(**data)
