"""In Chromium: the budget guard as a person meets it (refused with the arithmetic, through
after raising the cap), and a 20-clip forecast plan whose exported CSV, page total and
``python -m studio forecast`` agree to the cent."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from studio import catalog
from studio.config import Settings
from studio.jobs import Job, JobStore
from tests.e2e.conftest import ARTIFACTS, REPO, launch_app

pytestmark = pytest.mark.e2e

TWENTY = REPO / "samples" / "plans" / "twenty_clips.csv"


def _seed_spend(data: Path, usd: str) -> None:
    now = datetime.now(UTC)
    JobStore(data / "jobs.sqlite3").insert(Job(
        model_id=catalog.STARLIGHT, provider="oxen", owner=Settings.from_mapping({}).owner(),
        params={}, source={"kind": "sample", "label": "earlier.mp4"}, status="succeeded",
        target="sandbox", charge_usd=usd, quote={"amount_usd": usd, "tier": "4k"},
        created_at=now, submitted_at=now, completed_at=now))


def _save_team_cap(page: Page, usd: str) -> None:
    sidebar = page.get_by_test_id("stSidebar")
    field = sidebar.get_by_label("Team cap (USD)", exact=True)
    if not field.is_visible():
        sidebar.get_by_text(re.compile(r"^Budget")).first.click()
    field.fill(usd)
    sidebar.get_by_role("button", name="Save budget").click()
    expect(page.get_by_text(re.compile(r"^Budget saved")).first).to_be_visible(timeout=30_000)


def test_budget_refuses_then_lets_through_after_raising_the_cap(page: Page, tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    _seed_spend(data, "8.50")
    with launch_app(data) as url:
        page.goto(f"{url}/starlight")
        submit = page.get_by_role("button", name=re.compile(r"^Submit"))
        expect(submit).to_be_enabled(timeout=90_000)
        expect(submit).to_have_text(re.compile(r"\$2\.0916"))
        _save_team_cap(page, "10")
        main = page.get_by_test_id("stMain")
        expect(main.get_by_text(re.compile(r"\$8\.50 of \$10\.00 spent \(85%\)"))).to_be_visible()
        submit.click()
        refusal = main.get_by_text(re.compile(r"Refused: team budget"))
        expect(refusal).to_be_visible(timeout=30_000)
        text = refusal.inner_text()
        assert "$10.00" in text and "$8.50" in text and "$2.0916 = $10.5916" in text, text
        page.screenshot(path=str(ARTIFACTS / "budget-refused.png"), full_page=True)
        assert len(JobStore(data / "jobs.sqlite3").list()) == 1  # nothing stored or sent

        _save_team_cap(page, "20")
        page.get_by_role("button", name=re.compile(r"^Submit")).click()
        expect(page.get_by_text(re.compile(r"Submitted 1 generation"))).to_be_visible(
            timeout=120_000)
        jobs = JobStore(data / "jobs.sqlite3").list()
        assert len(jobs) == 2 and jobs[0].quote_usd == "2.0916" and jobs[0].remote_id


def test_twenty_clip_plan_exports_the_page_and_cli_total(page: Page, tmp_path: Path):
    with launch_app(tmp_path / "data") as url:
        page.goto(f"{url}/forecast")
        main = page.get_by_test_id("stMain")
        main.get_by_role("tab", name="Import CSV").click(timeout=90_000)
        main.locator("input[type=file]").filter(visible=False).last.set_input_files(str(TWENTY))
        main.get_by_role("button", name="Import").click(timeout=30_000)
        total_metric = main.get_by_test_id("stMetric").filter(has_text="Plan total")
        expect(total_metric).to_be_visible(timeout=60_000)
        page_total = re.search(r"\$([0-9.]+)", total_metric.inner_text()).group(1)

        with page.expect_download(timeout=30_000) as dl:
            main.get_by_role("button", name="Export CSV").click()
        exported = Path(dl.value.path()).read_text(encoding="utf-8")
        rows = list(csv.DictReader(io.StringIO(exported)))
        assert len(rows) == 20
        assert len({r["model_id"] for r in rows}) == 3
        csv_total = sum((Decimal(r["quote_usd"]) for r in rows), Decimal(0))
        page.screenshot(path=str(ARTIFACTS / "forecast.png"), full_page=True)

    out = subprocess.run([sys.executable, "-m", "studio", "forecast", str(TWENTY)], cwd=REPO,
                         capture_output=True, text=True, check=True,
                         env={"STUDIO_DATA_DIR": str(tmp_path / "cli-data"), "PATH": "/usr/bin"})
    cli_total = re.search(r"^Total: \$([0-9.]+)$", out.stdout, re.M).group(1)
    assert Decimal(page_total) == csv_total == Decimal(cli_total), (page_total, csv_total,
                                                                     cli_total)
