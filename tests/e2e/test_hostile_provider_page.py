"""What a viewer sees when the provider is hostile (issue 9 §5, §9): an echoed key is in no
page, provider text is shown as plain text (a Markdown image in an ``error_message`` is not
fetched), the sidebar shows no exception class or server path, and a settled download offers
"Download again", which works once the provider serves the file."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from studio.config import Secret
from studio.jobs import Job, JobStore, utcnow
from studio.tracking.work import WorkQueue
from tests.e2e.conftest import ARTIFACTS, launch_app
from tests.hostile.server import HostileProvider, build_files

pytestmark = pytest.mark.e2e

KEY = "sk-live-E2EHOSTILE7a6b5c4d3e2f1"
CASES = ("markdown_error", "failed_echo", "auth_echo", "retry_fixes")


def wait_for(what: str, check, timeout: float = 120.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_hostile_provider_text_on_the_page(page: Page, tmp_path: Path):
    hostile = HostileProvider(build_files(tmp_path / "files"), KEY).start()
    data = tmp_path / "data"
    store = JobStore(data / "jobs.sqlite3")
    ids = {}
    for case in CASES:
        ids[case] = store.insert(Job(
            model_id="topazlabs-rhea-video", provider="oxen", owner=Secret(KEY).fingerprint(),
            params={"resolution": "1080p"}, status="queued", remote_id=case, target="live",
            source={"kind": "url", "label": f"case-{case}.mp4", "url": "https://x/in.mp4"},
            next_poll_at=0.0, submitted_at=utcnow())).id
    env = {"OXEN_API_KEY": KEY, "OXEN_BASE_URL": hostile.url, "LTX_BASE_URL": hostile.url,
           "STUDIO_DOWNLOAD_TRIES": "1"}
    html = ""
    try:
        with launch_app(data, env) as url:
            page.set_viewport_size({"width": 1440, "height": 1000})
            page.goto(url)  # the first session starts the app's tracker
            expect(page.get_by_role("heading", name="Generations"),
                   "the Generations page").to_be_visible(timeout=60_000)
            wait_for("the app's tracker to settle every case", lambda: (
                store.get(ids["markdown_error"]).status == "failed"
                and store.get(ids["failed_echo"]).status == "failed"
                and store.get(ids["auth_echo"]).poll_failures >= 1
                and WorkQueue(store).for_job(ids["retry_fixes"]).get("download") is not None
                and WorkQueue(store).for_job(ids["retry_fixes"])["download"].status == "failed"))
            search = page.get_by_role("textbox", name="Search")
            for case in CASES:
                search.fill(f"case-{case}")
                search.press("Enter")
                expect(page.get_by_text(f"source case-{case}.mp4").first,
                       f"the detail of {case}").to_be_visible(timeout=30_000)
                html += page.content()
                if case == "markdown_error":
                    # The Markdown image is shown as the text it is, not as an image.
                    expect(page.get_by_text(re.compile(r"!\[pixel\]\(http")).first,
                           "the error_message as plain text").to_be_visible(timeout=10_000)
                    assert not page.locator("img[src*='pixel.png']").count()
                if case == "retry_fixes":
                    expect(page.get_by_text(re.compile("result could not be downloaded")).first,
                           "the settled download's sentence").to_be_visible(timeout=10_000)
                    page.screenshot(path=str(ARTIFACTS / "hostile-download-failed.png"),
                                    full_page=True)
                    hostile.fixed.add("retry_fixes")
                    page.get_by_role("button", name="Download again").click()
                    wait_for("the retried download", lambda: bool(
                        store.get(ids["retry_fixes"]).result_files), timeout=60)
                    expect(page.locator("video").first,
                           "the result playing after the retry").to_be_visible(timeout=30_000)
                    html += page.content()
            sidebar = page.locator("[data-testid='stSidebar']").inner_text()
            html += page.content()
    finally:
        hostile.stop()
    assert KEY not in html
    for path in data.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), f"the key is in {path}"
    assert hostile.hits("pixel fetched") == 0  # no viewer's browser fetched the image
    assert str(data) not in sidebar and "Error:" not in sidebar and "Exception" not in sidebar
    retried = store.get(ids["retry_fixes"])
    assert retried.error is None and Path(retried.result_files["video"]).is_file()
