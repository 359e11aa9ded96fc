"""Every page's URL, opened directly as the first visit of a fresh server, shows that page
inside the app's frame (issue 11 §5).

A first visit is exactly when Streamlit's legacy ``pages/`` mode would run a page file on
its own (components/router.py explains the one guard against it), so each page gets its own
app process; they share one sandbox so only the app starts each time. Each page is then
reloaded (the process has left the legacy mode by then) and checked again.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from studio import models
from studio.jobs import Job, JobStore
from studio.local_sandbox import start_sandbox
from tests.e2e.conftest import launch_app

pytestmark = pytest.mark.e2e

PAGES = [("", "Generations"), *((u.page, u.display_name) for u in models.units()),
         ("sampler", "Sampler"), ("review?g={g}", "Review"),
         ("forecast", "Cost forecast"), ("ledger", "Estimate vs actual"), ("rates", "Rates")]


@pytest.fixture(scope="module")
def sandbox_url(tmp_path_factory):
    sandbox = start_sandbox(tmp_path_factory.mktemp("routing-sandbox"), port=None, workers=1)
    yield sandbox.url
    sandbox.stop()


def _expect_framed(page: Page, title: str) -> None:
    heading = page.get_by_role("heading", name=title, exact=True).first
    expect(heading, f"the page heading {title!r}").to_be_visible(timeout=90_000)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text("Mode"), "the app's sidebar (mode badge)").to_be_visible(
        timeout=30_000)
    nav = page.get_by_test_id("stSidebarNav")
    # The app's own navigation: its section names and display names, not file names.
    expect(nav.get_by_text("Costs", exact=True), "the app's navigation sections").to_be_visible()
    expect(nav.get_by_text("Topaz Starlight 2.5", exact=True),
           "display names in the navigation").to_be_visible()
    expect(nav.get_by_text(re.compile(r"^(app|starlight|ltx hdr|hyperion hdr)$", re.I)),
           "no file-name titles from the legacy pages/ mode").to_have_count(0)
    expect(page.get_by_text("Page not found"), "no 'Page not found'").to_have_count(0)


def _review_link_generation(data) -> str:
    """A finished (failed, so nothing to play) generation in ``data``'s store: the id a
    teammate's review link names."""
    store = JobStore.from_settings(data, None)
    unit = models.units()[0]
    job = store.insert(Job(model_id=unit.id, provider=unit.provider, owner="o",
                           params={}, source={"kind": "sample", "label": "cockatoo.mp4"},
                           status="failed", remote_id="r", error="The provider said no."))
    store.close()
    return job.id


@pytest.mark.parametrize("path, title", PAGES,
                         ids=[p.split("?")[0] or "root" for p, _ in PAGES])
def test_each_url_opened_first_on_a_fresh_server_shows_its_page_in_the_frame(
        page: Page, tmp_path, sandbox_url, path, title):
    env = {"OXEN_BASE_URL": sandbox_url, "LTX_BASE_URL": sandbox_url}
    if "{g}" in path:  # a review link: its query must survive the first visit's rerun
        path = path.format(g=_review_link_generation(tmp_path / "data"))
    with launch_app(tmp_path / "data", env) as url:
        for visit in ("first visit", "reload"):
            if visit == "first visit":
                page.goto(f"{url}/{path}")
            else:
                page.reload()
            _expect_framed(page, title)
            assert page.url.rstrip("/") == f"{url}/{path}".rstrip("/")
            if path.startswith("review?"):
                expect(page.get_by_text("read-only · opened from a review link"),
                       f"the linked generation on the review page ({visit})").to_be_visible(
                    timeout=60_000)
