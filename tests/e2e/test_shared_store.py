"""Two app processes (two Streamlit servers on two ports) on one database (issue 11 §1): a team
cap, a rate override and a preset saved in one are in force in the other at once; twenty
Submit presses split across both against a cap that fits ten store and send exactly ten.

The database is PostgreSQL from ``TEST_DATABASE_URL`` (a schema of its own; skipped locally
without it, a failure under CI) or one shared SQLite file. Both apps talk to one sandbox and
keep separate data dirs, so nothing reaches the second app through a file of the first.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page, expect

from studio.budget import BudgetStore
from studio.local_sandbox import start_sandbox
from studio.ratebook import OverrideStore
from studio.store import JobStore
from tests.core.test_store_backends import backend, db_url  # noqa: F401  (fixtures)
from tests.e2e.conftest import ARTIFACTS, launch_app
from tests.e2e.waits import eventually, wait_for_idle

pytestmark = pytest.mark.e2e


def _open_budget(page: Page) -> None:
    sidebar = page.get_by_test_id("stSidebar")
    field = sidebar.get_by_label("Team cap (USD)", exact=True)
    if not field.is_visible():
        sidebar.get_by_text(re.compile(r"^Budget")).first.click()
    expect(field, "the sidebar's team cap field").to_be_visible(timeout=60_000)


def test_a_cap_an_override_and_a_preset_saved_in_one_app_are_in_force_in_the_other(
        page: Page, tmp_path: Path, db_url: str):  # noqa: F811
    database = db_url if "://" in db_url else f"sqlite:///{db_url}"
    sandbox = start_sandbox(tmp_path / "sandbox", port=None, workers=1)
    env = {"DATABASE_URL": database, "OXEN_BASE_URL": sandbox.url, "LTX_BASE_URL": sandbox.url}
    try:
        with launch_app(tmp_path / "a", env) as app_a, launch_app(tmp_path / "b", env) as app_b:
            # App A: a team cap from the sidebar ...
            page.goto(f"{app_a}/rates")
            _open_budget(page)
            sidebar = page.get_by_test_id("stSidebar")
            sidebar.get_by_label("Team cap (USD)", exact=True).fill("12.34")
            sidebar.get_by_role("button", name="Save budget").click()
            expect(sidebar.get_by_text(re.compile(r"Team budget: \$0\.00 of \$12\.34")),
                   "A's sidebar showing the saved cap").to_be_visible(timeout=30_000)
            # ... a team override on the Rates page ...
            main = page.get_by_test_id("stMain")
            main.get_by_label(re.compile(r"^New rate")).fill("0.05")
            main.get_by_label(re.compile(r"^Reason")).fill("contract with Oxen, Nov 2026")
            wait_for_idle(page, what="the Rates page to settle before saving the override")
            main.get_by_role("button", name="Save override").click()
            shared = JobStore(database)
            try:  # the durable outcome, not the one-off "Saved: …" line
                eventually(lambda: [format(r.usd, "f") for r in OverrideStore(shared).load()]
                           == ["0.05"], what="A's override in the shared store")
            finally:
                shared.close()
            # ... and a preset on the Starlight page.
            page.goto(f"{app_a}/starlight")
            main = page.get_by_test_id("stMain")
            main.get_by_text("Presets", exact=True).click(timeout=90_000)
            main.get_by_label("Save the current values as").fill("team look")
            # A click during a rerun can be lost (u1, load 12–28): click once the page is
            # idle, and wait for the durable outcome, the preset in the shared database.
            wait_for_idle(page, what="the Starlight page to settle before saving the preset")
            main.get_by_role("button", name="Save", exact=True).click()
            shared = JobStore(database)
            try:
                eventually(lambda: "team look" in [e[0] for e in shared.presets.entries(
                    "topazlabs-upscale-starlight-2-5-video")], what="A's preset in the shared store")
            finally:
                shared.close()

            # App B, another process with another data dir, sees all three at once.
            page.goto(f"{app_b}/rates")
            _open_budget(page)
            sidebar = page.get_by_test_id("stSidebar")
            expect(sidebar.get_by_text(re.compile(r"Team budget: \$0\.00 of \$12\.34")),
                   "B's sidebar applying A's cap").to_be_visible(timeout=60_000)
            expect(sidebar.get_by_label("Team cap (USD)", exact=True)).to_have_value("12.34")
            main = page.get_by_test_id("stMain")
            overrides = main.get_by_test_id("stMetric").filter(has_text="Team overrides")
            expect(overrides, "B counting A's override").to_contain_text("1", timeout=30_000)
            expect(main.get_by_text(re.compile(r"^Now: \$0\.05 per output second · override")),
                   "B quoting from A's override").to_be_visible(timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "shared-store-rates-b.png"), full_page=True)
            page.goto(f"{app_b}/starlight")
            main = page.get_by_test_id("stMain")
            main.get_by_text("Presets", exact=True).click(timeout=90_000)
            saved = main.get_by_role("combobox", name="Saved presets")
            expect(saved, "B offering A's preset").to_have_value("team look", timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "shared-store-presets-b.png"), full_page=True)
        # The durable outcome: one row of each in the shared database, no per-app file.
        store = JobStore(database)
        assert format(store.budgets.read()["team_usd"], "f") == "12.34"
        assert [format(r.usd, "f") for r in OverrideStore(store).load()] == ["0.05"]
        assert [e[0] for e in store.presets.entries("topazlabs-upscale-starlight-2-5-video")
                ] == ["team look"]
        for app in ("a", "b"):
            assert not list((tmp_path / app).glob("*.json")), app
        store.close()
    finally:
        sandbox.stop()


RHEA_720P = Decimal("0.0068")  # realshort.mp4 at 720p: 1.2 output s × $0.0056667 → $0.0068
TEAM_CAP = "0.07"  # fits 10 × $0.0068 = $0.068, not 11 (= $0.0748)
# What a refused page says, whichever way it was refused: the submit's own refusal ("Refused:
# team budget … spent $0.0680 (…) + this request $0.0068 = $0.0748, which is $0.0048 over.")
# or, once the page has redrawn, the quote card's verdict on the disabled button ("Would cross
# the team cap by $0.0048. … $0.0680 spent + this request $0.0068 = $0.0748 of $0.0700 …").
# At the cent ($0.07 + $0.01 = $0.07) the sum would not add up, so both read at 4 decimals.
_REFUSAL = re.compile(r"(Refused: team budget|Would cross the team cap by \$0\.0048)[^\n]*")


def _outcome(page: Page) -> str | None:
    """"submitted" once the page shows the status card of its generation; the refusal's
    sentence once the page, idle, says why nothing was sent; None while it is still busy."""
    main = page.get_by_test_id("stMain")
    if main.get_by_text(re.compile(r"^Your generation")).count():
        return "submitted"
    state = page.get_by_test_id("stApp").get_attribute("data-test-script-state")
    refusal = _REFUSAL.search(main.inner_text())
    return refusal.group(0) if refusal and state == "notRunning" else None


def test_twenty_submits_from_two_apps_at_once_stop_exactly_at_the_team_cap(
        page: Page, tmp_path: Path, db_url: str, realshort: Path):  # noqa: F811
    """Twenty Rhea pages, ten on each of two Streamlit servers sharing one database, press
    Submit together against a $0.07 team cap that fits ten $0.0068 requests: exactly ten are
    stored and reach the sandbox, and the other ten pages say why they were refused, with the
    arithmetic ($0.0680 committed + this request $0.0068 = $0.0748, $0.0048 over)."""
    database = db_url if "://" in db_url else f"sqlite:///{db_url}"
    sandbox = start_sandbox(tmp_path / "sandbox", port=None, workers=1)
    env = {"DATABASE_URL": database, "OXEN_BASE_URL": sandbox.url, "LTX_BASE_URL": sandbox.url}
    shared = JobStore(database)
    BudgetStore(shared).save(period="month", team_usd=TEAM_CAP)
    pages = [page] + [page.context.new_page() for _ in range(19)]
    outcomes: dict[int, str] = {}
    try:
        with launch_app(tmp_path / "a", env) as app_a, launch_app(tmp_path / "b", env) as app_b:
            # Each step is taken on every page before the next, so the two servers work on
            # twenty sessions at once rather than one page after another.
            for i, p in enumerate(pages):
                p.goto(f"{(app_a, app_b)[i % 2]}/rhea", wait_until="commit")
            for p in pages:  # twenty first runs on two cores: minutes, not seconds
                p.get_by_role("radiogroup", name="Source clip").get_by_text("Upload").click(
                    timeout=480_000)
            for p in pages:
                p.locator("[data-testid=stFileUploaderDropzoneInput]").first.set_input_files(
                    str(realshort))
            for i, p in enumerate(pages):
                expect(p.get_by_test_id("stMain").get_by_text("1.2 output s").first,
                       f"page {i}: the quote of the uploaded clip").to_be_visible(timeout=180_000)
                wait_for_idle(p, what=f"page {i} to take the upload")
                p.get_by_role("radiogroup", name="Output resolution").get_by_text(
                    "720p", exact=True).click(timeout=120_000)
            buttons = []
            for i, p in enumerate(pages):
                submit = p.get_by_role("button", name=re.compile(r"^Submit"))
                expect(submit, f"page {i}: the Submit button with the quote and the verdict"
                       ).to_have_text("Submit · $0.01 · fits the team cap", timeout=120_000)
                expect(p.get_by_test_id("stMain").get_by_text("1.2 output s × $0.0056667"),
                       f"page {i}: the 720p quote").to_be_visible()
                wait_for_idle(p, what=f"page {i} to settle before the submit")
                buttons.append(submit.element_handle())
            before = requests.get(f"{sandbox.url}/_sandbox/stats", timeout=10).json()
            for button in buttons:  # twenty clicks within a fraction of a second
                button.evaluate("b => b.click()")

            def read_outcomes() -> str | None:
                for i, p in enumerate(pages):
                    if i not in outcomes and (seen := _outcome(p)):
                        outcomes[i] = seen
                missing = [i for i in range(20) if i not in outcomes]
                return None if missing else "all"

            eventually(read_outcomes, timeout_s=180,
                       what="all twenty pages to show a status card or a refusal")
            pages[1].screenshot(path=str(ARTIFACTS / "shared-store-twenty-submits.png"))
            rows = shared.list()
            after = requests.get(f"{sandbox.url}/_sandbox/stats", timeout=10).json()
        refusals = [o for o in outcomes.values() if o != "submitted"]
        assert len(refusals) == 10, outcomes
        assert len(rows) == 10 and all(r.remote_id for r in rows), [(r.status, r.error)
                                                                      for r in rows]
        assert after["paid_posts"] - before["paid_posts"] == 10
        assert sum((r.quote_usd for r in rows), Decimal(0)) == 10 * RHEA_720P
        for refusal in refusals:  # ten in already: 10 × $0.0068 = $0.0680
            assert "$0.0680" in refusal and "this request $0.0068 = $0.0748" in refusal, refusal
            assert "$0.0048 over" in refusal, refusal
    finally:
        for p in pages[1:]:
            p.close()
        shared.close()
        sandbox.stop()
