"""Upgrading a data dir made by the first release keeps every value and every audit line
(issue 11 §1), on SQLite and on PostgreSQL.

The fixture ``tests/fixtures/release-datadir`` was written by the first release's own code
(``tests/fixtures/make_release_datadir.py``): ``budget.json``, ``rates/overrides.json``,
``rates/audit.jsonl``, ``presets.json``, two ``plans/<owner>.csv`` and a schema-v2
``jobs.sqlite3``; ``expected.json`` holds what that release read back from them.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from studio import forecast, presets
from studio.budget import BudgetStore
from studio.config import Settings
from studio.ratebook import OverrideStore
from studio.store import JobStore, job_to_dict
from studio.store.generations import _resolve
from studio.store.schema import SCHEMA_VERSION, apply_migrations
from tests.core.test_store_backends import backend, db_url  # noqa: F401  (fixtures)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "release-datadir"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text("utf-8"))
STARLIGHT, RHEA = "topazlabs-upscale-starlight-2-5-video", "topazlabs-rhea-video"


def _copy_v2_jobs_into(url: str) -> None:
    """The fixture's jobs, exactly as the first release stored them (text columns), put
    into a PostgreSQL schema built by the first release's migrations (v1, v2)."""
    src = sqlite3.connect(FIXTURE / "jobs.sqlite3")
    src.row_factory = sqlite3.Row
    jobs = [dict(r) for r in src.execute("SELECT * FROM jobs")]
    uploads = [dict(r) for r in src.execute("SELECT * FROM uploads")]
    src.close()
    engine = sa.create_engine(_resolve(url)[0], poolclass=sa.NullPool)
    with engine.begin() as conn:
        assert apply_migrations(conn, upto=2) == 0
        for table, rows in (("jobs", jobs), ("uploads", uploads)):
            cols = list(rows[0])
            conn.execute(sa.text(f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                                 f"({', '.join(':' + c for c in cols)})"), rows)
    engine.dispose()


@pytest.fixture
def upgraded(db_url, tmp_path):  # noqa: F811
    """The fixture data dir copied and opened by the current code (SQLite: its own
    jobs.sqlite3; PostgreSQL: DATABASE_URL, holding the same jobs at schema v2)."""
    data = tmp_path / "data"
    shutil.copytree(FIXTURE, data)
    (data / "expected.json").unlink()
    if "://" in db_url:
        _copy_v2_jobs_into(db_url)
        (data / "jobs.sqlite3").unlink()
        store = JobStore.from_settings(data, db_url)
    else:
        store = JobStore.from_settings(data)
    yield data, store
    store.close()


def test_every_job_value_survives_the_typed_migration(upgraded):
    _data, store = upgraded
    got = {j["id"]: j for j in (job_to_dict(x) for x in store.list())}
    assert len(got) == len(EXPECTED["jobs"])
    for old in EXPECTED["jobs"]:
        new = got[old["id"]]
        for field, value in old.items():
            if field == "charge_usd" and value is not None:
                assert Decimal(new[field]) == Decimal(value), field  # now a Decimal
            elif field == "status":
                assert new[field] == value
            else:
                assert new[field] == value, (old["id"], field)
    by_id = {j.id: j for j in store.list()}
    # the new columns are filled from what the release stored
    starlight = next(j for j in by_id.values() if j.remote_id == "gen-1")
    assert (starlight.charge_usd, starlight.charge_source) == (Decimal("2.0916"), "sandbox")
    ltx = next(j for j in by_id.values() if j.remote_id == "ltx-2")
    assert ltx.charge_source == "computed" and ltx.quote_usd == Decimal("1.81")
    for provider, target, sha, url, expires in EXPECTED["uploads"]:
        assert store.cached_upload(provider, target, sha, _before_expiry(expires)) == url
    with store._engine.connect() as conn:
        versions = [r[0] for r in conn.exec_driver_sql("SELECT version FROM schema_version "
                                                       "ORDER BY version")]
    assert versions == list(range(1, SCHEMA_VERSION + 1))


def _before_expiry(expires: str | None):
    from datetime import UTC, datetime, timedelta

    if expires is None:
        return datetime.now(UTC)
    return datetime.fromisoformat(expires) - timedelta(minutes=1)


def test_budget_overrides_audit_presets_and_plans_are_imported_once(upgraded):
    data, store = upgraded
    # budget.json: every cap, the per-person default and both own caps (one lifted)
    config = BudgetStore(store).load(Settings(data_dir=data))
    raw = json.loads(EXPECTED["budget"])
    assert config.period == raw["period"] == "week"
    assert config.team_usd == Decimal(raw["team_usd"])
    assert config.default_owner_usd == Decimal(raw["default_owner_usd"])
    assert dict(config.owner_usd) == {k: None if v is None else Decimal(v)
                                      for k, v in raw["owner_usd"].items()}
    # overrides: the same rates with the same source line
    rates = OverrideStore(store).load()
    assert sorted((r.model_id, r.tier, format(r.usd, "f"), r.unit, r.source_url)
                  for r in rates) == sorted(
        (o["model_id"], o["tier"], o["usd"], o["unit"], o["source_url"])
        for o in EXPECTED["overrides"])
    # every audit line, oldest first, every field
    trail = list(reversed(OverrideStore(store).audit()))
    assert len(trail) == len(EXPECTED["audit"]) == 5
    for entry, line in zip(trail, EXPECTED["audit"], strict=True):
        got = entry.to_json()
        for field in ("who", "model_id", "tier", "reason"):
            assert got[field] == line[field]
        assert entry.when.isoformat() == line["when"]
        for field in ("old_usd", "new_usd"):
            assert (None if got[field] is None else Decimal(got[field])) == (
                None if line[field] is None else Decimal(line[field]))
    # presets, with their names as typed
    for model_id, expected in EXPECTED["presets"].items():
        assert presets.load(store, model_id) == expected
    assert "Été 4K ✨" in presets.load(store, STARLIGHT)
    # each owner's plan, row for row
    for owner, rows in EXPECTED["plans"].items():
        saved, _when = store.plans.get(owner)
        parsed, problems = forecast.rows_from_records(saved)
        assert not problems and [r.to_record() for r in parsed] == rows
    # the files are set aside, not deleted, and nothing is imported twice
    for rel in ("budget.json", "rates/overrides.json", "rates/audit.jsonl", "presets.json",
                "plans/b9be30f3083b.csv"):
        assert not (data / rel).exists() and (data / (rel + ".imported")).exists(), rel
    shutil.copy(data / "budget.json.imported", data / "budget.json")  # an old replica's copy
    again = JobStore.from_settings(data, None if store.backend == "sqlite" else
                                   store.url.render_as_string(hide_password=False))
    assert len(OverrideStore(again).audit()) == 5
    assert again.import_problems == {}
    again.close()
