"""Generations as durable records: the :class:`Job` dataclass and the :class:`JobStore`.

A job row is written *before* its paid request is sent (status ``submitting``) and updated
the moment the provider answers with an id, so a reload or a restart never loses one.
Session state in the UI holds only selections; everything durable lives here.

The store runs on SQLite (one file in the data dir, the default) or on PostgreSQL (what
several app replicas share), through SQLAlchemy Core, with the typed schema of
:mod:`studio.store.schema` (money ``Decimal``, aware UTC datetimes, JSON, statuses as
:class:`~studio.store.types.Status`). Every open applies the missing migrations in order.
Replicas that share a store take per-job *leases* (:meth:`JobStore.claim_due`) so no
generation is polled twice at once, and check a budget and store the rows of a submit in
one exclusive transaction (:meth:`JobStore.exclusive`) so two replicas never together
cross a cap. The same database holds the team's state (:mod:`studio.store.team`:
budget caps, rate overrides and their audit, presets, plans), reached through the store's
``budgets``, ``overrides``, ``presets`` and ``plans`` attributes.
"""

from __future__ import annotations

import builtins
import functools
import json
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Text,
    and_,
    bindparam,
    cast,
    create_engine,
    event,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.types import TypeDecorator

from studio.store.schema import (
    PG_MIGRATION_LOCK,
    SCHEMA_VERSION,
    apply_migrations,
    jobs_table,
    uploads_table,
)
from studio.store.types import (
    ACTIVE_STATUSES,
    ALL_STATUSES,
    POLLED_STATUSES,
    SPEND_FREE,
    SPEND_IN_FLIGHT,
    TERMINAL_STATUSES,
    ChargeSource,
    Money,
    Status,
    UtcDateTime,
    usd_amount,
)

# Columns JobStore.search() can sort by; "cost" is the charge when known, else the quote.
SEARCH_SORTS = ("created_at", "updated_at", "submitted_at", "started_at", "completed_at",
                "model_id", "provider", "status", "owner_name", "remote_id", "cost")
# Serialises budget checks with the insert of the rows they allow, across replicas.
PG_BUDGET_LOCK = 0x5654_4255_4447  # "VTBUDG"


def utcnow() -> datetime:
    return datetime.now(UTC)


_STATUS_BY_TEXT: dict[Any, Status] = {s.value: s for s in Status}


@dataclass(frozen=True)
class Job:
    """One generation as the app knows it.

    ``source`` = ``{"kind": "sample"|"upload"|"url", "label", "path"?, "url"?, "sha256"?}``;
    ``clip`` = the probed :class:`studio.media.ClipInfo` as a dict; ``quote`` =
    :meth:`studio.pricing.Quote.to_json` (its ``amount_usd`` is also stored as a ``Money``
    column, for spend and cost order in SQL); ``result_urls`` / ``result_files`` map an
    artifact label (``"video"``, ``"exr_frames"``) to the provider URL / the local
    downloaded path. ``next_poll_at`` is a Unix time in seconds.

    ``status`` is a :class:`Status` (text is accepted and converted; an unknown status
    raises ``ValueError``). ``charge_usd`` is the charge in USD (``Decimal``; decimal text
    is accepted and converted; ``None`` while unknown) and ``charge_source`` says where it
    came from (:class:`ChargeSource`).

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
    status: Status = Status.SUBMITTING
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
    charge_usd: Decimal | None = None
    poll_count: int = 0
    next_poll_at: float = 0.0
    parent_id: str | None = None
    attempts: int = 0
    lease_owner: str | None = None
    lease_until: float | None = None
    charge_source: ChargeSource | None = None
    # migration v5 (studio.tracking): status answers in a row the tracker could not read
    # (too large, not JSON, unknown status, refused key); 0 after a good one
    poll_failures: int = 0
    target_namespace: str | None = None  # Oxen namespace billed for it (None: the key's user)

    def __post_init__(self) -> None:
        if self.result_urls is None:  # stored NULL reads as "no artifacts"
            object.__setattr__(self, "result_urls", {})
        if self.result_files is None:
            object.__setattr__(self, "result_files", {})
        if self.attempts is None:
            object.__setattr__(self, "attempts", 0)
        if self.poll_failures is None:
            object.__setattr__(self, "poll_failures", 0)
        if type(self.status) is not Status:
            object.__setattr__(self, "status", _STATUS_BY_TEXT.get(self.status)
                               or Status(self.status))
        if self.charge_usd is not None and type(self.charge_usd) is not Decimal:
            object.__setattr__(self, "charge_usd", usd_amount(self.charge_usd))
        if self.charge_source is not None and type(self.charge_source) is not ChargeSource:
            object.__setattr__(self, "charge_source", ChargeSource(self.charge_source))

    @property
    def display_id(self) -> str:
        """The one id people see for this generation (tables, ZIP folders, lineage): the
        provider's generation id (``remote_id``) where one exists, else ours (``id``, e.g.
        a sync call, which gets none, or a request not sent yet). The other id is shown only
        in a generation's details."""
        return self.remote_id or self.id

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def quote_usd(self) -> Decimal | None:
        """The quote of this generation in USD (``None`` when there is none)."""
        return usd_amount((self.quote or {}).get("amount_usd"))

    @property
    def quote_amount(self) -> Decimal | None:
        """The quote in USD, or ``None`` when there is none (or it is not a finite number)."""
        return self.quote_usd

    @property
    def charge_amount(self) -> Decimal | None:
        """The charge in USD, or ``None`` while it is not known."""
        return self.charge_usd


_FIELDS = tuple(f.name for f in fields(Job))
_FIELD_SET = frozenset(_FIELDS)
_JSON_FIELDS = frozenset(("params", "source", "clip", "quote", "result_urls", "result_files"))
_json_decode = json.JSONDecoder().decode  # json.loads minus its per-call checks: list() is hot


class _JsonRead(TypeDecorator[Any]):
    """Reads a JSON column fast: SQLite hands back text (decoded here, ``"{}"`` without the
    decoder), psycopg an already-decoded value (passed through)."""

    impl = Text
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if type(value) is not str:
            return value
        return {} if value == "{}" else _json_decode(value)


# What reads select: the Job fields in Job order (so a row is Job(*row)), JSON columns read
# through _JsonRead.
_READ_COLUMNS = tuple(type_coerce(jobs_table.c[name], _JsonRead()).label(name)
                      if name in _JSON_FIELDS else jobs_table.c[name] for name in _FIELDS)


def _row_to_job(row: Sequence[Any]) -> Job:
    return Job(*row)


_TIME_FIELDS = ("created_at", "updated_at", "submitted_at", "started_at", "completed_at")


def _check_aware(values: Mapping[str, Any]) -> None:
    for name in _TIME_FIELDS:
        value = values.get(name)
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} for {name}: the store keeps aware "
                             "UTC times")


def _job_values(job: Job) -> dict[str, Any]:
    values = {name: getattr(job, name) for name in _FIELDS}
    _check_aware(values)
    values["status"] = str(job.status)
    values["charge_source"] = None if job.charge_source is None else str(job.charge_source)
    values["quote_usd"] = job.quote_usd
    return values


def _change_values(changes: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(changes)
    _check_aware(out)
    if "status" in out:
        out["status"] = str(Status(out["status"]))
    if out.get("charge_source") is not None:
        out["charge_source"] = str(ChargeSource(out["charge_source"]))
    if "quote" in out:
        out["quote_usd"] = usd_amount((out["quote"] or {}).get("amount_usd"))
    return out


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
        # transaction never fails half-way on a lock upgrade, and a read-then-write (a
        # claim, a budget check and its insert) is atomic against every other writer, in
        # this process or another.
        write = conn.get_execution_options().get("studio_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _pg_loads(data: bytes | bytearray | memoryview | str) -> Any:
    """JSONB from psycopg, decoded without ``json.loads``'s encoding detection on bytes (the
    largest cost of reading a page of rows)."""
    return _json_decode(data if isinstance(data, str) else bytes(data).decode("utf-8"))


def _pg_engine(url: URL) -> Engine:
    engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        from psycopg.types.json import set_json_loads

        set_json_loads(_pg_loads, dbapi_conn)
        # Timestamps come back in UTC already (timezone.utc): no conversion per value.
        # random_page_cost 1.1 (PostgreSQL's docs suggest lowering the spinning-disk default
        # of 4 for SSDs and cached data): the budget's spend aggregate then reads the
        # covering index (index-only scan, ~3 ms on 10,000 rows) instead of the table (~7 ms).
        with dbapi_conn.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
            cur.execute("SET random_page_cost = 1.1")
        dbapi_conn.commit()

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
        stmt = stmt.where(t.c.status.in_([str(s) for s in statuses]))
    return stmt


@dataclass(frozen=True)
class SpendSums:
    """Spend of a set of generations in USD, split as the budget rule splits it (see
    :meth:`JobStore.spend`)."""

    charged: Decimal = Decimal(0)
    pending: Decimal = Decimal(0)
    in_flight: Decimal = Decimal(0)


def _money_sum(expr: ColumnElement[Any], where: ColumnElement[Any] | None) -> ColumnElement[Any]:
    total = func.sum(expr) if where is None else func.sum(expr).filter(where)
    return type_coerce(func.coalesce(total, 0), Money())


def _spend_columns(where: ColumnElement[Any] | None = None) -> list[ColumnElement[Any]]:
    """charged, pending, in_flight sums (the rule of :mod:`studio.budget`) over the rows
    matching ``where`` (all rows when ``None``). ``SUM … FILTER (WHERE …)`` (SQLite ≥ 3.30,
    PostgreSQL) rather than ``CASE`` per row: a third less work per row."""
    t = jobs_table
    unpriced = t.c.charge_usd.is_(None)

    def both(cond: ColumnElement[Any]) -> ColumnElement[Any]:
        return cond if where is None else and_(where, cond)

    return [
        _money_sum(t.c.charge_usd, where),  # SUM skips NULL: every known charge
        _money_sum(t.c.quote_usd, both(and_(unpriced, t.c.status == str(Status.SUCCEEDED)))),
        _money_sum(t.c.quote_usd, both(and_(
            unpriced, t.c.status.in_([str(s) for s in SPEND_IN_FLIGHT])))),
    ]


@functools.cache
def _spend_statement(with_owner: bool, providers: tuple[str, ...] | None) -> Select[Any]:
    """The spend aggregate, built once per shape (building it costs more than running it on
    10,000 rows); values come as bind parameters ``start``, ``end``, ``owner``,
    ``provider_i``/``target_i``."""
    t = jobs_table
    where: list[ColumnElement[Any]] = [
        t.c.created_at >= bindparam("start", type_=UtcDateTime()),
        t.c.created_at < bindparam("end", type_=UtcDateTime())]
    if providers is not None:
        where.append(or_(*(and_(t.c.provider == bindparam(f"provider_{i}"),
                                t.c.target == bindparam(f"target_{i}"))
                           for i in range(len(providers)))) if providers else literal(False))
    columns = _spend_columns()
    if with_owner:
        columns += _spend_columns(t.c.owner == bindparam("owner"))
    return select(*columns).where(*where)


class Exclusive:
    """An exclusive write transaction on a :class:`JobStore` (see :meth:`JobStore.exclusive`):
    reads see every write committed before it began, writes commit together at its end."""

    def __init__(self, store: JobStore, conn: Connection):
        self.store = store
        self.conn = conn

    def spend(self, **kw: Any) -> tuple[SpendSums, SpendSums | None]:
        """:meth:`JobStore.spend` inside this transaction."""
        return self.store.spend(conn=self.conn, **kw)

    def insert_many(self, jobs: Iterable[Job]) -> builtins.list[Job]:
        """Insert rows inside this transaction."""
        jobs = builtins.list(jobs)
        if jobs:
            self.conn.execute(insert(jobs_table), [_job_values(j) for j in jobs])
        return jobs


class JobStore:
    """Durable store of :class:`Job` rows and the team's state, on SQLite or PostgreSQL.

    ``path_or_url``: a file path (``str``/``Path``; its folder is created) opens SQLite in WAL
    mode with a 10 s busy timeout; a string starting with ``postgresql://`` or
    ``postgresql+psycopg://`` opens PostgreSQL through psycopg 3 (put ``?options=-csearch_path%3D
    <schema>`` on the URL to use another schema). Missing migrations are applied on open.

    Team state lives in the same database: ``budgets`` (:class:`studio.store.team.BudgetTable`),
    ``overrides`` (:class:`studio.store.team.OverrideTable`), ``presets``
    (:class:`studio.store.team.PresetTable`) and ``plans`` (:class:`studio.store.team.PlanTable`).

    Safe to share across threads; several processes or replicas may open the same database.
    Raises ``ValueError`` for an unsupported URL, ``RuntimeError`` for a database newer than
    this code, and ``sqlalchemy.exc.SQLAlchemyError`` for an unreachable or broken database.
    """

    def __init__(self, path_or_url: Path | str):
        from studio.store import team

        self.url, self.path = _resolve(path_or_url)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._engine = _sqlite_engine(self.url)
        else:
            self._engine = _pg_engine(self.url)
        self.backend: str = self._engine.dialect.name  # "sqlite" or "postgresql"
        # Data-dir files that could not be imported, by kind ("budget", "overrides", ...):
        # set by studio.store.legacy.import_data_dir; the owners of that state refuse to
        # run on without it (see BudgetTable.load, OverrideTable.load).
        self.import_problems: dict[str, str] = {}
        try:
            with self._write() as conn:
                apply_migrations(conn)
        except BaseException:
            self._engine.dispose()
            raise
        self.budgets = team.BudgetTable(self)
        self.overrides = team.OverrideTable(self)
        self.presets = team.PresetTable(self)
        self.plans = team.PlanTable(self)

    @classmethod
    def from_settings(cls, data_dir: Path | str, database_url: str | None = None) -> JobStore:
        """The store the app uses: ``database_url`` (``DATABASE_URL``) when set, else SQLite
        at ``<data_dir>/jobs.sqlite3``. Team state still kept in files of ``data_dir`` by
        an older release (``budget.json``, ``rates/``, ``presets.json``, ``plans/``) is
        imported into the database once (:func:`studio.store.legacy.import_data_dir`)."""
        from studio.store.legacy import import_data_dir

        store = cls(database_url) if database_url else cls(Path(data_dir) / "jobs.sqlite3")
        import_data_dir(store, Path(data_dir))
        return store

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

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """One connection for several reads (e.g. the caps and the spend of a budget
        banner): one checkout, one round trip less per read after the first."""
        with self._read() as conn:
            yield conn

    @contextmanager
    def exclusive(self) -> Iterator[Exclusive]:
        """A write transaction that no other :meth:`exclusive` transaction on this database
        overlaps, in this process or any other: on SQLite ``BEGIN IMMEDIATE`` (the
        database's one write lock, waited for up to 10 s), on PostgreSQL a transaction-level
        advisory lock (``pg_advisory_xact_lock``). Used to check a budget and insert the
        rows it allows as one step. Commits when the block ends, rolls back on an
        exception."""
        with self._write() as conn:
            if self.backend == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                             {"key": PG_BUDGET_LOCK})
            yield Exclusive(self, conn)

    @contextmanager
    def migration_lock(self) -> Iterator[Connection]:
        """A write transaction holding the migration lock (for one-time data imports)."""
        with self._write() as conn:
            if self.backend == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                             {"key": PG_MIGRATION_LOCK})
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

        ``status`` may be text or a :class:`Status`, ``charge_usd`` decimal text or a
        ``Decimal``. Raises ``KeyError`` for an unknown id or field, ``ValueError`` for an
        unknown status or charge source.
        """
        unknown = set(changes) - _FIELD_SET
        if unknown:
            raise KeyError(f"unknown job fields: {sorted(unknown)}")
        changes.setdefault("updated_at", utcnow())
        t = jobs_table
        stmt = (update(t).where(t.c.id == job_id).values(_change_values(changes))
                .returning(*_READ_COLUMNS))
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
            .where(t.c.status.in_([str(s) for s in POLLED_STATUSES]),
                   t.c.remote_id.is_not(None), t.c.next_poll_at <= now, free)
            .order_by(t.c.next_poll_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("picked")
        )
        stmt = (update(t).where(t.c.id.in_(select(picked.c.id)), free)
                .values(lease_owner=worker_id, lease_until=now + lease_s).returning(*_READ_COLUMNS))
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
                .values(lease_owner=worker_id, lease_until=now + lease_s).returning(*_READ_COLUMNS))
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
            row = conn.execute(select(*_READ_COLUMNS).where(jobs_table.c.id == job_id)).first()
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
        stmt = _filtered(select(*_READ_COLUMNS), owner=owner, model_id=model_id,
                         statuses=statuses)
        if since is not None:
            stmt = stmt.where(t.c.created_at >= since)
        stmt = stmt.order_by(t.c.created_at.desc())
        if limit:
            stmt = stmt.limit(int(limit))
        with self._read() as conn:
            rows = conn.execute(stmt).all()
        return [_row_to_job(r) for r in rows]

    def list_for_spend(self, since: datetime) -> builtins.list[Job]:
        """Rows created at or after ``since`` (aware). Kept for callers of the first
        release; spend itself is :meth:`spend`, one SQL aggregate."""
        return self.list(since=since)

    def spend(
        self,
        *,
        start: datetime,
        end: datetime,
        owner: str | None = None,
        targets: Mapping[str, str] | None = None,
        conn: Connection | None = None,
    ) -> tuple[SpendSums, SpendSums | None]:
        """What the generations created in ``[start, end)`` (aware datetimes) count against
        a budget, in one SQL aggregate: ``(team, owner)`` sums, ``owner`` ``None`` when no
        ``owner`` is given.

        The rule (:mod:`studio.budget`): a known charge counts as ``charged``; without one,
        the quote counts as ``pending`` for a ``succeeded`` row and as ``in_flight`` for a
        row that may still cost money (``submitting``, ``waiting``, ``queued``,
        ``processing``, ``unknown``); ``failed``, ``cancelled`` and ``expired`` rows without
        a charge count nothing. ``targets`` maps a provider to the target whose rows count
        (``{"oxen": "live", "ltx": "sandbox"}``): sandbox runs never eat a live budget;
        ``None`` counts every row. ``conn`` runs the query inside a transaction (see
        :meth:`exclusive`).
        """
        providers = None if targets is None else tuple(sorted(targets))
        stmt = _spend_statement(owner is not None, providers)
        params: dict[str, Any] = {"start": start, "end": end, "owner": owner}
        for i, provider in enumerate(providers or ()):
            params[f"provider_{i}"] = provider
            params[f"target_{i}"] = (targets or {})[provider]
        if conn is None:
            with self._read() as own:
                row = own.execute(stmt, params).one()
        else:
            row = conn.execute(stmt, params).one()
        team = SpendSums(*(Decimal(v) for v in row[:3]))
        mine = SpendSums(*(Decimal(v) for v in row[3:6])) if owner is not None else None
        return team, mine

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
        :data:`SEARCH_SORTS` (``ValueError`` otherwise); ``"cost"`` is the charge when
        known, else the quote (USD). Empty values sort last either way, ties newest first.
        ``owner``/``statuses``/``model_id`` filter like :meth:`list`.
        """
        if sort not in SEARCH_SORTS:
            raise ValueError(f"cannot sort by {sort!r}; one of {', '.join(SEARCH_SORTS)}")
        t = jobs_table
        stmt = _filtered(select(*_READ_COLUMNS), owner=owner, model_id=model_id,
                         statuses=statuses)
        words = (text or "").lower().split()
        if words:
            label = t.c.source["label"].as_string()
            haystack = [self._lower_sql(col) for col in
                        (label, t.c.model_id, t.c.remote_id, t.c.error, t.c.owner_name, t.c.id)]
            for word in words:
                pattern = _like_pattern(word)
                stmt = stmt.where(or_(*(col.like(pattern, escape="!") for col in haystack)))
        column: ColumnElement[Any] = (func.coalesce(t.c.charge_usd, t.c.quote_usd)
                                      if sort == "cost" else t.c[sort])
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
        stmt = select(func.count()).select_from(t).where(
            t.c.status.in_([str(s) for s in ACTIVE_STATUSES]))
        if model_id:
            stmt = stmt.where(t.c.model_id == model_id)
        with self._read() as conn:
            return int(conn.execute(stmt).scalar_one())

    def due(self, now: float) -> builtins.list[Job]:
        """In-flight rows with a provider id whose next poll time has come (oldest first).
        Read-only: leases are ignored (see :meth:`claim_due`)."""
        t = jobs_table
        stmt = (select(*_READ_COLUMNS).where(t.c.status.in_([str(s) for s in POLLED_STATUSES]),
                                t.c.remote_id.is_not(None), t.c.next_poll_at <= now)
                .order_by(t.c.next_poll_at))
        with self._read() as conn:
            rows = conn.execute(stmt).all()
        return [_row_to_job(r) for r in rows]

    def needing_download(self) -> builtins.list[Job]:
        """Succeeded rows whose results are not downloaded yet."""
        t = jobs_table
        files, urls = cast(t.c.result_files, Text), cast(t.c.result_urls, Text)
        stmt = select(*_READ_COLUMNS).where(
            t.c.status == str(Status.SUCCEEDED),
            or_(t.c.result_files.is_(None), files == "{}"),
            t.c.result_urls.is_not(None), urls != "{}",
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
        if row.expires_at is not None and row.expires_at <= now:
            return None
        return str(row.url)

    def remember_upload(
        self, provider: str, target: str, sha256: str, url: str, expires_at: datetime | None
    ) -> None:
        """Record (or replace) the upload of ``sha256`` to ``provider`` at ``target``;
        ``expires_at`` ``None`` means it never expires."""
        u = uploads_table
        values = {"provider": provider, "target": target, "sha256": sha256, "url": url,
                  "expires_at": expires_at}
        dialect = pg_dialect if self.backend == "postgresql" else sqlite_dialect
        stmt = dialect.insert(u).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[u.c.provider, u.c.target, u.c.sha256],
            set_={"url": stmt.excluded.url, "expires_at": stmt.excluded.expires_at},
        )
        with self._write() as conn:
            conn.execute(stmt)


def job_to_dict(job: Job) -> dict[str, Any]:
    """A JSON-safe dict of ``job`` (ISO timestamps, amounts as decimal text, statuses as
    text)."""
    out = asdict(job)
    for k in ("created_at", "updated_at", "submitted_at", "started_at", "completed_at"):
        if out[k] is not None:
            out[k] = out[k].isoformat()
    out["status"] = str(job.status)
    out["charge_usd"] = None if job.charge_usd is None else format(job.charge_usd, "f")
    out["charge_source"] = None if job.charge_source is None else str(job.charge_source)
    return out


def with_changes(job: Job, changes: Mapping[str, Any]) -> Job:
    """``job`` with ``changes`` applied (pure; the store is not touched)."""
    return replace(job, **dict(changes))


__all__ = [
    "ACTIVE_STATUSES",
    "ALL_STATUSES",
    "POLLED_STATUSES",
    "SCHEMA_VERSION",
    "SEARCH_SORTS",
    "SPEND_FREE",
    "SPEND_IN_FLIGHT",
    "TERMINAL_STATUSES",
    "ChargeSource",
    "Exclusive",
    "Job",
    "JobStore",
    "SpendSums",
    "Status",
    "job_to_dict",
    "jobs_table",
    "usd_amount",
    "utcnow",
    "with_changes",
]
