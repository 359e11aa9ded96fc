"""Generations as durable records: the :class:`Job` dataclass and the :class:`JobStore`.

A job row is written *before* its paid request is sent (status ``submitting``) and updated
the moment the provider answers with an id, so a reload or a restart never loses one.
Session state in the UI holds only selections; everything durable lives here.

The store runs on SQLite (one file in the data dir, the default) or on PostgreSQL (what
several app replicas share), through SQLAlchemy Core. The schema is versioned: the
``schema_version`` table lists the migrations applied, and every open applies the missing
ones in order (see :data:`_MIGRATIONS`). Replicas that share a store take per-job *leases*
(:meth:`JobStore.claim_due`) so no generation is polled twice at once.

Statuses (ours, provider statuses map onto them in :mod:`studio.tracker`):
``submitting`` → ``queued`` → ``processing`` → ``succeeded`` | ``failed`` | ``cancelled``;
``waiting`` when a generation waits client-side for a provider slot; ``expired`` when the
provider no longer keeps the outcome; ``unknown`` when a paid request may or may not have
reached the provider (never resent silently). Timestamps are timezone-aware UTC datetimes
(ISO 8601 text on disk, so one format serves both backends); JSON fields are JSON text; money
is a decimal string on disk.
"""

from __future__ import annotations

import builtins
import json
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Float,
    Integer,
    MetaData,
    Table,
    Text,
    case,
    cast,
    create_engine,
    event,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.sql import Select

ACTIVE_STATUSES = ("submitting", "queued", "processing", "waiting")
TERMINAL_STATUSES = ("succeeded", "failed", "cancelled", "expired")
ALL_STATUSES = (*ACTIVE_STATUSES, *TERMINAL_STATUSES, "unknown")
POLLED_STATUSES = ("queued", "processing")  # in flight at the provider: what due() returns
# Columns JobStore.search() can sort by.
SEARCH_SORTS = ("created_at", "updated_at", "submitted_at", "started_at", "completed_at",
                "model_id", "provider", "status", "owner_name", "remote_id")


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

    ``parent_id`` is the failed job a retry was made from; ``attempts`` is a counter the
    service and tracker own (the store only keeps it). ``lease_owner`` / ``lease_until``
    (Unix seconds) say which worker holds the job (see :meth:`JobStore.claim_due`).
    ``poll_failures`` counts status answers in a row that could not be used (see
    :mod:`studio.tracker`); the tracker slows down on a generation past a few.
    ``target_namespace`` is the Oxen user or organisation the request billed (and stored the
    output in), ``None`` for the key's own user (oxen.md §3.1).
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
    # schema v2
    parent_id: str | None = None
    attempts: int = 0
    lease_owner: str | None = None
    lease_until: float | None = None
    # work-queue migration (studio.tracking): status answers in a row the tracker could not
    # read (too large, not JSON, unknown status, refused key); 0 after a good one
    poll_failures: int = 0
    target_namespace: str | None = None  # Oxen namespace billed for it (None: the key's user)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def quote_usd(self) -> str | None:
        return (self.quote or {}).get("amount_usd")

    @property
    def quote_amount(self) -> Decimal | None:
        """The quote in USD, or ``None`` when there is none (or it is not a finite number)."""
        return usd_amount(self.quote_usd)

    @property
    def charge_amount(self) -> Decimal | None:
        """The charge in USD, or ``None`` while it is not known."""
        return usd_amount(self.charge_usd)


def usd_amount(value: Any) -> Decimal | None:
    """A stored amount (decimal string) as ``Decimal``; ``None`` for empty, unparseable or
    non-finite values, which count as unknown rather than as $0."""
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


_JSON_FIELDS = {"params", "source", "clip", "quote", "result_urls", "result_files"}
_DICT_FIELDS = {"result_urls", "result_files"}  # never None on a Job: {} when empty
_TIME_FIELDS = {"created_at", "updated_at", "submitted_at", "started_at", "completed_at"}
_COLUMNS = [f.name for f in fields(Job)]
_COLUMN_TYPES: dict[str, Any] = {
    "poll_count": Integer, "next_poll_at": Float, "attempts": Integer, "lease_until": Float,
    "poll_failures": Integer,
}

# What queries use. The tables themselves are made by the migrations below (frozen DDL, so
# an old database is upgraded step by step); a test checks both agree.
_metadata = MetaData()
jobs_table = Table(
    "jobs", _metadata,
    *(Column(name, _COLUMN_TYPES.get(name, Text), primary_key=name == "id") for name in _COLUMNS),
)
uploads_table = Table(
    "uploads", _metadata,
    Column("provider", Text, primary_key=True),
    Column("target", Text, primary_key=True),
    Column("sha256", Text, primary_key=True),
    Column("url", Text),
    Column("expires_at", Text),  # ISO 8601 UTC, NULL = never
)
schema_version_table = Table(
    "schema_version", _metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", Text, nullable=False),
)


# -- migrations ---------------------------------------------------------------------------
# Each entry brings the schema from version i to i + 1 inside the caller's transaction (both
# SQLite and PostgreSQL have transactional DDL). Never edit an applied migration: add one.

_V1_COLUMNS = (  # the Job fields of the original SQLite-only store
    "model_id", "provider", "owner", "params", "source", "id", "status", "remote_id", "mode",
    "target", "owner_name", "clip", "quote", "client_token", "batch_id", "created_at",
    "updated_at", "submitted_at", "started_at", "completed_at", "error", "result_urls",
    "result_files", "preview_path", "charge_usd", "poll_count", "next_poll_at",
)


def _double(conn: Connection) -> str:
    return "DOUBLE PRECISION" if conn.dialect.name == "postgresql" else "REAL"


def _migrate_v1(conn: Connection) -> None:
    """The original schema (SQLite files from before the ``schema_version`` table carry it
    as ``PRAGMA user_version=1``)."""
    types = {"next_poll_at": _double(conn), "poll_count": "INTEGER"}
    columns = ", ".join(
        f"{c} {types.get(c, 'TEXT')}" + (" PRIMARY KEY" if c == "id" else "") for c in _V1_COLUMNS
    )
    for ddl in (
        f"CREATE TABLE IF NOT EXISTS jobs ({columns})",
        "CREATE INDEX IF NOT EXISTS jobs_created ON jobs(created_at)",
        "CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status)",
        "CREATE INDEX IF NOT EXISTS jobs_model ON jobs(model_id, created_at)",
        "CREATE TABLE IF NOT EXISTS uploads (provider TEXT, target TEXT, sha256 TEXT, url TEXT, "
        "expires_at TEXT, PRIMARY KEY (provider, target, sha256))",
    ):
        conn.exec_driver_sql(ddl)


def _migrate_v2(conn: Connection) -> None:
    """Retries (``parent_id``, ``attempts``) and per-job leases for shared stores."""
    for ddl in (
        "ALTER TABLE jobs ADD COLUMN parent_id TEXT",
        "ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE jobs ADD COLUMN lease_owner TEXT",
        f"ALTER TABLE jobs ADD COLUMN lease_until {_double(conn)}",
        # due()/claim_due() and count_active() filter on status; jobs_due's prefix covers
        # what jobs_status did.
        "CREATE INDEX IF NOT EXISTS jobs_due ON jobs(status, next_poll_at)",
        "DROP INDEX IF EXISTS jobs_status",
        "CREATE INDEX IF NOT EXISTS jobs_owner ON jobs(owner, created_at)",
        "CREATE INDEX IF NOT EXISTS jobs_parent ON jobs(parent_id)",
    ):
        conn.exec_driver_sql(ddl)


def _migrate_work_queue(conn: Connection) -> None:
    """The media work queue (:mod:`studio.tracking.work`): result downloads, previews and
    analyses claimed with leases like polls are, by the app's pool or ``studio worker``
    processes; ``jobs.poll_failures`` (unusable status answers in a row) and
    ``jobs.target_namespace`` (the Oxen namespace billed)."""
    double = _double(conn)
    for ddl in (
        "CREATE TABLE IF NOT EXISTS work ("
        "id TEXT PRIMARY KEY, job_id TEXT NOT NULL, kind TEXT NOT NULL, "
        "status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, "
        f"next_at {double} NOT NULL DEFAULT 0, host TEXT, lease_owner TEXT, "
        f"lease_until {double}, progress {double}, detail TEXT, failure TEXT, error TEXT, "
        "done_by TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, "
        "UNIQUE (job_id, kind))",
        "CREATE INDEX IF NOT EXISTS work_due ON work(status, next_at)",
        "ALTER TABLE jobs ADD COLUMN poll_failures INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE jobs ADD COLUMN target_namespace TEXT",
    ):
        conn.exec_driver_sql(ddl)


_MIGRATIONS: tuple[Callable[[Connection], None], ...] = (
    _migrate_v1, _migrate_v2, _migrate_work_queue)
SCHEMA_VERSION = len(_MIGRATIONS)
# Serialises migrations of replicas starting together on one PostgreSQL database.
_PG_MIGRATION_LOCK = 0x5654_4A4F_4253  # "VTJOBS"


def _apply_migrations(conn: Connection, upto: int = SCHEMA_VERSION) -> int:
    """Bring the schema to version ``upto`` (within ``conn``'s transaction); returns the
    version found before. Raises ``RuntimeError`` when the database is newer than this code."""
    sqlite = conn.dialect.name == "sqlite"
    if not sqlite:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
    conn.exec_driver_sql(
        "CREATE TABLE IF NOT EXISTS schema_version "
        "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    sv = schema_version_table
    found = conn.execute(select(func.max(sv.c.version))).scalar() or 0
    if found == 0 and sqlite:
        # A file from before the schema_version table: its version is PRAGMA user_version.
        legacy = int(conn.exec_driver_sql("PRAGMA user_version").scalar() or 0)
        if legacy:
            adopted = _iso(utcnow())
            conn.execute(insert(sv), [{"version": v, "applied_at": adopted}
                                      for v in range(1, legacy + 1)])
            found = legacy
    if found > SCHEMA_VERSION:
        raise RuntimeError(
            f"The job store is at schema version {found}, newer than this app knows "
            f"({SCHEMA_VERSION}). Upgrade the app before opening it.")
    for version in range(found + 1, upto + 1):
        _MIGRATIONS[version - 1](conn)
        conn.execute(insert(sv).values(version=version, applied_at=_iso(utcnow())))
    if sqlite and upto > found:
        # Kept in step for tools that read it; older builds then skip their own v1 script
        # and keep working, since every v2 column is nullable or has a default.
        conn.exec_driver_sql(f"PRAGMA user_version={int(upto)}")
    return found


# -- encoding -----------------------------------------------------------------------------
def _iso(value: datetime) -> str:
    """Fixed-width ISO 8601 in UTC, so text order is time order."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: the job store keeps aware UTC times")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:  # not written by this store; UTC is all it ever wrote
        return parsed.replace(tzinfo=UTC)
    return parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)


def _encode(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _JSON_FIELDS:
        return json.dumps(value, sort_keys=True)
    if name in _TIME_FIELDS:
        return _iso(value)
    if isinstance(value, bool):
        return int(value)
    return value


_json_decode = json.JSONDecoder().decode  # json.loads minus its per-call checks: list() is hot


def _decoder(name: str) -> Callable[[Any], Any]:
    if name in _DICT_FIELDS:
        return lambda v: _json_decode(v) if v and v != "{}" else {}
    if name in _JSON_FIELDS:
        return lambda v: _json_decode(v) if v else None
    if name in _TIME_FIELDS:
        return lambda v: _parse_time(v) if v else None
    if name in ("attempts", "poll_failures"):
        return lambda v: v or 0
    return lambda v: v


_DECODERS = [(name, _decoder(name)) for name in _COLUMNS]


def _row_to_job(row: Sequence[Any]) -> Job:
    # Rows always come from select(jobs_table) / RETURNING *jobs_table.c: columns in order.
    return Job(**{name: decode(value) for (name, decode), value in zip(_DECODERS, row,
                                                                        strict=True)})


def _job_values(job: Job) -> dict[str, Any]:
    return {c: _encode(c, getattr(job, c)) for c in _COLUMNS}


# ``"amount_usd": "2.0916"`` inside a stored quote: read without decoding the whole JSON.
_QUOTE_AMOUNT = re.compile(r'"amount_usd":\s*"([0-9.]+)"')


def _like_pattern(needle: str) -> str:
    """``%needle%`` with LIKE's wildcards taken literally (escape character ``!``)."""
    escaped = needle.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"


def _lower_text(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


# -- connections --------------------------------------------------------------------------
_PG_SCHEMES = ("postgresql://", "postgresql+psycopg://", "postgres://")


def _resolve(path_or_url: Path | str) -> tuple[URL, Path | None]:
    """The SQLAlchemy URL for a file path or a database URL (and the SQLite file, if any)."""
    raw = str(path_or_url)
    if isinstance(path_or_url, str) and raw.startswith(_PG_SCHEMES):
        url = make_url(raw)
        return url.set(drivername="postgresql+psycopg"), None
    if isinstance(path_or_url, str) and raw.startswith("sqlite:///"):
        raw = raw.removeprefix("sqlite:///")
    elif isinstance(path_or_url, str) and "://" in raw:
        scheme = raw.split("://", 1)[0]
        raise ValueError(f"unsupported job store URL scheme {scheme!r}: use a file path "
                         "(SQLite) or postgresql://…")
    path = Path(raw).expanduser()
    return URL.create("sqlite+pysqlite", database=str(path)), path


def _sqlite_engine(url: URL) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # We issue BEGIN ourselves (below), so that writers can take the write lock up
        # front: the sqlite3 module's implicit transactions can't do BEGIN IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()
        # SQLite's lower() folds ASCII only; search() wants "É" to find "é".
        dbapi_conn.create_function("studio_lower", 1, _lower_text, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock at BEGIN (waiting up to busy_timeout), so a write
        # transaction never fails half-way on a lock upgrade, and claim_due's read-then-
        # update is atomic against every other writer, in this process or another.
        write = conn.get_execution_options().get("studio_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _filtered(stmt: Select[Any], *, owner: str | None, model_id: str | None,
              statuses: Sequence[str] | None) -> Select[Any]:
    """``stmt`` narrowed to an owner, a model and a set of statuses (each optional)."""
    t = jobs_table
    if owner:
        stmt = stmt.where(t.c.owner == owner)
    if model_id:
        stmt = stmt.where(t.c.model_id == model_id)
    if statuses:
        stmt = stmt.where(t.c.status.in_(list(statuses)))
    return stmt


class JobStore:
    """Durable store of :class:`Job` rows on SQLite or PostgreSQL.

    ``path_or_url``: a file path (``str``/``Path``; its folder is created) opens SQLite in WAL
    mode with a 10 s busy timeout; a string starting with ``postgresql://`` or
    ``postgresql+psycopg://`` opens PostgreSQL through psycopg 3 (put ``?options=-csearch_path%3D
    <schema>`` on the URL to use another schema). Missing migrations are applied on open.

    Safe to share across threads; several processes or replicas may open the same database.
    Raises ``ValueError`` for an unsupported URL, ``RuntimeError`` for a database newer than
    this code, and ``sqlalchemy.exc.SQLAlchemyError`` for an unreachable or broken database.
    """

    def __init__(self, path_or_url: Path | str):
        self.url, self.path = _resolve(path_or_url)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._engine = _sqlite_engine(self.url)
        else:
            self._engine = create_engine(self.url, pool_pre_ping=True, pool_size=5,
                                         max_overflow=5)
        self.backend: str = self._engine.dialect.name  # "sqlite" or "postgresql"
        self._spend_cache: tuple[tuple[Any, ...], tuple[Job, ...]] | None = None
        try:
            with self._write() as conn:
                _apply_migrations(conn)
        except BaseException:
            self._engine.dispose()
            raise

    @classmethod
    def from_settings(cls, data_dir: Path | str, database_url: str | None = None) -> JobStore:
        """The store the app uses: ``database_url`` (``DATABASE_URL``) when set, else SQLite
        at ``<data_dir>/jobs.sqlite3``."""
        if database_url:
            return cls(database_url)
        return cls(Path(data_dir) / "jobs.sqlite3")

    def __repr__(self) -> str:
        return f"JobStore({self.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        self._engine.dispose()

    def transaction(self) -> Any:
        """A write transaction on the store's database (``with store.transaction() as
        conn:``; ``BEGIN IMMEDIATE`` on SQLite), for modules that keep their own tables in
        the same database (e.g. :mod:`studio.tracking.work`)."""
        return self._write()

    def connection(self) -> Any:
        """A read connection on the store's database (``with store.connection() as conn:``)."""
        return self._read()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite), committed on success."""
        with self._engine.connect() as conn:
            conn.execution_options(studio_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            yield conn

    def _lower_sql(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        if self.backend == "sqlite":
            return func.studio_lower(expr)
        return func.lower(expr)

    # -- writes ---------------------------------------------------------------------------
    def insert(self, job: Job) -> Job:
        """Write a new row (``job.id`` must be new: ``sqlalchemy.exc.IntegrityError``
        otherwise); returns it."""
        with self._write() as conn:
            conn.execute(insert(jobs_table), [_job_values(job)])
        return job

    def insert_many(self, jobs: Iterable[Job]) -> builtins.list[Job]:
        """Insert several rows in one transaction (used for one request's generations):
        all or none."""
        jobs = builtins.list(jobs)
        if jobs:
            with self._write() as conn:
                conn.execute(insert(jobs_table), [_job_values(j) for j in jobs])
        return jobs

    def update(self, job_id: str, **changes: Any) -> Job:
        """Set the given fields (and ``updated_at``) on row ``job_id``; returns the new row.

        Raises ``KeyError`` for an unknown id or field.
        """
        unknown = set(changes) - set(_COLUMNS)
        if unknown:
            raise KeyError(f"unknown job fields: {sorted(unknown)}")
        changes.setdefault("updated_at", utcnow())
        t = jobs_table
        stmt = (update(t).where(t.c.id == job_id)
                .values({k: _encode(k, v) for k, v in changes.items()}).returning(*t.c))
        with self._write() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            raise KeyError(job_id)
        return _row_to_job(row)

    # -- leases ---------------------------------------------------------------------------
    def claim_due(self, worker_id: str, now: float, lease_s: float = 60,
                  limit: int = 50) -> builtins.list[Job]:
        """Lease up to ``limit`` of the rows :meth:`due` would return for ``worker_id``.

        A row is claimable when its lease is free (``lease_until`` NULL) or expired
        (``lease_until <= now``); claiming sets ``lease_owner = worker_id`` and
        ``lease_until = now + lease_s`` and does not touch ``updated_at``. Concurrent
        claimers — threads, store instances, replicas — never get the same row while its
        lease runs, including a second claim by the same ``worker_id``. ``now`` is Unix
        seconds from the caller's clock, so replicas' clocks must agree to well within
        ``lease_s``. Hand a row back with :meth:`release` (or ``update(..., lease_owner=None,
        lease_until=None)`` with the poll's result). Returns the claimed rows, oldest
        ``next_poll_at`` first.
        """
        if lease_s <= 0:
            raise ValueError("lease_s must be positive")
        if limit <= 0:
            return []
        t = jobs_table
        free = or_(t.c.lease_until.is_(None), t.c.lease_until <= now)
        # PostgreSQL: the CTE locks the chosen rows and skips rows another claimer has
        # locked; a row whose lease was just taken is re-checked against `free` on its
        # newest version (READ COMMITTED). SQLite renders no FOR UPDATE; BEGIN IMMEDIATE
        # makes the statement the only writer instead.
        picked = (
            select(t.c.id)
            .where(t.c.status.in_(POLLED_STATUSES), t.c.remote_id.is_not(None),
                   t.c.next_poll_at <= now, free)
            .order_by(t.c.next_poll_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("picked")
        )
        stmt = (update(t).where(t.c.id.in_(select(picked.c.id)), free)
                .values(lease_owner=worker_id, lease_until=now + lease_s).returning(*t.c))
        with self._write() as conn:
            rows = conn.execute(stmt).all()
        return sorted((_row_to_job(r) for r in rows), key=lambda j: (j.next_poll_at, j.id))

    def claim(self, job_id: str, worker_id: str, now: float, lease_s: float = 60) -> Job | None:
        """Lease the one row ``job_id`` (any status) if its lease is free or expired; returns
        the leased row, or ``None`` when someone else holds it. Raises ``KeyError`` for an
        unknown id. For work that must happen once across replicas, e.g. sending a
        ``waiting`` generation."""
        if lease_s <= 0:
            raise ValueError("lease_s must be positive")
        t = jobs_table
        stmt = (update(t)
                .where(t.c.id == job_id, or_(t.c.lease_until.is_(None), t.c.lease_until <= now))
                .values(lease_owner=worker_id, lease_until=now + lease_s).returning(*t.c))
        with self._write() as conn:
            row = conn.execute(stmt).first()
            if row is None and conn.execute(
                    select(t.c.id).where(t.c.id == job_id)).first() is None:
                raise KeyError(job_id)
        return _row_to_job(row) if row is not None else None

    def release(self, job_id: str, worker_id: str) -> bool:
        """Clear ``worker_id``'s lease on ``job_id``; ``False`` when it does not hold it
        (never held, released already, or expired and taken by another worker)."""
        t = jobs_table
        stmt = (update(t).where(t.c.id == job_id, t.c.lease_owner == worker_id)
                .values(lease_owner=None, lease_until=None))
        with self._write() as conn:
            return conn.execute(stmt).rowcount > 0

    # -- reads ----------------------------------------------------------------------------
    def get(self, job_id: str) -> Job:
        """The row ``job_id``; raises ``KeyError`` when absent."""
        with self._read() as conn:
            row = conn.execute(select(jobs_table).where(jobs_table.c.id == job_id)).first()
        if row is None:
            raise KeyError(job_id)
        return _row_to_job(row)

    def list(
        self,
        *,
        model_id: str | None = None,
        owner: str | None = None,
        statuses: Sequence[str] | None = None,
        limit: int | None = None,
        since: datetime | None = None,
    ) -> builtins.list[Job]:
        """Rows newest first, optionally filtered by model, owner, statuses and
        ``created_at >= since`` (an aware datetime; uses the created_at index)."""
        t = jobs_table
        stmt = _filtered(select(t), owner=owner, model_id=model_id, statuses=statuses)
        if since is not None:
            stmt = stmt.where(t.c.created_at >= _iso(since))
        stmt = stmt.order_by(t.c.created_at.desc())
        if limit:
            stmt = stmt.limit(int(limit))
        with self._read() as conn:
            rows = conn.execute(stmt).all()
        return [_row_to_job(r) for r in rows]

    # The columns a budget reads (see studio.budget.job_spend): a fraction of a full row.
    _SPEND_COLUMNS = ("id", "model_id", "provider", "owner", "status", "target", "charge_usd",
                      "quote", "created_at")

    def list_for_spend(self, since: datetime) -> builtins.list[Job]:
        """Rows created at or after ``since`` (aware), holding only what spend needs —
        ``id``, ``model_id``, ``provider``, ``owner``, ``status``, ``target``,
        ``charge_usd``, ``quote`` (just its ``amount_usd``) and ``created_at``; every other
        field is left at its default. For the budget guard and the banner on every page,
        which must not decode a thousand full rows per rerun."""
        t = jobs_table
        since_iso = _iso(since)
        cols = [t.c[name] for name in self._SPEND_COLUMNS]
        stmt = select(*cols).where(t.c.created_at >= since_iso)
        # Reuse the last answer while nothing spend depends on has changed: the row count, how
        # many have a charge, how many succeeded, how many ended free, and the newest
        # updated_at (every write sets it). The counts alone catch every transition that
        # moves spend even when replicas' clocks disagree. One index-range aggregate instead
        # of a thousand rows on every page rerun.
        def count_of(*statuses: str) -> Any:
            return func.sum(case((t.c.status.in_(statuses), 1), else_=0))

        stamp_stmt = select(
            func.count(), func.count(t.c.charge_usd), count_of("succeeded"),
            count_of("failed", "cancelled", "expired"), func.max(t.c.updated_at),
        ).where(t.c.created_at >= since_iso)
        with self._read() as conn:
            stamp = (since_iso, *conn.execute(stamp_stmt).one())
            cached = self._spend_cache
            if cached is not None and cached[0] == stamp:
                return builtins.list(cached[1])
            rows = conn.execute(stmt).all()
        out = []
        for jid, model_id, provider, owner, status, target, charge, quote, created in rows:
            amount = _QUOTE_AMOUNT.search(quote) if quote else None
            out.append(Job(model_id=model_id, provider=provider, owner=owner, params={},
                           source={}, id=jid, status=status, target=target, charge_usd=charge,
                           quote={"amount_usd": amount.group(1)} if amount else None,
                           created_at=_parse_time(created), client_token=""))
        self._spend_cache = (stamp, tuple(out))
        return out

    def search(
        self,
        owner: str | None = None,
        text: str | None = None,
        statuses: Sequence[str] | None = None,
        model_id: str | None = None,
        sort: str = "created_at",
        descending: bool = True,
        limit: int | None = None,
    ) -> builtins.list[Job]:
        """Rows for the Generations page.

        ``text``: every whitespace-separated word must appear, case-insensitively, in the
        source label, model id, remote id, error, owner name or job id (``%`` and ``_`` are
        literal), the rule :mod:`components.filters` applies in Python. ``sort`` is one of
        :data:`SEARCH_SORTS` (``ValueError`` otherwise); empty values sort last either way,
        ties newest first. ``owner``/``statuses``/``model_id`` filter like :meth:`list`.
        """
        if sort not in SEARCH_SORTS:
            raise ValueError(f"cannot sort by {sort!r}; one of {', '.join(SEARCH_SORTS)}")
        t = jobs_table
        stmt = _filtered(select(t), owner=owner, model_id=model_id, statuses=statuses)
        words = (text or "").lower().split()
        if words:
            label: ColumnElement[Any]
            if self.backend == "postgresql":
                label = cast(t.c.source, pg_dialect.JSONB)["label"].astext
            else:
                label = func.json_extract(t.c.source, "$.label")
            haystack = [self._lower_sql(col) for col in
                        (label, t.c.model_id, t.c.remote_id, t.c.error, t.c.owner_name, t.c.id)]
            for word in words:
                pattern = _like_pattern(word)
                stmt = stmt.where(or_(*(col.like(pattern, escape="!") for col in haystack)))
        column = t.c[sort]
        order = [(column.desc() if descending else column.asc()).nulls_last()]
        if sort != "created_at":
            order.append(t.c.created_at.desc())
        stmt = stmt.order_by(*order, t.c.id)
        if limit:
            stmt = stmt.limit(int(limit))
        with self._read() as conn:
            rows = conn.execute(stmt).all()
        return [_row_to_job(r) for r in rows]

    def count_active(self, *, model_id: str | None = None) -> int:
        """How many rows are in flight (submitting/queued/processing/waiting)."""
        t = jobs_table
        stmt = select(func.count()).select_from(t).where(t.c.status.in_(ACTIVE_STATUSES))
        if model_id:
            stmt = stmt.where(t.c.model_id == model_id)
        with self._read() as conn:
            return int(conn.execute(stmt).scalar_one())

    def due(self, now: float) -> builtins.list[Job]:
        """In-flight rows with a provider id whose next poll time has come (oldest first).
        Read-only: leases are ignored (see :meth:`claim_due`)."""
        t = jobs_table
        stmt = (select(t).where(t.c.status.in_(POLLED_STATUSES), t.c.remote_id.is_not(None),
                                t.c.next_poll_at <= now)
                .order_by(t.c.next_poll_at))
        with self._read() as conn:
            rows = conn.execute(stmt).all()
        return [_row_to_job(r) for r in rows]

    def needing_download(self) -> builtins.list[Job]:
        """Succeeded rows whose results are not downloaded yet."""
        t = jobs_table
        stmt = select(t).where(
            t.c.status == "succeeded",
            or_(t.c.result_files.is_(None), t.c.result_files == "{}"),
            t.c.result_urls != "{}",
        )
        with self._read() as conn:
            rows = conn.execute(stmt).all()
        return [_row_to_job(r) for r in rows]

    # -- uploads cache --------------------------------------------------------------------
    def cached_upload(self, provider: str, target: str, sha256: str, now: datetime) -> str | None:
        """A still-valid URL/URI of a clip already uploaded to ``provider`` at ``target``."""
        u = uploads_table
        stmt = select(u.c.url, u.c.expires_at).where(
            u.c.provider == provider, u.c.target == target, u.c.sha256 == sha256)
        with self._read() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            return None
        if row.expires_at and _parse_time(row.expires_at) <= now:
            return None
        return str(row.url)

    def remember_upload(
        self, provider: str, target: str, sha256: str, url: str, expires_at: datetime | None
    ) -> None:
        """Record (or replace) the upload of ``sha256`` to ``provider`` at ``target``;
        ``expires_at`` ``None`` means it never expires."""
        u = uploads_table
        values = {"provider": provider, "target": target, "sha256": sha256, "url": url,
                  "expires_at": _iso(expires_at) if expires_at else None}
        dialect = pg_dialect if self.backend == "postgresql" else sqlite_dialect
        stmt = dialect.insert(u).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[u.c.provider, u.c.target, u.c.sha256],
            set_={"url": stmt.excluded.url, "expires_at": stmt.excluded.expires_at},
        )
        with self._write() as conn:
            conn.execute(stmt)


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

