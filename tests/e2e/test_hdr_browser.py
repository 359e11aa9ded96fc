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

from tests.e2e.conftest import ARTIFACTS, launch_app
from tests.e2e.hdr_seed import seed_hdr_generations
from tests.e2e.waits import wait_for_idle
from tests.model_ids import HYPERION, LTX_DIRECT

pytestmark = pytest.mark.e2e

PANEL_MS = 120_000  # a busy 2-core machine: decode, scopes and a first Streamlit run


@pytest.fixture
def hdr_app(tmp_path, realshort):
    seed_hdr_generations(tmp_path / "data", realshort, models=(HYPERION,))
    with launch_app(tmp_path / "data") as url:
        yield url


@pytest.fixture
def exr_app(tmp_path, realshort):
    seed_hdr_generations(tmp_path / "data", realshort, models=(LTX_DIRECT,))
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

    # The inspector follows the compare player's playhead (issue 8 "Where it shows"): seek the
    # player to about 0.55 s (the seek bar steps by frames), it reports the playhead once
    # settled, and the inspector measures the frame the player's counter shows.
    player = page.locator("[data-testid=compare-player]").first
    player.scroll_into_view_if_needed()
    player.locator(".vcmp-seek").fill("0.55")
    expect(player, "the player reporting its settled playhead").to_have_attribute(
        "data-reported-time", re.compile(r"^0\.5"), timeout=PANEL_MS)
    frame = int(player.get_attribute("data-frame"))
    assert frame > 10, frame  # not the first frame the inspector opened on
    assert player.get_attribute("data-reported-time") == player.get_attribute("data-time")
    expect(page.get_by_text(re.compile(rf"^Frame {frame} at ")),
           f"the inspector on the player's frame {frame}").to_be_visible(timeout=PANEL_MS)
