"""Two browser sessions with different keys share one store: each sees its own generations
under "Mine" and everyone's under "Team"."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from studio.jobs import JobStore
from studio.local_sandbox import start_sandbox
from tests.e2e.conftest import launch_app, upload_clip
from tests.e2e.waits import eventually, wait_for_idle

pytestmark = pytest.mark.e2e


def _scope(page: Page, label: str) -> None:
    page.get_by_role("radiogroup", name="Show").get_by_text(label, exact=True).click()


def test_mine_and_team_with_two_keys(browser: Browser, tmp_path: Path, realshort: Path):
    sandbox = start_sandbox(tmp_path / "sandbox", port=None)
    shared = tmp_path / "shared-data"  # one store for both app processes
    base = {"OXEN_NAMESPACE": "team", "OXEN_BASE_URL": sandbox.url, "LTX_BASE_URL": sandbox.url}
    try:
        with launch_app(shared, {**base, "OXEN_API_KEY": "key-of-ada-1111"}) as url_a, \
                launch_app(shared, {**base, "OXEN_API_KEY": "key-of-bob-2222"}) as url_b:
            ada, bob = browser.new_page(), browser.new_page()
            ada.goto(f"{url_a}/rhea")
            submit = ada.get_by_role("button", name=re.compile(r"^Submit"))
            expect(submit, "Rhea's Submit enabled for the sample").to_be_enabled(timeout=120_000)
            upload_clip(ada, realshort)  # a 1.2 s clip keeps the generation short
            ada.get_by_role("radiogroup", name="Resolution").get_by_text("720p").click()
            expect(submit, "Rhea's Submit enabled").to_be_enabled(timeout=120_000)
            wait_for_idle(ada, what="Rhea's page to settle before clicking Submit")
            submit.click()
            # What this test is about is who sees the generation, not the page's live refresh
            # (the model-page journeys cover that): wait for the stored outcome, then load the
            # pages afresh.
            store = JobStore.from_settings(shared, None)
            try:
                [job] = eventually(lambda: [j for j in store.list() if j.is_terminal] or None,
                                   what="Ada's generation to end in the shared store",
                                   timeout_s=600)
            finally:
                store.close()
            assert job.status == "succeeded", job.error
            ada.goto(url_a)
            _scope(ada, "Mine")
            expect(ada.get_by_text("1 generation(s)"), "Ada's own generation under Mine"
                   ).to_be_visible(timeout=60_000)
            bob.goto(url_b)
            expect(bob.get_by_text("1 generation(s)"), "the team's generation for Bob"
                   ).to_be_visible(timeout=60_000)
            _scope(bob, "Mine")
            expect(bob.get_by_text("None of these generations are yours"),
                   "Bob's empty Mine list").to_be_visible(timeout=60_000)
            expect(bob.get_by_text("1 generation(s)")).to_have_count(0)
            _scope(bob, "Team")
            expect(bob.get_by_text("1 generation(s)"), "Ada's generation under Bob's Team"
                   ).to_be_visible(timeout=60_000)
    finally:
        sandbox.stop()
