"""One-time import of team state that the first release kept in files of the data dir.

Before the store held it, each app process kept the team's state in its own data dir:

- ``budget.json`` — ``{"period", "team_usd", "owner_usd": {fingerprint: usd}, "default_owner_usd"}``
  (amounts as decimal text or ``null`` = no cap);
- ``rates/overrides.json`` — ``{"version": 1, "overrides": [{model_id, tier, unit, usd, who,
  when, reason}, ...]}`` and ``rates/audit.jsonl`` — one JSON line per change ``{who, when,
  model_id, tier, old_usd, new_usd, reason}``;
- ``presets.json`` — ``{"version": 1, "presets": {model_id: {name: {"params", "saved_at"}}}}``;
- ``plans/<owner>.csv`` — each owner's forecast plan (the plan CSV of :mod:`studio.forecast`).

:func:`import_data_dir` copies every value of those files into the database once, then
renames each file to ``<name>.imported`` (kept as a backup; nothing reads it again). The
``legacy_imports`` table records each file by content hash, so a file is never imported twice
even when it cannot be renamed. A file that cannot be read is left where it is and not
imported; its sentence goes to ``store.import_problems`` under its kind (``"budget"``,
``"overrides"``, ``"presets"``, ``"plans"``), and the budget guard and the rate book refuse to
run on without the state it holds (as the first release did with a damaged file).

Several replicas on one PostgreSQL database each import their own data dir. The first
budget imported wins (a later replica's ``budget.json`` is not applied: the summary says so);
an override is taken when the store has none for its model and tier or an older one; audit
lines are merged (a line already present is not added twice); presets and plans keep the
newer of two with the same name or owner.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from studio.store.schema import (
    budget_owner_caps_table,
    budget_settings_table,
    legacy_imports_table,
    plans_table,
    presets_table,
    rate_audit_table,
    rate_overrides_table,
)
from studio.store.types import MONEY_MAX, usd_amount


class _Unreadable(ValueError):
    """A legacy file that cannot be imported (the sentence says why)."""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _aware(raw: Any, what: str) -> datetime:
    if not isinstance(raw, str) or not raw:
        raise _Unreadable(f"{what} has no time")
    try:
        at = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise _Unreadable(f"{what} has a bad time {raw!r}") from exc
    if at.tzinfo is None:
        raise _Unreadable(f"{what} has a time without a zone {raw!r}")
    return at.astimezone(UTC)


# -- parsers: file bytes → rows, or _Unreadable -----------------------------------------
def _parse_budget(data: bytes) -> dict[str, Any]:
    """The caps of a ``budget.json``, checked with the rule the app saves by
    (:func:`studio.budget.validate_config`: whole cents, 0 to $1,000,000,000)."""
    from studio.budget import validate_config
    from studio.errors import ParamError

    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _Unreadable(f"not JSON ({type(exc).__name__})") from exc
    if not isinstance(raw, dict):
        raise _Unreadable("not a JSON object")
    owners = raw.get("owner_usd") or {}
    if not isinstance(owners, dict):
        raise _Unreadable("owner_usd is not an object of fingerprint: amount")
    period = raw.get("period", "month")
    if not isinstance(period, str):
        raise _Unreadable(f"unknown period {period!r}")
    try:
        config = validate_config(period=period, team_usd=raw.get("team_usd"),
                                 default_owner_usd=raw.get("default_owner_usd"),
                                 owner_usd=owners)
    except ParamError as exc:
        raise _Unreadable("; ".join(exc.problems)) from exc
    except (ArithmeticError, ValueError, TypeError) as exc:
        raise _Unreadable(f"an amount cannot be read ({type(exc).__name__})") from exc
    return {"period": config.period, "team_usd": config.team_usd,
            "default_owner_usd": config.default_owner_usd, "owner_usd": dict(config.owner_usd)}


def _parse_overrides(data: bytes) -> list[dict[str, Any]]:
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _Unreadable(f"not JSON ({exc})") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("overrides"), list):
        raise _Unreadable('expected an object with an "overrides" list')
    out = []
    for i, rec in enumerate(raw["overrides"], start=1):
        if not isinstance(rec, dict):
            raise _Unreadable(f"override {i} is not an object")
        missing = [k for k in ("model_id", "tier", "unit", "usd", "who", "when", "reason")
                   if not isinstance(rec.get(k), str) or not rec[k]]
        if missing:
            raise _Unreadable(f"override {i} lacks {', '.join(missing)}")
        usd = usd_amount(rec["usd"])
        if usd is None or usd <= 0 or usd >= MONEY_MAX:
            raise _Unreadable(f"override {i} has a bad amount {rec['usd']!r}")
        out.append({"model_id": rec["model_id"], "tier": rec["tier"], "unit": rec["unit"],
                    "usd": usd, "who": rec["who"], "set_at": _aware(rec["when"], f"override {i}"),
                    "reason": rec["reason"]})
    return out


def _parse_audit(data: bytes) -> list[dict[str, Any]]:
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise _Unreadable(f"not UTF-8 text ({exc})") from exc
    out = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            entry: dict[str, Any] = {
                "at": _aware(d["when"], f"line {n}"), "who": str(d["who"]),
                "model_id": str(d["model_id"]), "tier": str(d["tier"]),
                "old_usd": None if d["old_usd"] is None else usd_amount(d["old_usd"]),
                "new_usd": None if d["new_usd"] is None else usd_amount(d["new_usd"]),
                "reason": str(d["reason"]),
                # The first release recorded the previous *override* only.
                "old_provenance": None if d["old_usd"] is None else "override",
            }
        except (ValueError, KeyError, TypeError) as exc:
            raise _Unreadable(f"line {n} cannot be read ({exc})") from exc
        amounts: dict[str, Decimal | None] = {"old_usd": entry["old_usd"],
                                              "new_usd": entry["new_usd"]}
        if any(d[k] is not None and (v is None or abs(v) >= MONEY_MAX)
               for k, v in amounts.items()):
            raise _Unreadable(f"line {n} has an amount that is not a number")
        out.append(entry)
    return out


def _parse_presets(data: bytes) -> list[dict[str, Any]]:
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _Unreadable(f"not JSON ({exc})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("presets", {}), dict):
        raise _Unreadable('expected an object with a "presets" object')
    out = []
    for model_id, entries in (doc.get("presets") or {}).items():
        if not isinstance(entries, dict):
            continue
        for name, entry in entries.items():
            params = entry.get("params") if isinstance(entry, dict) else None
            if not isinstance(params, dict):
                continue
            try:
                saved = _aware(entry.get("saved_at"), f"preset {name!r}")
            except _Unreadable:
                saved = datetime.now(UTC)
            out.append({"model_id": str(model_id), "name": str(name), "params": params,
                        "saved_at": saved})
    return out


def _parse_plan(data: bytes) -> list[dict[str, Any]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _Unreadable(f"not UTF-8 text ({exc})") from exc
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        header = [h.strip().lower() for h in next(reader, [])]
        return [dict(zip(header, cells, strict=False)) for cells in reader
                if any(c.strip() for c in cells)]
    except csv.Error as exc:
        raise _Unreadable(f"not a readable CSV file ({exc})") from exc


# -- writers: rows → the store, merging with what is there -------------------------------
def _write_budget(conn: Connection, budget: dict[str, Any], saved_at: datetime) -> str:
    if conn.execute(select(budget_settings_table.c.id)).first() is not None:
        return "not applied: the store already had a saved budget, which stays in force"
    conn.execute(insert(budget_settings_table).values(
        id=1, period=budget["period"], team_usd=budget["team_usd"],
        default_owner_usd=budget["default_owner_usd"], saved_at=saved_at,
        saved_by="imported from budget.json"))
    if budget["owner_usd"]:
        conn.execute(insert(budget_owner_caps_table),
                     [{"owner": k, "usd": v} for k, v in budget["owner_usd"].items()])
    return (f"period {budget['period']}, team cap {budget['team_usd']}, per-person cap "
            f"{budget['default_owner_usd']}, {len(budget['owner_usd'])} own cap(s)")


def _write_overrides(conn: Connection, records: list[dict[str, Any]]) -> str:
    t = rate_overrides_table
    taken = 0
    for rec in records:
        old = conn.execute(select(t.c.set_at).where(t.c.model_id == rec["model_id"],
                                                    t.c.tier == rec["tier"])).first()
        if old is not None and old.set_at >= rec["set_at"]:
            continue
        if old is not None:
            conn.execute(t.delete().where(t.c.model_id == rec["model_id"],
                                          t.c.tier == rec["tier"]))
        conn.execute(insert(t).values(**rec))
        taken += 1
    return f"{taken} of {len(records)} override(s)"


def _audit_key(e: dict[str, Any]) -> tuple[Any, ...]:
    return (e["at"], e["who"], e["model_id"], e["tier"], e["old_usd"], e["new_usd"], e["reason"])


def _write_audit(conn: Connection, lines: list[dict[str, Any]]) -> str:
    t = rate_audit_table
    have = {_audit_key(dict(r)) for r in conn.execute(select(t)).mappings()}
    new = [e for e in lines if _audit_key(e) not in have]
    if new:
        conn.execute(insert(t), new)
    return f"{len(new)} of {len(lines)} audit line(s)"


def _write_presets(conn: Connection, entries: list[dict[str, Any]]) -> str:
    t = presets_table
    taken = 0
    for e in entries:
        old = conn.execute(select(t.c.saved_at).where(t.c.model_id == e["model_id"],
                                                      t.c.name == e["name"])).first()
        if old is not None and old.saved_at >= e["saved_at"]:
            continue
        if old is not None:
            conn.execute(t.delete().where(t.c.model_id == e["model_id"], t.c.name == e["name"]))
        conn.execute(insert(t).values(**e))
        taken += 1
    return f"{taken} of {len(entries)} preset(s)"


def _write_plan(conn: Connection, owner: str, rows: list[dict[str, Any]],
                saved_at: datetime) -> str:
    t = plans_table
    old = conn.execute(select(t.c.saved_at).where(t.c.owner == owner)).first()
    if old is not None and old.saved_at >= saved_at:
        return "not applied: the store has a newer plan for this owner"
    if old is not None:
        conn.execute(t.delete().where(t.c.owner == owner))
    conn.execute(insert(t).values(owner=owner, rows=rows, saved_at=saved_at))
    return f"{len(rows)} plan row(s) of owner {owner}"


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def _already(conn: Connection, source: str, sha: str) -> bool:
    t = legacy_imports_table
    return conn.execute(select(t.c.sha256).where(t.c.source == source, t.c.sha256 == sha)
                        ).first() is not None


def _record(conn: Connection, source: str, sha: str, summary: str) -> None:
    conn.execute(insert(legacy_imports_table).values(
        source=source, sha256=sha, imported_at=datetime.now(UTC), summary=summary))


def _set_aside(path: Path) -> None:
    """Rename an imported file to ``<name>.imported`` (a backup nothing reads again)."""
    target = path.with_name(path.name + ".imported")
    if target.exists():
        target = path.with_name(f"{path.name}.imported-{datetime.now(UTC):%Y%m%dT%H%M%S%f}")
    try:
        path.rename(target)
    except OSError:
        pass  # a read-only data dir: legacy_imports still keeps it from being imported twice


def import_data_dir(store: Any, data_dir: Path) -> dict[str, str]:
    """Import the legacy team-state files of ``data_dir`` into ``store`` (a
    :class:`~studio.store.generations.JobStore`), each once (see the module docstring).

    Returns ``{relative file name: summary}`` of what was imported now (empty when there was
    nothing new). Files that cannot be read stay in place; their sentences are put in
    ``store.import_problems`` by kind. Raises ``sqlalchemy.exc.SQLAlchemyError`` when the
    database cannot be written (nothing is renamed then).
    """
    data_dir = Path(data_dir)
    done: dict[str, str] = {}
    units: list[tuple[str, list[tuple[str, Path]], Callable[..., str]]] = []

    budget = data_dir / "budget.json"
    if budget.is_file():
        def do_budget(conn: Connection, blobs: dict[str, bytes]) -> str:
            return _write_budget(conn, _parse_budget(blobs["budget.json"]), _mtime(budget))
        units.append(("budget", [("budget.json", budget)], do_budget))

    overrides, audit = data_dir / "rates" / "overrides.json", data_dir / "rates" / "audit.jsonl"
    rate_files = [(f"rates/{p.name}", p) for p in (overrides, audit) if p.is_file()]
    if rate_files:
        def do_rates(conn: Connection, blobs: dict[str, bytes]) -> str:
            # Both files or neither: an override without its audit lines would lose history.
            records = (_parse_overrides(blobs["rates/overrides.json"])
                       if "rates/overrides.json" in blobs else [])
            lines = (_parse_audit(blobs["rates/audit.jsonl"])
                     if "rates/audit.jsonl" in blobs else [])
            return f"{_write_overrides(conn, records)}; {_write_audit(conn, lines)}"
        units.append(("overrides", rate_files, do_rates))

    presets = data_dir / "presets.json"
    if presets.is_file():
        def do_presets(conn: Connection, blobs: dict[str, bytes]) -> str:
            return _write_presets(conn, _parse_presets(blobs["presets.json"]))
        units.append(("presets", [("presets.json", presets)], do_presets))

    plans_dir = data_dir / "plans"
    for plan in sorted(plans_dir.glob("*.csv")) if plans_dir.is_dir() else []:
        def do_plan(conn: Connection, blobs: dict[str, bytes], plan: Path = plan) -> str:
            rel = f"plans/{plan.name}"
            return _write_plan(conn, plan.stem, _parse_plan(blobs[rel]), _mtime(plan))
        units.append(("plans", [(f"plans/{plan.name}", plan)], do_plan))

    for kind, files, write in units:
        try:
            blobs = {rel: path.read_bytes() for rel, path in files}
        except OSError as exc:
            # Named as in the data folder, never by its server path: every session sees
            # the sentence (issue 10 item 17).
            store.import_problems[kind] = (
                f"{files[0][0]} in the data folder could not be read "
                f"({exc.strerror or 'unreadable'}); it was not imported into the store.")
            continue
        shas = {rel: _sha(data) for rel, data in blobs.items()}
        try:
            with store.migration_lock() as conn:
                fresh = {rel for rel in blobs if not _already(conn, rel, shas[rel])}
                if not fresh:
                    summary = None
                else:
                    summary = write(conn, blobs)
                    for rel in blobs:
                        if not _already(conn, rel, shas[rel]):
                            _record(conn, rel, shas[rel], summary)
        except _Unreadable as exc:
            names = " and ".join(rel for rel, _path in files)
            store.import_problems[kind] = (
                f"{names} from an earlier version cannot be imported into the store ({exc}); "
                "it is in the data folder. "
                "Fix or delete the file; until then this state is not in force.")
            continue
        for rel, path in files:
            _set_aside(path)
            if summary is not None:
                done[rel] = summary
    return done
