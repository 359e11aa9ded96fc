"""Two app processes (two Streamlit servers on two ports) on one database: a team cap, a rate
override and a preset saved in one are in force in the other at once (issue 11 §1).

The database is PostgreSQL from ``TEST_DATABASE_URL`` (a schema of its own; skipped locally
without it, a failure under CI) or one shared SQLite file. Both apps talk to one sandbox and
keep separate data dirs, so nothing reaches the second app through a file of the first.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

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
