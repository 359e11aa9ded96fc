"""The team's shared state in the store's database: budget caps, rate overrides and their
audit trail, presets and forecast plans.

These are the tables' read and write paths only (rows in, rows out, money as ``Decimal``,
times aware UTC). The rules — what a valid cap, override or preset is, who may change it,
what the audit line says — stay with their owners: :mod:`studio.budget`
(``BudgetStore``), :mod:`studio.ratebook` (``OverrideStore``), :mod:`studio.presets` and
the forecast page. Every write is one transaction; changes that read before they write
(an override and its audit line) hold a lock that spans replicas (``BEGIN IMMEDIATE`` on
SQLite, a transaction-level advisory lock on PostgreSQL), so a change saved in one app
process is in force in every other at once and none is lost.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, delete, insert, literal, select, text
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection

from studio.store.schema import (
    budget_owner_caps_table,
    budget_settings_table,
    plans_table,
    presets_table,
    rate_audit_table,
    rate_overrides_table,
)

if TYPE_CHECKING:
    from studio.store.generations import JobStore

PG_OVERRIDES_LOCK = 0x5654_5241_5445  # "VTRATE": serialises override changes


def _upsert(conn: Connection, table: Table, values: Mapping[str, Any]) -> None:
    """Insert ``values`` into ``table``, or update the row with the same primary key (one
    statement, so two writers saving the same key at once both succeed; the last wins)."""
    dialect = pg_dialect if conn.dialect.name == "postgresql" else sqlite_dialect
    stmt = dialect.insert(table).values(dict(values))
    keys = [c.name for c in table.primary_key.columns]
    stmt = stmt.on_conflict_do_update(
        index_elements=keys,
        set_={k: stmt.excluded[k] for k in values if k not in keys})
    conn.execute(stmt)


class BudgetTable:
    """The caps saved from the app (one budget per store)."""

    def __init__(self, store: JobStore):
        self._store = store

    def read(self, conn: Connection | None = None) -> dict[str, Any] | None:
        """``{"period", "team_usd", "default_owner_usd", "owner_usd": {owner: usd or None},
        "saved_at", "saved_by"}`` (amounts ``Decimal`` or ``None`` = no cap), or ``None``
        when no budget was ever saved."""
        def run(c: Connection) -> dict[str, Any] | None:
            # One round trip: the settings row joined with every owner cap (if any).
            b, o = budget_settings_table, budget_owner_caps_table
            rows = c.execute(select(b, o.c.owner, o.c.usd.label("owner_usd"))
                             .select_from(b.outerjoin(o, literal(True)))).mappings().all()
            if not rows:
                return None
            row = rows[0]
            owners = {r["owner"]: r["owner_usd"] for r in rows if r["owner"] is not None}
            return {"period": row["period"], "team_usd": row["team_usd"],
                    "default_owner_usd": row["default_owner_usd"], "owner_usd": owners,
                    "saved_at": row["saved_at"], "saved_by": row["saved_by"]}

        if conn is not None:
            return run(conn)
        with self._store._read() as own:
            return run(own)

    def write(self, *, period: str, team_usd: Decimal | None,
              default_owner_usd: Decimal | None, owner_usd: Mapping[str, Decimal | None],
              saved_at: datetime, saved_by: str | None = None) -> None:
        """Replace the saved caps (all of them, in one transaction)."""
        with self._store._write() as conn:
            conn.execute(delete(budget_owner_caps_table))
            conn.execute(delete(budget_settings_table))
            conn.execute(insert(budget_settings_table).values(
                id=1, period=period, team_usd=team_usd, default_owner_usd=default_owner_usd,
                saved_at=saved_at, saved_by=saved_by))
            if owner_usd:
                conn.execute(insert(budget_owner_caps_table),
                             [{"owner": k, "usd": v} for k, v in sorted(owner_usd.items())])

    def clear(self) -> None:
        """Forget the saved caps."""
        with self._store._write() as conn:
            conn.execute(delete(budget_owner_caps_table))
            conn.execute(delete(budget_settings_table))


class OverrideChange:
    """One locked change to the overrides (see :meth:`OverrideTable.change`)."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def get(self, model_id: str, tier: str) -> dict[str, Any] | None:
        """The override of ``model_id`` at ``tier`` as a record, or ``None``."""
        t = rate_overrides_table
        row = self.conn.execute(select(t).where(t.c.model_id == model_id, t.c.tier == tier)
                                ).mappings().first()
        return dict(row) if row is not None else None

    def put(self, record: Mapping[str, Any]) -> None:
        """Set (or replace) an override: ``model_id, tier, unit, usd, who, set_at, reason``."""
        t = rate_overrides_table
        self.conn.execute(delete(t).where(t.c.model_id == record["model_id"],
                                          t.c.tier == record["tier"]))
        self.conn.execute(insert(t).values(**{c: record[c] for c in t.columns.keys()}))

    def remove(self, model_id: str, tier: str) -> None:
        t = rate_overrides_table
        self.conn.execute(delete(t).where(t.c.model_id == model_id, t.c.tier == tier))

    def audit(self, entry: Mapping[str, Any]) -> None:
        """Append one audit line: ``at, who, model_id, tier, old_usd, new_usd, reason,
        old_provenance``."""
        t = rate_audit_table
        self.conn.execute(insert(t).values(
            **{c: entry.get(c) for c in t.columns.keys() if c != "seq"}))


class OverrideTable:
    """Team rate overrides and their append-only audit trail."""

    def __init__(self, store: JobStore):
        self._store = store

    def records(self) -> list[dict[str, Any]]:
        """Every override: ``model_id, tier, unit, usd (Decimal), who, set_at, reason``,
        oldest first."""
        t = rate_overrides_table
        with self._store._read() as conn:
            rows = conn.execute(select(t).order_by(t.c.set_at, t.c.model_id, t.c.tier))
            return [dict(r) for r in rows.mappings()]

    def audit(self) -> list[dict[str, Any]]:
        """Every audit line, oldest first: ``seq, at, who, model_id, tier, old_usd,
        new_usd, reason, old_provenance``."""
        t = rate_audit_table
        with self._store._read() as conn:
            return [dict(r) for r in conn.execute(select(t).order_by(t.c.seq)).mappings()]

    @contextmanager
    def change(self) -> Iterator[OverrideChange]:
        """A transaction in which the overrides are read and changed by one writer at a
        time across every process sharing the database; committed when the block ends."""
        with self._store._write() as conn:
            if self._store.backend == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                             {"key": PG_OVERRIDES_LOCK})
            yield OverrideChange(conn)


class PresetTable:
    """Named parameter presets per model."""

    def __init__(self, store: JobStore):
        self._store = store

    def entries(self, model_id: str) -> list[tuple[str, Any, datetime]]:
        """``(name, params, saved_at)`` of ``model_id``'s presets, as stored (unchecked)."""
        t = presets_table
        with self._store._read() as conn:
            rows = conn.execute(select(t.c.name, t.c.params, t.c.saved_at)
                                .where(t.c.model_id == model_id))
            return [(r.name, r.params, r.saved_at) for r in rows]

    def put(self, model_id: str, name: str, params: Mapping[str, Any], saved_at: datetime
            ) -> None:
        """Save (or replace) preset ``name`` of ``model_id``."""
        with self._store._write() as conn:
            _upsert(conn, presets_table, {"model_id": model_id, "name": name,
                                          "params": dict(params), "saved_at": saved_at})

    def delete(self, model_id: str, name: str) -> bool:
        """Remove preset ``name`` of ``model_id``; ``False`` when there was none."""
        t = presets_table
        with self._store._write() as conn:
            return conn.execute(delete(t).where(t.c.model_id == model_id, t.c.name == name)
                                ).rowcount > 0


class PlanTable:
    """Each owner's forecast plan: its rows as a JSON list of plan records (the plan CSV's
    columns, :data:`studio.forecast.PLAN_COLUMNS`)."""

    def __init__(self, store: JobStore):
        self._store = store

    def get(self, owner: str) -> tuple[list[dict[str, Any]], datetime] | None:
        """``(rows, saved_at)`` of ``owner``'s plan, or ``None`` when none was saved."""
        t = plans_table
        with self._store._read() as conn:
            row = conn.execute(select(t.c.rows, t.c.saved_at).where(t.c.owner == owner)).first()
        if row is None:
            return None
        rows = row.rows if isinstance(row.rows, list) else []
        return [dict(r) for r in rows if isinstance(r, Mapping)], row.saved_at

    def put(self, owner: str, rows: Sequence[Mapping[str, Any]], saved_at: datetime) -> None:
        """Save ``owner``'s plan (replacing the last one)."""
        records = [dict(r) for r in rows]
        with self._store._write() as conn:
            _upsert(conn, plans_table, {"owner": owner, "rows": records, "saved_at": saved_at})

    def delete(self, owner: str) -> None:
        t = plans_table
        with self._store._write() as conn:
            conn.execute(delete(t).where(t.c.owner == owner))
