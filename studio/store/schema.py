"""The database schema and its migrations: one database for everything a team shares.

Tables (what queries use; :data:`metadata`):

- ``jobs`` — one row per generation (:class:`studio.store.generations.Job`), typed:
  money ``Money``, times ``UtcDateTime``, JSON as JSON, ``status`` one of
  :class:`~studio.store.types.Status`, ``charge_source`` one of
  :class:`~studio.store.types.ChargeSource`. ``quote_usd`` is the quote's amount, kept
  beside the quote so spend and cost order are SQL.
- ``uploads`` — the upload cache (a clip's content hash → its provider URL).
- ``budget_settings`` (one row) and ``budget_owner_caps`` — the caps saved from the app.
- ``rate_overrides`` and ``rate_audit`` — team rate overrides and their append-only trail
  (the database refuses UPDATE and DELETE on ``rate_audit``).
- ``presets`` — named parameter presets per model.
- ``plans`` — each owner's forecast plan (the rows as JSON).
- ``legacy_imports`` — which data-dir files (``budget.json``, ``rates/…``,
  ``presets.json``, ``plans/*.csv``) were imported, by content hash, so each is imported
  once (:mod:`studio.store.legacy`).
- ``schema_version`` — the migrations applied.

Migrations: :data:`MIGRATIONS` is an ordered tuple of functions, each bringing the schema
from version *i* to *i + 1* inside the caller's transaction (SQLite and PostgreSQL both
have transactional DDL). An applied migration is never edited; a change is a new one. Their
DDL is written out here (frozen), not derived from :data:`metadata`, so an old database is
upgraded step by step; a test checks the two agree.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    Table,
    Text,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.engine import Connection

from studio.store.types import (
    JSON_TYPE,
    ChargeSource,
    Money,
    UtcDateTime,
    iso_utc,
    parse_utc,
    usd_amount,
)

metadata = MetaData()

jobs_table = Table(
    "jobs", metadata,
    Column("model_id", Text, nullable=False),
    Column("provider", Text, nullable=False),
    Column("owner", Text, nullable=False),
    Column("params", JSON_TYPE),
    Column("source", JSON_TYPE),
    Column("id", Text, primary_key=True),
    Column("status", Text, nullable=False),
    Column("remote_id", Text),
    Column("mode", Text),
    Column("target", Text),
    Column("owner_name", Text),
    Column("clip", JSON_TYPE),
    Column("quote", JSON_TYPE),
    Column("client_token", Text),
    Column("batch_id", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("submitted_at", UtcDateTime),
    Column("started_at", UtcDateTime),
    Column("completed_at", UtcDateTime),
    Column("error", Text),
    Column("result_urls", JSON_TYPE),
    Column("result_files", JSON_TYPE),
    Column("preview_path", Text),
    Column("charge_usd", Money),
    Column("poll_count", Integer, nullable=False),
    Column("next_poll_at", Float, nullable=False),
    Column("parent_id", Text),
    Column("attempts", Integer, nullable=False),
    Column("lease_owner", Text),
    Column("lease_until", Float),
    Column("quote_usd", Money),
    Column("charge_source", Text),
    Column("poll_failures", Integer, nullable=False),
    Column("target_namespace", Text),
)
work_table = Table(  # the media work queue (studio.tracking.work); made by migration v5
    "work", metadata,
    Column("id", Text, primary_key=True),
    Column("job_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_at", Float, nullable=False),
    Column("host", Text),
    Column("lease_owner", Text),
    Column("lease_until", Float),
    Column("progress", Float),
    Column("detail", Text),
    Column("failure", Text),
    Column("error", Text),
    Column("done_by", Text),
    Column("created_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
)
uploads_table = Table(
    "uploads", metadata,
    Column("provider", Text, primary_key=True),
    Column("target", Text, primary_key=True),
    Column("sha256", Text, primary_key=True),
    Column("url", Text),
    Column("expires_at", UtcDateTime),  # NULL = never
)
schema_version_table = Table(
    "schema_version", metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", Text, nullable=False),
)
budget_settings_table = Table(
    "budget_settings", metadata,
    Column("id", Integer, primary_key=True),  # always 1: one budget per store
    Column("period", Text, nullable=False),
    Column("team_usd", Money),
    Column("default_owner_usd", Money),
    Column("saved_at", UtcDateTime, nullable=False),
    Column("saved_by", Text),
)
budget_owner_caps_table = Table(
    "budget_owner_caps", metadata,
    Column("owner", Text, primary_key=True),
    Column("usd", Money),  # NULL: this owner is uncapped whatever the default
)
rate_overrides_table = Table(
    "rate_overrides", metadata,
    Column("model_id", Text, primary_key=True),
    Column("tier", Text, primary_key=True),
    Column("unit", Text, nullable=False),
    Column("usd", Money, nullable=False),
    Column("who", Text, nullable=False),
    Column("set_at", UtcDateTime, nullable=False),
    Column("reason", Text, nullable=False),
)
rate_audit_table = Table(
    "rate_audit", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("who", Text, nullable=False),
    Column("model_id", Text, nullable=False),
    Column("tier", Text, nullable=False),
    Column("old_usd", Money),
    Column("new_usd", Money),
    Column("reason", Text, nullable=False),
    Column("old_provenance", Text),  # what old_usd was: override, live, published, proxy
)
presets_table = Table(
    "presets", metadata,
    Column("model_id", Text, primary_key=True),
    Column("name", Text, primary_key=True),
    Column("params", JSON_TYPE, nullable=False),
    Column("saved_at", UtcDateTime, nullable=False),
)
plans_table = Table(
    "plans", metadata,
    Column("owner", Text, primary_key=True),
    Column("rows", JSON_TYPE, nullable=False),
    Column("saved_at", UtcDateTime, nullable=False),
)
legacy_imports_table = Table(
    "legacy_imports", metadata,
    Column("source", Text, primary_key=True),  # e.g. "budget.json", "plans/ab12.csv"
    Column("sha256", Text, primary_key=True),
    Column("imported_at", UtcDateTime, nullable=False),
    Column("summary", Text, nullable=False),
)


# -- migrations ---------------------------------------------------------------------------
_V1_COLUMNS = (  # the Job fields of the original SQLite-only store
    "model_id", "provider", "owner", "params", "source", "id", "status", "remote_id", "mode",
    "target", "owner_name", "clip", "quote", "client_token", "batch_id", "created_at",
    "updated_at", "submitted_at", "started_at", "completed_at", "error", "result_urls",
    "result_files", "preview_path", "charge_usd", "poll_count", "next_poll_at",
)


def _pg(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _double(conn: Connection) -> str:
    return "DOUBLE PRECISION" if _pg(conn) else "REAL"


def _money(conn: Connection) -> str:
    return "NUMERIC(30, 9)" if _pg(conn) else "INTEGER"  # SQLite: nano-dollars (types.Money)


def _time(conn: Connection) -> str:
    return "TIMESTAMP WITH TIME ZONE" if _pg(conn) else "TEXT"


def _json(conn: Connection) -> str:
    return "JSONB" if _pg(conn) else "TEXT"


def migrate_v1(conn: Connection) -> None:
    """The original schema (SQLite files from before the ``schema_version`` table carry it
    as ``PRAGMA user_version=1``): every column TEXT."""
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


def migrate_v2(conn: Connection) -> None:
    """Retries (``parent_id``, ``attempts``) and per-job leases for shared stores."""
    for ddl in (
        "ALTER TABLE jobs ADD COLUMN parent_id TEXT",
        "ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE jobs ADD COLUMN lease_owner TEXT",
        f"ALTER TABLE jobs ADD COLUMN lease_until {_double(conn)}",
        "CREATE INDEX IF NOT EXISTS jobs_due ON jobs(status, next_poll_at)",
        "DROP INDEX IF EXISTS jobs_status",
        "CREATE INDEX IF NOT EXISTS jobs_owner ON jobs(owner, created_at)",
        "CREATE INDEX IF NOT EXISTS jobs_parent ON jobs(parent_id)",
    ):
        conn.exec_driver_sql(ddl)


# The v3 tables as they were frozen (the copy below binds through these types).
_V3_JOB_COLUMNS: tuple[tuple[str, Any], ...] = (
    *((name, Text) for name in ("model_id", "provider", "owner")),
    ("params", JSON_TYPE), ("source", JSON_TYPE),
    *((name, Text) for name in ("id", "status", "remote_id", "mode", "target", "owner_name")),
    ("clip", JSON_TYPE), ("quote", JSON_TYPE), ("client_token", Text), ("batch_id", Text),
    *((name, UtcDateTime) for name in ("created_at", "updated_at", "submitted_at",
                                       "started_at", "completed_at")),
    ("error", Text), ("result_urls", JSON_TYPE), ("result_files", JSON_TYPE),
    ("preview_path", Text), ("charge_usd", Money), ("poll_count", Integer),
    ("next_poll_at", Float), ("parent_id", Text), ("attempts", Integer),
    ("lease_owner", Text), ("lease_until", Float), ("quote_usd", Money),
    ("charge_source", Text),
)
_v3_jobs = Table("jobs", MetaData(), *(Column(n, t) for n, t in _V3_JOB_COLUMNS))
_v3_uploads = Table(
    "uploads", MetaData(),
    *(Column(n, t) for n, t in (("provider", Text), ("target", Text), ("sha256", Text),
                                ("url", Text), ("expires_at", UtcDateTime))),
)
_JSON_COLUMNS = ("params", "source", "clip", "quote", "result_urls", "result_files")
_TIME_COLUMNS = ("created_at", "updated_at", "submitted_at", "started_at", "completed_at")


def _v2_row_to_v3(row: dict[str, Any]) -> dict[str, Any]:
    """One v2 row (every value as text) in v3 types. Money text that is not an amount
    becomes NULL (it counted as unknown before too); JSON text that does not parse is kept
    as a JSON string rather than lost."""
    out = dict(row)
    for name in _JSON_COLUMNS:
        raw = out.get(name)
        if raw in (None, ""):
            out[name] = {} if name in ("result_urls", "result_files") else None
            continue
        try:
            out[name] = json.loads(raw)
        except (TypeError, ValueError):
            out[name] = str(raw)
    now = datetime.now(UTC)
    for name in _TIME_COLUMNS:
        raw = out.get(name)
        out[name] = parse_utc(raw) if raw else None
    out["created_at"] = out["created_at"] or now
    out["updated_at"] = out["updated_at"] or out["created_at"]
    out["charge_usd"] = usd_amount(out.get("charge_usd"))
    quote = out.get("quote")
    out["quote_usd"] = usd_amount(quote.get("amount_usd")) if isinstance(quote, dict) else None
    out["charge_source"] = charge_source_for(out.get("provider"), out.get("target"),
                                             out["charge_usd"] is not None)
    out["poll_count"] = int(out.get("poll_count") or 0)
    out["next_poll_at"] = float(out.get("next_poll_at") or 0.0)
    out["attempts"] = int(out.get("attempts") or 0)
    return out


def charge_source_for(provider: Any, target: Any, has_charge: bool) -> str | None:
    """What a stored charge was, for rows written before ``charge_source`` existed: Oxen
    reports its charge (the sandbox's when the row ran there); LTX's was always computed."""
    if not has_charge:
        return None
    if provider == "ltx":
        return ChargeSource.COMPUTED.value
    return (ChargeSource.SANDBOX if target == "sandbox" else ChargeSource.REPORTED).value


_V3_INDEXES = (
    "CREATE INDEX jobs_created ON jobs(created_at)",
    # Covers the budget's spend aggregate (JobStore.spend): the period's rows are read from
    # the index alone, never from the wide table rows.
    "CREATE INDEX jobs_spend ON jobs(created_at, provider, target, owner, status, charge_usd, "
    "quote_usd)",
    "CREATE INDEX jobs_model ON jobs(model_id, created_at)",
    "CREATE INDEX jobs_due ON jobs(status, next_poll_at)",
    "CREATE INDEX jobs_owner ON jobs(owner, created_at)",
    "CREATE INDEX jobs_parent ON jobs(parent_id)",
)


def migrate_v3(conn: Connection) -> None:
    """Typed columns: money as ``NUMERIC`` (nano-dollar ``INTEGER`` on SQLite), times as
    ``TIMESTAMP WITH TIME ZONE`` (ISO text on SQLite), JSON as ``JSONB``; new columns
    ``quote_usd`` (the quote's amount, for spend and cost order in SQL) and
    ``charge_source``. Every v2 row is copied; the v2 table is dropped afterwards."""
    money, ts, js, dbl = _money(conn), _time(conn), _json(conn), _double(conn)
    for index in ("jobs_created", "jobs_model", "jobs_due", "jobs_owner", "jobs_parent",
                  "jobs_status"):
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index}")
    conn.exec_driver_sql("ALTER TABLE jobs RENAME TO jobs_v2")
    conn.exec_driver_sql("ALTER TABLE uploads RENAME TO uploads_v2")
    conn.exec_driver_sql(f"""
        CREATE TABLE jobs (
            model_id TEXT NOT NULL, provider TEXT NOT NULL, owner TEXT NOT NULL,
            params {js}, source {js}, id TEXT PRIMARY KEY, status TEXT NOT NULL,
            remote_id TEXT, mode TEXT, target TEXT, owner_name TEXT, clip {js}, quote {js},
            client_token TEXT, batch_id TEXT, created_at {ts} NOT NULL,
            updated_at {ts} NOT NULL, submitted_at {ts}, started_at {ts}, completed_at {ts},
            error TEXT, result_urls {js}, result_files {js}, preview_path TEXT,
            charge_usd {money}, poll_count INTEGER NOT NULL DEFAULT 0,
            next_poll_at {dbl} NOT NULL DEFAULT 0, parent_id TEXT,
            attempts INTEGER NOT NULL DEFAULT 0, lease_owner TEXT, lease_until {dbl},
            quote_usd {money}, charge_source TEXT
        )""")
    conn.exec_driver_sql(
        f"CREATE TABLE uploads (provider TEXT, target TEXT, sha256 TEXT, url TEXT, "
        f"expires_at {ts}, PRIMARY KEY (provider, target, sha256))")
    old = [n for n, _t in _V3_JOB_COLUMNS if n not in ("quote_usd", "charge_source")]
    rows = conn.exec_driver_sql(f"SELECT {', '.join(old)} FROM jobs_v2").mappings()
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(_v2_row_to_v3(dict(row)))
        if len(batch) >= 1000:
            conn.execute(insert(_v3_jobs), batch)
            batch = []
    if batch:
        conn.execute(insert(_v3_jobs), batch)
    uploads = [
        {**dict(u), "expires_at": parse_utc(u["expires_at"]) if u["expires_at"] else None}
        for u in conn.exec_driver_sql(
            "SELECT provider, target, sha256, url, expires_at FROM uploads_v2").mappings()
    ]
    if uploads:
        conn.execute(insert(_v3_uploads), uploads)
    conn.exec_driver_sql("DROP TABLE jobs_v2")
    conn.exec_driver_sql("DROP TABLE uploads_v2")
    for ddl in _V3_INDEXES:
        conn.exec_driver_sql(ddl)


def migrate_v4(conn: Connection) -> None:
    """Team state in the database: budget caps, rate overrides and their append-only
    audit, presets, forecast plans, and the record of imported data-dir files."""
    money, ts, js = _money(conn), _time(conn), _json(conn)
    serial = "BIGSERIAL" if _pg(conn) else "INTEGER"
    for ddl in (
        f"""CREATE TABLE budget_settings (
            id INTEGER PRIMARY KEY CHECK (id = 1), period TEXT NOT NULL,
            team_usd {money}, default_owner_usd {money}, saved_at {ts} NOT NULL,
            saved_by TEXT)""",
        f"CREATE TABLE budget_owner_caps (owner TEXT PRIMARY KEY, usd {money})",
        f"""CREATE TABLE rate_overrides (
            model_id TEXT NOT NULL, tier TEXT NOT NULL, unit TEXT NOT NULL,
            usd {money} NOT NULL, who TEXT NOT NULL, set_at {ts} NOT NULL,
            reason TEXT NOT NULL, PRIMARY KEY (model_id, tier))""",
        f"""CREATE TABLE rate_audit (
            seq {serial} PRIMARY KEY, at {ts} NOT NULL, who TEXT NOT NULL,
            model_id TEXT NOT NULL, tier TEXT NOT NULL, old_usd {money}, new_usd {money},
            reason TEXT NOT NULL, old_provenance TEXT)""",
        f"""CREATE TABLE presets (
            model_id TEXT NOT NULL, name TEXT NOT NULL, params {js} NOT NULL,
            saved_at {ts} NOT NULL, PRIMARY KEY (model_id, name))""",
        f"""CREATE TABLE plans (
            owner TEXT PRIMARY KEY, rows {js} NOT NULL, saved_at {ts} NOT NULL)""",
        f"""CREATE TABLE legacy_imports (
            source TEXT NOT NULL, sha256 TEXT NOT NULL, imported_at {ts} NOT NULL,
            summary TEXT NOT NULL, PRIMARY KEY (source, sha256))""",
    ):
        conn.exec_driver_sql(ddl)
    # The audit trail is append-only in the database itself, not only in this code.
    if _pg(conn):
        conn.exec_driver_sql(
            "CREATE FUNCTION rate_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'rate_audit is append-only'; END $$")
        conn.exec_driver_sql(
            "CREATE TRIGGER rate_audit_append_only BEFORE UPDATE OR DELETE ON rate_audit "
            "FOR EACH ROW EXECUTE FUNCTION rate_audit_append_only()")
    else:
        for op in ("UPDATE", "DELETE"):
            conn.exec_driver_sql(
                f"CREATE TRIGGER rate_audit_no_{op.lower()} BEFORE {op} ON rate_audit "
                "BEGIN SELECT RAISE(ABORT, 'rate_audit is append-only'); END")


def migrate_v5(conn: Connection) -> None:
    """The media work queue (:mod:`studio.tracking.work`): result downloads, previews and
    analyses claimed with leases like polls are, by the app's pool or ``studio worker``
    processes; ``jobs.poll_failures`` (unusable status answers in a row) and
    ``jobs.target_namespace`` (the Oxen namespace billed, oxen.md §3.1)."""
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


MIGRATIONS: tuple[Callable[[Connection], None], ...] = (
    migrate_v1, migrate_v2, migrate_v3, migrate_v4, migrate_v5)
SCHEMA_VERSION = len(MIGRATIONS)
# Serialises migrations (and the one-time import of data-dir files) of replicas starting
# together on one PostgreSQL database.
PG_MIGRATION_LOCK = 0x5654_4A4F_4253  # "VTJOBS"


def apply_migrations(conn: Connection, upto: int = SCHEMA_VERSION) -> int:
    """Bring the schema to version ``upto`` (within ``conn``'s transaction); returns the
    version found before. Raises ``RuntimeError`` when the database is newer than this code."""
    sqlite = conn.dialect.name == "sqlite"
    if not sqlite:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK})
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
            adopted = iso_utc(datetime.now(UTC))
            conn.execute(insert(sv), [{"version": v, "applied_at": adopted}
                                      for v in range(1, legacy + 1)])
            found = legacy
    if found > SCHEMA_VERSION:
        raise RuntimeError(
            f"The store is at schema version {found}, newer than this app knows "
            f"({SCHEMA_VERSION}). Upgrade the app before opening it.")
    for version in range(found + 1, upto + 1):
        MIGRATIONS[version - 1](conn)
        conn.execute(insert(sv).values(version=version, applied_at=iso_utc(datetime.now(UTC))))
    if sqlite and upto > found:
        conn.exec_driver_sql(f"PRAGMA user_version={int(upto)}")
    return found
