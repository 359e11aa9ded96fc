"""Generations as durable records: the :class:`Job` dataclass and the SQLite :class:`JobStore`.

A job row is written *before* its paid request is sent (status ``submitting``) and updated
the moment the provider answers with an id, so a reload or a restart never loses one.
Session state in the UI holds only selections; everything durable lives here.

Statuses (ours, provider statuses map onto them in :mod:`studio.tracker`):
``submitting`` → ``queued`` → ``processing`` → ``succeeded`` | ``failed`` | ``cancelled``;
``unknown`` when a paid request may or may not have reached the provider (never resent
silently). Timestamps are timezone-aware UTC datetimes; money is a decimal string on disk.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ACTIVE_STATUSES = ("submitting", "queued", "processing")
TERMINAL_STATUSES = ("succeeded", "failed", "cancelled")
ALL_STATUSES = (*ACTIVE_STATUSES, *TERMINAL_STATUSES, "unknown")

SCHEMA_VERSION = 1


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Job:
    """One generation as the app knows it.

    ``source`` = ``{"kind": "sample"|"upload"|"url", "label", "path"?, "url"?, "sha256"?}``;
    ``clip`` = the probed :class:`studio.media.ClipInfo` as a dict; ``quote`` =
    :meth:`studio.pricing.Quote.to_json`; ``result_urls`` / ``result_files`` map an artifact
    label (``"video"``, ``"exr_frames"``) to the provider URL / the local downloaded path.
    ``next_poll_at`` is a Unix time in seconds.
    """

    model_id: str
    provider: str
    owner: str
    params: dict[str, Any]
    source: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: str = "submitting"
    remote_id: str | None = None
    mode: str = "queue"
    target: str = "sandbox"  # "sandbox" or "live": which service got the request
    owner_name: str | None = None
    clip: dict[str, Any] | None = None
    quote: dict[str, Any] | None = None
    client_token: str = field(default_factory=lambda: uuid.uuid4().hex)
    batch_id: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    submitted_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    error: str | None = None
    result_urls: dict[str, str] = field(default_factory=dict)
    result_files: dict[str, str] = field(default_factory=dict)
    preview_path: str | None = None
    charge_usd: str | None = None
    poll_count: int = 0
    next_poll_at: float = 0.0

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def quote_usd(self) -> str | None:
        return (self.quote or {}).get("amount_usd")


_JSON_FIELDS = {"params", "source", "clip", "quote", "result_urls", "result_files"}
_TIME_FIELDS = {"created_at", "updated_at", "submitted_at", "started_at", "completed_at"}
_COLUMNS = [f.name for f in fields(Job)]

_MIGRATIONS: dict[int, str] = {
    1: f"""
    CREATE TABLE IF NOT EXISTS jobs (
        {", ".join(f"{c} {'REAL' if c == 'next_poll_at' else 'INTEGER' if c == 'poll_count' else 'TEXT'}"
                   + (" PRIMARY KEY" if c == "id" else "") for c in _COLUMNS)}
    );
    CREATE INDEX IF NOT EXISTS jobs_created ON jobs(created_at);
    CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status);
    CREATE INDEX IF NOT EXISTS jobs_model ON jobs(model_id, created_at);
    CREATE TABLE IF NOT EXISTS uploads (
        provider TEXT, target TEXT, sha256 TEXT, url TEXT, expires_at TEXT,
        PRIMARY KEY (provider, target, sha256)
    );
    """,
}


def _encode(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _JSON_FIELDS:
        return json.dumps(value, sort_keys=True)
    if name in _TIME_FIELDS:
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def _decode(name: str, value: Any) -> Any:
    if name in _JSON_FIELDS:
        return json.loads(value) if value else ({} if name in ("result_urls", "result_files") else None)
    if name in _TIME_FIELDS:
        return datetime.fromisoformat(value) if value else None
    return value


class JobStore:
    """SQLite-backed store of :class:`Job` rows (WAL mode, schema versioned by
    ``PRAGMA user_version``). Safe to share across threads of one process; several processes
    (app, CLI) may open the same file.

    ``path`` is the database file (its folder is created). Raises ``sqlite3.Error`` only for
    a broken database file.
    """

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=10,
                                     isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA busy_timeout=10000")
            self._migrate()

    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        for target in sorted(_MIGRATIONS):
            if target > version:
                self._conn.executescript("BEGIN;" + _MIGRATIONS[target]
                                         + f"PRAGMA user_version={target};COMMIT;")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- writes ---------------------------------------------------------------------------
    def insert(self, job: Job) -> Job:
        """Write a new row (``job.id`` must be new); returns it."""
        values = [_encode(c, getattr(job, c)) for c in _COLUMNS]
        with self._lock:
            self._conn.execute(
                f"INSERT INTO jobs ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                values,
            )
        return job

    def insert_many(self, jobs: Iterable[Job]) -> list[Job]:
        """Insert several rows in one transaction (used for one request's generations)."""
        jobs = list(jobs)
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                for job in jobs:
                    self._conn.execute(
                        f"INSERT INTO jobs ({', '.join(_COLUMNS)}) "
                        f"VALUES ({', '.join('?' * len(_COLUMNS))})",
                        [_encode(c, getattr(job, c)) for c in _COLUMNS],
                    )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return jobs

    def update(self, job_id: str, **changes: Any) -> Job:
        """Set the given fields (and ``updated_at``) on row ``job_id``; returns the new row.

        Raises ``KeyError`` for an unknown id or field.
        """
        unknown = set(changes) - set(_COLUMNS)
        if unknown:
            raise KeyError(f"unknown job fields: {sorted(unknown)}")
        changes.setdefault("updated_at", utcnow())
        assignments = ", ".join(f"{k} = ?" for k in changes)
        with self._lock:
            cur = self._conn.execute(
                f"UPDATE jobs SET {assignments} WHERE id = ?",
                [*(_encode(k, v) for k, v in changes.items()), job_id],
            )
            if cur.rowcount == 0:
                raise KeyError(job_id)
            return self.get(job_id)

    # -- reads ----------------------------------------------------------------------------
    @staticmethod
    def _row_to_job(row: sqlite3.Row) -> Job:
        return Job(**{c: _decode(c, row[c]) for c in _COLUMNS})

    def get(self, job_id: str) -> Job:
        """The row ``job_id``; raises ``KeyError`` when absent."""
        with self._lock:
            row = self._conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise KeyError(job_id)
        return self._row_to_job(row)

    def list(
        self,
        *,
        model_id: str | None = None,
        owner: str | None = None,
        statuses: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[Job]:
        """Rows newest first, optionally filtered by model, owner and statuses."""
        where, args = [], []
        if model_id:
            where.append("model_id = ?")
            args.append(model_id)
        if owner:
            where.append("owner = ?")
            args.append(owner)
        if statuses:
            where.append(f"status IN ({', '.join('?' * len(statuses))})")
            args.extend(statuses)
        sql = "SELECT * FROM jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
        return [self._row_to_job(r) for r in rows]

    def count_active(self, *, model_id: str | None = None) -> int:
        """How many rows are in flight (submitting/queued/processing)."""
        sql = f"SELECT COUNT(*) FROM jobs WHERE status IN ({', '.join('?' * len(ACTIVE_STATUSES))})"
        args: list[Any] = list(ACTIVE_STATUSES)
        if model_id:
            sql += " AND model_id = ?"
            args.append(model_id)
        with self._lock:
            return int(self._conn.execute(sql, args).fetchone()[0])

    def due(self, now: float) -> builtins.list[Job]:
        """In-flight rows with a provider id whose next poll time has come (oldest first)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM jobs WHERE status IN ('queued', 'processing') "
                "AND remote_id IS NOT NULL AND next_poll_at <= ? ORDER BY next_poll_at",
                (now,),
            ).fetchall()
        return [self._row_to_job(r) for r in rows]

    def needing_download(self) -> builtins.list[Job]:
        """Succeeded rows whose results are not downloaded yet."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM jobs WHERE status = 'succeeded' AND "
                "(result_files IS NULL OR result_files = '{}') AND result_urls != '{}'"
            ).fetchall()
        return [self._row_to_job(r) for r in rows]

    # -- uploads cache --------------------------------------------------------------------
    def cached_upload(self, provider: str, target: str, sha256: str, now: datetime) -> str | None:
        """A still-valid URL/URI of a clip already uploaded to ``provider`` at ``target``."""
        with self._lock:
            row = self._conn.execute(
                "SELECT url, expires_at FROM uploads WHERE provider=? AND target=? AND sha256=?",
                (provider, target, sha256),
            ).fetchone()
        if row is None:
            return None
        if row["expires_at"] and datetime.fromisoformat(row["expires_at"]) <= now:
            return None
        return str(row["url"])

    def remember_upload(
        self, provider: str, target: str, sha256: str, url: str, expires_at: datetime | None
    ) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO uploads VALUES (?, ?, ?, ?, ?)",
                (provider, target, sha256, url, expires_at.isoformat() if expires_at else None),
            )


def job_to_dict(job: Job) -> dict[str, Any]:
    """A JSON-safe dict of ``job`` (ISO timestamps)."""
    out = asdict(job)
    for k in _TIME_FIELDS:
        if out[k] is not None:
            out[k] = out[k].isoformat()
    return out


def with_changes(job: Job, changes: Mapping[str, Any]) -> Job:
    """``job`` with ``changes`` applied (pure; the store is not touched)."""
    return replace(job, **dict(changes))
