"""Team state shared through one database, on SQLite and PostgreSQL (issue 11 §1).

- Two app processes on one store: a cap, an override and a preset saved through one are in
  force through the other at once.
- 20 submits at once from two processes (two ``Studio`` objects, two store connections each
  on its own engine) against a team cap that fits 10: exactly 10 rows are stored and 10 paid
  requests reach the sandbox; the other 10 are refused with the arithmetic.

PostgreSQL comes from ``TEST_DATABASE_URL`` (each test gets a schema of its own), as in
``test_store_backends.py``.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from studio import presets
from studio.budget import BudgetStore
from studio.config import Settings
from studio.errors import BudgetExceededError
from studio.local_sandbox import start_sandbox
from studio.ratebook import OverrideStore, load_book
from studio.service import Source, Studio
from studio.store import JobStore
from tests.core.test_store_backends import backend, db_url  # noqa: F401  (fixtures)
from tests.model_ids import RHEA

QUOTE = Decimal("0.0068")  # Rhea 720p on realshort.mp4: 1.2 output s × $0.0056667 → 0.0068
CAP = "0.07"  # fits 10 × 0.0068 = 0.068, not 11 × 0.0068 = 0.0748


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    sb = start_sandbox(tmp_path_factory.mktemp("sbx-team"), port=None, workers=1)
    yield sb.url
    sb.stop()


def settings_for(tmp: Path, sandbox: str, name: str) -> Settings:
    return Settings.from_mapping({"OXEN_BASE_URL": sandbox, "LTX_BASE_URL": sandbox,
                                  "STUDIO_DATA_DIR": str(tmp / name)})


def test_state_saved_in_one_app_is_in_force_in_the_other(db_url, tmp_path, sandbox,  # noqa: F811
                                                         realshort):
    """Two Studios, each with its own store object and data dir, on one database: the cap,
    the override and the preset one saves are what the other quotes and checks with."""
    a = Studio(settings_for(tmp_path, sandbox, "a"), JobStore(db_url), sandbox_url=sandbox)
    b = Studio(settings_for(tmp_path, sandbox, "b"), JobStore(db_url), sandbox_url=sandbox)
    try:
        assert not b.budget_config().any_cap
        a.budget_store().save(period="week", team_usd="12.50")
        assert (b.budget_config().period, b.budget_config().team_usd) == ("week",
                                                                         Decimal("12.50"))

        OverrideStore(a.store).set(RHEA, "720p", "0.01", reason="deal", who="ana")
        src = Source("upload", "r.mp4", path=realshort)
        quote = b.prepare(RHEA, src, {"resolution": "720p"}).quote
        assert quote.provenance == "override" and quote.amount_usd == Decimal("0.0120")  # 1.2 × 0.01
        assert load_book(b.store).rate_for(RHEA, "720p").usd == Decimal("0.01")

        presets.save(a.store, RHEA, "soft", {"resolution": "720p"})
        assert presets.load(b.store, RHEA) == {"soft": {"resolution": "720p"}}
        assert not list((tmp_path / "a").glob("*.json")) and not (tmp_path / "a" / "rates").exists()
    finally:
        a.store.close()
        b.store.close()


def _submit_ten(db: str, sandbox: str, data_dir: str, clip: str, start_at: float,
                name: str) -> list[str]:
    """One app process: its own Studio and store; ten threads submit at ``start_at``.
    Returns "ok" or the refusal sentence per submit."""
    settings = Settings.from_mapping({"OXEN_BASE_URL": sandbox, "LTX_BASE_URL": sandbox,
                                      "STUDIO_DATA_DIR": data_dir})
    studio = Studio(settings, JobStore(db), sandbox_url=sandbox)
    prepared = studio.prepare(RHEA, Source("upload", "realshort.mp4", path=Path(clip)),
                              {"resolution": "720p"})
    assert prepared.quote.amount_usd == QUOTE, prepared.quote
    outcomes: list[str] = []
    lock = threading.Lock()

    def one() -> None:
        time.sleep(max(0.0, start_at - time.time()))
        try:
            studio.submit(prepared, owner_name=name)
            result = "ok"
        except BudgetExceededError as exc:
            result = str(exc)
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=one) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    studio.store.close()
    return outcomes


def test_twenty_concurrent_submits_from_two_processes_never_cross_the_cap(
        db_url, tmp_path, sandbox, realshort):  # noqa: F811
    """A $0.07 team cap fits 10 submits quoted $0.0068; 20 at once, 10 from each of two
    processes: exactly 10 are stored and sent, 10 are refused with the arithmetic."""
    store = JobStore(db_url)
    BudgetStore(store).save(period="month", team_usd=CAP)
    Studio(settings_for(tmp_path, sandbox, "warm"), store, sandbox_url=sandbox).resolve_source(
        "oxen", Source("upload", "realshort.mp4", path=realshort))  # the upload, cached once
    before = requests.get(f"{sandbox}/_sandbox/stats", timeout=10).json()["paid_posts"]
    start_at = time.time() + 8.0  # both processes are up and have probed the clip by then
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        runs = [pool.apply_async(_submit_ten, (db_url, sandbox, str(tmp_path / n),
                                               str(realshort), start_at, n))
                for n in ("app-a", "app-b")]
        outcomes = [o for run in runs for o in run.get(timeout=240)]
    after = requests.get(f"{sandbox}/_sandbox/stats", timeout=10).json()["paid_posts"]
    assert len(outcomes) == 20
    assert outcomes.count("ok") == 10, outcomes
    rows = store.list()
    assert len(rows) == 10 and after - before == 10
    assert {r.owner_name for r in rows} <= {"app-a", "app-b"}
    spent = sum((r.quote_usd for r in rows), Decimal(0))
    assert spent == 10 * QUOTE <= Decimal(CAP)
    for refusal in (o for o in outcomes if o != "ok"):
        # $0.068 + $0.0068 = $0.0748 over $0.07: at the cent "$0.07 + $0.01 = $0.07" would
        # not add up, so the sentence reads at 4 decimals.
        assert refusal.startswith("Refused: team budget for ") and "is $0.0700;" in refusal
        assert "+ this request $0.0068 = $0.0748, which is $0.0048 over" in refusal, refusal
    # spare the sandbox the ten accepted generations
    studio = Studio(settings_for(tmp_path, sandbox, "done"), store, sandbox_url=sandbox)
    for row in rows:
        if row.remote_id:
            try:
                studio.cancel(row)
            except Exception:  # noqa: BLE001 - finished already
                pass
    store.close()


def test_the_store_records_the_upgrade_time_in_utc(db_url):  # noqa: F811
    """Saved caps carry who and when (UTC) for the record."""
    store = JobStore(db_url)
    BudgetStore(store).save(period="day", team_usd="1", who="Ada")
    saved = store.budgets.read()
    assert saved["saved_by"] == "Ada" and saved["saved_at"].tzinfo is UTC
    assert (datetime.now(UTC) - saved["saved_at"]).total_seconds() < 60
    store.close()
