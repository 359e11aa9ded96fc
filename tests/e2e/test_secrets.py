"""A distinctive key never appears in page HTML, exported code, logs, the store or anything
else in the data dir — while the app really uses it (live mode through the same client code,
pointed at a sandbox)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from studio.local_sandbox import start_sandbox
from tests.e2e.conftest import launch_app, upload_clip
from tests.e2e.waits import wait_for_idle

pytestmark = pytest.mark.e2e

OXEN_KEY = "oxen-DISTINCTIVE-7f3a9c51e2"
LTX_KEY = "ltx-DISTINCTIVE-b41d2e0977"


def _run(page: Page, url: str, slug: str, clip: Path) -> str:
    """Submit ``clip`` (uploaded: a short clip keeps the run short) on the page ``slug`` and
    return the page's HTML with the exported request shown as Python and cURL."""
    page.goto(f"{url}/{slug}")
    submit = page.get_by_role("button", name=re.compile(r"^Submit"))
    expect(submit, f"Submit enabled on {slug}").to_be_enabled(timeout=120_000)
    upload_clip(page, clip)
    expect(submit, f"Submit enabled on {slug} for the upload").to_be_enabled(timeout=120_000)
    if slug == "starlight":  # 1080p keeps the run short
        page.get_by_role("radiogroup", name="Resolution").get_by_text("1080p").click()
    wait_for_idle(page, what=f"{slug} to settle before clicking Submit")
    submit.click()
    expect(page.get_by_text(re.compile(r"^(succeeded|failed)$")).filter(visible=True).first,
           f"the {slug} generation to finish").to_be_visible(timeout=600_000)
    page.get_by_text("Copy as Python / cURL / JavaScript").click()
    html = page.content()
    page.get_by_role("tab", name="cURL").first.click()
    return html + page.content()


def test_keys_never_leak(page: Page, tmp_path: Path, realshort: Path):
    sandbox = start_sandbox(tmp_path / "sandbox", port=None)
    try:
        env = {"OXEN_API_KEY": OXEN_KEY, "LTXV_API_KEY": LTX_KEY, "OXEN_NAMESPACE": "team",
               "OXEN_BASE_URL": sandbox.url, "LTX_BASE_URL": sandbox.url}
        with launch_app(tmp_path / "data", env) as url:
            html = (_run(page, url, "starlight", realshort)
                    + _run(page, url, "ltx_direct", realshort))
            assert "$OXEN_API_KEY" in html and "$LTXV_API_KEY" in html  # the export is there
            assert "Live" in html  # and the keys really were in use
            page.goto(url)  # the Generations page
            expect(page.get_by_text("succeeded", exact=True).filter(visible=True).first,
                   "a succeeded generation on the Generations page").to_be_visible(
                timeout=60_000)
            html += page.content()
    finally:
        sandbox.stop()
    for key in (OXEN_KEY, LTX_KEY):
        assert key not in html
        for path in tmp_path.rglob("*"):  # store (+ WAL), logs, uploads, results, previews
            if path.is_file():
                assert key.encode() not in path.read_bytes(), f"{key} found in {path}"
