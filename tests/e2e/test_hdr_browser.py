"""In Chromium: the HDR inspector on a Hyperion PQ result and the EXR frame browser on an LTX
EXR result — scopes and false colour render, the scrubber moves to another frame.

The results are made by the sandbox's own processing (tests/e2e/hdr_seed.py) and stored as
succeeded generations, as the tracker leaves them after a download; each test starts its
own app on its own data dir and stops it before the next test.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from studio import catalog
from tests.e2e.conftest import ARTIFACTS, launch_app
from tests.e2e.hdr_seed import seed_hdr_generations
from tests.e2e.waits import wait_for_idle

pytestmark = pytest.mark.e2e

PANEL_MS = 120_000  # a busy 2-core machine: decode, scopes and a first Streamlit run


@pytest.fixture
def hdr_app(tmp_path, realshort):
    seed_hdr_generations(tmp_path / "data", realshort, models=(catalog.HYPERION,))
    with launch_app(tmp_path / "data") as url:
        yield url


@pytest.fixture
def exr_app(tmp_path, realshort):
    seed_hdr_generations(tmp_path / "data", realshort, models=(catalog.LTX_DIRECT,))
    with launch_app(tmp_path / "data") as url:
        yield url


def test_hdr_inspector_on_a_hyperion_pq_result(page: Page, hdr_app: str):
    page.goto(hdr_app)
    toggle = page.get_by_text(re.compile("^HDR inspector"))
    expect(toggle, "the HDR inspector toggle under the PQ result").to_be_visible(timeout=PANEL_MS)
    toggle.click()
    expect(page.get_by_text("PQ is absolute"), "the PQ caption").to_be_visible(timeout=PANEL_MS)
    # False colour picture + its legend, the two scopes, the light metrics
    expect(page.get_by_text("203–1000 cd/m² (highlights)"),
           "the false-colour legend").to_be_visible(timeout=PANEL_MS)
    picture = page.get_by_test_id("stImage").first
    expect(picture, "the false-colour picture").to_be_visible(timeout=PANEL_MS)
    expect(page.locator(".js-plotly-plot").filter(has_text="Luminance histogram"),
           "the log-nits histogram").to_be_visible(timeout=PANEL_MS)
    expect(page.locator(".js-plotly-plot").filter(has_text="Waveform"),
           "the waveform").to_be_visible(timeout=PANEL_MS)
    expect(page.get_by_text("Frame peak (cd/m²)"), "the frame peak metric").to_be_visible()
    # MaxCLL/MaxFALL are measured in the background, then the chart stays
    expect(page.get_by_text("MaxCLL (cd/m²)"),
           "MaxCLL after the background analysis").to_be_visible(timeout=PANEL_MS)
    expect(page.locator(".js-plotly-plot").filter(has_text="Light level per frame"),
           "the per-frame light-level chart").to_be_visible(timeout=PANEL_MS)
    width = picture.locator("img").evaluate("img => img.naturalWidth")
    assert width == 160  # realshort 320×240 measured on its 4:2:0 chroma grid
    wait_for_idle(page, what="the inspector's first run to finish")
    page.get_by_text("SDR view", exact=True).click()
    expect(page.get_by_text(re.compile(r"^Tone map: ITU-R BT\.2390 EETF")),
           "the SDR view's tone-map operator").to_be_visible(timeout=PANEL_MS)
    page.screenshot(path=str(ARTIFACTS / "hdr_inspector.png"), full_page=True)


def test_exr_browser_on_an_ltx_result_scrubs_to_another_frame(page: Page, exr_app: str):
    page.goto(exr_app)
    toggle = page.get_by_text(re.compile("^EXR frame browser"))
    expect(toggle, "the EXR browser toggle under the LTX result").to_be_visible(timeout=PANEL_MS)
    toggle.click()
    expect(page.get_by_text(re.compile(r"^frame_000000\.exr · 320×240 · float16")),
           "frame 0's caption").to_be_visible(timeout=PANEL_MS)
    frame_img = page.locator("img.exr-frame")
    expect(frame_img, "the frame picture").to_be_visible(timeout=PANEL_MS)
    expect(page.get_by_text(re.compile(r"^NaN samples: 0")), "the NaN/Inf counts").to_be_visible()
    wait_for_idle(page, what="the browser's first frame to settle")
    page.get_by_role("button", name="Step ▶").click()
    expect(page.get_by_text(re.compile(r"^frame_000001\.exr · 320×240")),
           "frame 1 after one step").to_be_visible(timeout=PANEL_MS)
    # A click on the picture reads that pixel: the x/y inputs follow it (once the picture
    # element shows frame 1, so the click lands on the settled page).
    frame_img = page.locator("img.exr-frame[alt='EXR frame 1']")
    expect(frame_img, "the picture of frame 1").to_be_visible(timeout=PANEL_MS)
    frame_img.scroll_into_view_if_needed()
    wait_for_idle(page, what="frame 1 to settle before clicking it")
    box = frame_img.bounding_box()
    frame_img.click(position={"x": box["width"] * 0.75, "y": box["height"] * 0.5})
    # 3/4 across and halfway down a 320×240 frame (± one pixel of rounding)
    expect(page.get_by_role("spinbutton", name="x", exact=True),
           "x after the click").to_have_value(re.compile(r"^(239|240)$"), timeout=PANEL_MS)
    expect(page.get_by_role("spinbutton", name="y", exact=True),
           "y after the click").to_have_value(re.compile(r"^(119|120)$"), timeout=PANEL_MS)
    wait_for_idle(page, what="the pixel readout's rerun")
    page.get_by_text("False colour", exact=True).click()
    expect(page.get_by_text("above 4000 cd/m² (extreme)"),
           "the false-colour legend").to_be_visible(timeout=PANEL_MS)
    expect(page.locator(".js-plotly-plot").filter(has_text="Scene-linear luminance"),
           "the scene-linear histogram").to_be_visible(timeout=PANEL_MS)
    page.screenshot(path=str(ARTIFACTS / "exr_browser.png"), full_page=True)
