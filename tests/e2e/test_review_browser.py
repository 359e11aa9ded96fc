"""In Chromium: the compare player on a real Starlight result, the sampler from variants to the
N-up player and Promote, and a review link opened by a teammate with another key.

One sandbox and one app serve the module (the tests build on each other's generations, in
order); the teammate's app is a second process on the same store, started only for the last
test. Every wait names what it waits for and has a deadline that holds on a busy 2-core
machine.
"""

from __future__ import annotations

import json
import re
import time
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from studio.local_sandbox import start_sandbox
from tests.e2e.conftest import ARTIFACTS, launch_app, upload_clip
from tests.e2e.waits import player_playing, videos_ready, wait_for_idle

pytestmark = pytest.mark.e2e

RESULT_MS = 8 * 60 * 1000
VIEWPORT = {"width": 1440, "height": 900}
BOB_KEY = "key-of-bob-DISTINCT-5150"
# Hand-worked from ../shared/api/pricing.md (rows 1-3, 11, 15): a 2 s segment of cockatoo.mp4
# (40 frames at 20 fps) comes out as 60 frames at 30 fps = 2.0 s; the whole clip as 14.0 s.
#   Starlight 1080p $0.0374/s: 2 × 0.0374 = 0.0748; 14 × 0.0374 = 0.5236
#   Starlight 4k    $0.1494/s: 2 × 0.1494 = 0.2988; 14 × 0.1494 = 2.0916
#   Rhea 1080p (76 credits / 600 s × $0.10 = $0.012667/s): 0.02533 → 0.0253; 0.17733 → 0.1773
VARIANTS = [("Topaz Starlight 2.5", "1080p", "0.0748", "0.5236"),
            ("Topaz Starlight 2.5", "4k", "0.2988", "2.0916"),
            ("Topaz Rhea", "1080p", "0.0253", "0.1773")]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A sandbox we can read the counters of, and the app on it (no key: sandbox mode) with a
    low confirmation threshold so the sampler's batch total is confirmed in a dialog."""
    root = tmp_path_factory.mktemp("review-e2e")
    sandbox = start_sandbox(root / "sandbox", port=None)
    base = {"OXEN_BASE_URL": sandbox.url, "LTX_BASE_URL": sandbox.url,
            "STUDIO_CONFIRM_ABOVE_USD": "0.10"}
    try:
        with launch_app(root / "data", base) as url:
            yield {"url": url, "sandbox": sandbox, "data": root / "data", "base": base}
    finally:
        sandbox.stop()


@pytest.fixture()
def page(browser: Browser):
    context = browser.new_context(viewport=VIEWPORT)
    p = context.new_page()
    p.set_default_timeout(60_000)  # as the suite's page: reruns are slow while both cores encode
    p.set_default_navigation_timeout(90_000)
    yield p
    context.close()


def _player(page: Page, scope: str = ""):
    return page.locator(f"{scope} [data-testid=compare-player]".strip()).first


def _wait_videos(page: Page, scope: str, count: int, what: str) -> list[dict]:
    """Exactly ``count`` videos in the player under ``scope``, read in one instant."""
    return videos_ready(page, count, what=what, exact=True,
                        selector=f"{scope} .vcmp-stage video".strip())


def _to_cent(usd: str) -> str:
    """A hand-worked amount as a headline reads it: half-up to the cent (``0.0253`` → ``$0.03``)."""
    return f"${Decimal(usd).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}"


def _scroll(page: Page) -> float:
    """How far the page is scrolled: the window and Streamlit's own scroll containers."""
    return page.evaluate("""() => window.scrollY + [...document.querySelectorAll(
        '[data-testid=stMain], [data-testid=stAppViewContainer], '
        + '[data-testid=stAppScrollToBottomContainer]')].reduce((s, e) => s + e.scrollTop, 0)""")


def _seek(page: Page, scope: str, seconds: float) -> None:
    page.locator(f"{scope} .vcmp-seek").first.fill(str(seconds))


def test_compare_player_on_a_starlight_1080p_result(page: Page, env, realshort):
    page.goto(f"{env['url']}/starlight")
    # The first visit starts the app's services: wait until the page is fully drawn (the
    # sample is quoted) before touching the source picker.
    expect(page.get_by_role("button", name=re.compile(r"^Submit")),
           "the Starlight page quoting the sample").to_be_enabled(timeout=120_000)
    upload_clip(page, realshort)
    page.get_by_role("radiogroup", name="Resolution").get_by_text("1080p").click()
    submit = page.get_by_role("button", name=re.compile(r"^Submit"))
    expect(submit, "the Submit button priced for 1080p").to_have_text(
        # 36 frames → 36 at 30 fps = 1.2 s × 0.0374 = $0.0449; Submit reads to the cent
        # (4k would read $0.18: 1.2 × 0.1494).
        re.compile(r"\$0\.04(?!\d)"), timeout=60_000)
    wait_for_idle(page, what="the page to settle before clicking Submit")
    # Where the person sees Submit (Playwright's click would scroll it into view on its own,
    # so do that first and remember where the page stands).
    submit.scroll_into_view_if_needed()
    scrolled = _scroll(page)
    submit.click()
    card = page.locator(".st-key-starlight-status-card")
    expect(card, "the status card, on screen without scrolling").to_be_in_viewport(
        timeout=60_000)
    box = card.bounding_box()
    assert box["y"] >= 0 and box["y"] + 200 <= VIEWPORT["height"], box  # its status shows
    assert _scroll(page) == scrolled, "the page scrolled to show the status card"
    expect(card.get_by_text(re.compile("Succeeded")), "the generation to succeed").to_be_visible(
        timeout=RESULT_MS)
    scope = ".st-key-starlight-status-card"
    _wait_videos(page, scope, 2, "source and result playable")
    player = _player(page, scope)
    expect(player, "the compare player in wipe mode").to_have_attribute("data-mode", "wipe")
    videos = _wait_videos(page, scope, 2, "source and result in the wipe player")
    assert sorted((v["w"], v["h"]) for v in videos) == [(320, 240), (1440, 1080)]

    # Dragging the divider moves it (the player grew under the card: bring it on screen).
    handle = page.locator(f"{scope} .vcmp-handle").first
    player.scroll_into_view_if_needed()
    box = handle.bounding_box()
    before = float(player.get_attribute("data-wipe"))
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] - 250, box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()
    after = float(player.get_attribute("data-wipe"))
    assert after < before - 0.1, (before, after)
    moved = page.locator(f"{scope} .vcmp-handle").first.bounding_box()
    assert moved["x"] < box["x"] - 200

    # After a seek every video shows the same instant (within one frame of the result).
    frame = 1 / 30
    _seek(page, scope, 0.6)
    times = [v["t"] for v in _wait_videos(page, scope, 2, "both videos to finish seeking")]
    assert max(times) - min(times) <= frame, times

    # One frame step moves exactly one frame.
    n0 = int(player.get_attribute("data-frame"))
    t0 = max(times)
    page.locator(f"{scope} .vcmp-fwd").first.click()
    expect(player, "the frame counter one frame on").to_have_attribute("data-frame", str(n0 + 1))
    times = [v["t"] for v in _wait_videos(page, scope, 2, "both videos on the next frame")]
    assert all(abs(t - t0 - frame) < 1e-3 for t in times), (t0, times)

    # The documented keys step too: → one frame on, ← one frame back (focus in the player).
    page.locator(f"{scope} .vcmp-time").click()
    page.keyboard.press("ArrowRight")
    expect(player, "→ moves the frame counter one frame on").to_have_attribute(
        "data-frame", str(n0 + 2))
    times = [v["t"] for v in _wait_videos(page, scope, 2, "both videos on the frame after →")]
    assert all(abs(t - t0 - 2 * frame) < 1e-3 for t in times), (t0, times)
    page.keyboard.press("ArrowLeft")
    expect(player, "← moves the frame counter one frame back").to_have_attribute(
        "data-frame", str(n0 + 1))
    times = [v["t"] for v in _wait_videos(page, scope, 2,
                                          "both videos back on the frame after ←")]
    assert all(abs(t - t0 - frame) < 1e-3 for t in times), (t0, times)

    # 100 %: one result pixel per screen pixel, the source drawn at the result's geometry.
    page.locator(f"{scope} .vcmp-zooms button[data-zoom='1']").click()
    expect(player, "zoom 100 %").to_have_attribute("data-zoom", "1")
    for v in _wait_videos(page, scope, 2, "both videos at 100 %"):
        assert (round(v["cw"] * v["dpr"]), round(v["ch"] * v["dpr"])) == (1440, 1080), v

    # The A/B key flips (the player is the page's only one, so keys reach it).
    page.locator(f"{scope} .vcmp-time").click()
    page.keyboard.press("f")
    expect(player, "A/B flip mode").to_have_attribute("data-mode", "flip")
    shown = player.get_attribute("data-shown")
    page.keyboard.press("f")
    expect(player, "the other side after the A/B key").to_have_attribute(
        "data-shown", "B" if shown == "A" else "A")

    # Mode and zoom survive a rerun (any widget change reruns the page).
    page.get_by_text("Interpolate frames", exact=True).first.click()
    expect(page.get_by_role("button", name=re.compile(r"^Submit"))).to_be_visible()
    page.wait_for_timeout(1500)
    expect(_player(page, scope), "mode kept across the rerun").to_have_attribute(
        "data-mode", "flip")
    expect(_player(page, scope), "zoom kept across the rerun").to_have_attribute("data-zoom", "1")
    page.screenshot(path=str(ARTIFACTS / "compare-e2e.png"), full_page=True)

    # A player drawn anew for the same card goes on where the last one was: playing, looped,
    # on the same side and wipe (here the person went to Generations and back; Streamlit
    # can also redraw a card's player on a busy machine).
    player = _player(page, scope)
    player.locator(".vcmp-loop").click()
    player.locator(".vcmp-play").click()
    shown, wipe = player.get_attribute("data-shown"), player.get_attribute("data-wipe")
    assert float(wipe) < 0.4, wipe  # the divider dragged above
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Generations", exact=True).click()
    expect(page.locator(scope), "the Generations page, without the card").to_have_count(0)
    sidebar.get_by_text("Topaz Starlight 2.5", exact=True).click()
    back = _player(page, scope)
    expect(back, "the same side of the flip").to_have_attribute("data-shown", shown)
    expect(back, "the same wipe").to_have_attribute("data-wipe", wipe)

    again = player_playing(back, what="the card's player playing again")
    assert again["loop"], again


def test_sampler_three_variants_to_the_n_up_player_and_promote(page: Page, env):
    stats0 = requests.get(f"{env['sandbox'].url}/_sandbox/stats", timeout=10).json()
    page.goto(f"{env['url']}/sampler")
    expect(page.get_by_role("heading", name="Sampler"), "the Sampler page").to_be_visible(
        timeout=60_000)
    expect(page.get_by_text("Frames 0–39 (40 frames, 2.00 s) of 280"),
           "the default 2 s segment of the sample").to_be_visible(timeout=60_000)
    for model, resolution, _, _ in VARIANTS:
        page.get_by_label("Model", exact=True).click()
        page.get_by_role("option", name=model, exact=True).click()
        page.get_by_role("radiogroup", name="Resolution").get_by_text(resolution, exact=True).click()
        wait_for_idle(page, what=f"the {model} form to settle before adding it")
        page.get_by_role("button", name=re.compile(r"^Add variant")).click()
        expect(page.get_by_text(re.compile(rf"{model} · {resolution} · 30 fps")).first,
               f"the variant {model} {resolution} in the list").to_be_visible(timeout=30_000)
    for i, (_, _, seg, whole) in enumerate(VARIANTS):
        row = page.locator(f".st-key-sampler-variant-{i}")
        # Headlines to the cent; the basis line under each keeps every digit.
        expect(row.get_by_text(f"Segment (2.00 s): {_to_cent(seg)}"),
               f"variant {i + 1}'s segment quote").to_be_visible(timeout=30_000)
        expect(row.get_by_text(f"= ${seg}"), f"variant {i + 1}'s segment basis").to_be_visible()
        expect(row.get_by_text(f"Whole clip (14.00 s): {_to_cent(whole)}"),
               f"variant {i + 1}'s whole-clip cost").to_be_visible()
    total = sum(Decimal(s) for _, _, s, _ in VARIANTS)  # 0.3989
    submit = page.get_by_role("button", name="Submit 3 variants · $0.40")
    expect(submit, "the batch total on the button").to_be_enabled()
    wait_for_idle(page, what="the page to settle before submitting the batch")
    submitted = time.monotonic()
    submit.click()
    dialog = page.get_by_role("dialog")
    expect(dialog, "the confirmation of the batch total").to_be_visible(timeout=120_000)
    expect(dialog.get_by_text(
        f"= ${VARIANTS[0][2]} + ${VARIANTS[1][2]} + ${VARIANTS[2][2]} = ${total}"),
        "the confirmed total as the sum of the segment quotes").to_be_visible()
    wait_for_idle(page, what="the dialog to settle before confirming")
    dialog.get_by_role("button", name="Confirm and submit").click()

    for i in range(3):
        expect(page.locator(f".st-key-sampler-result-{i}").get_by_text(re.compile("Succeeded")),
               f"variant {i + 1} to succeed").to_be_visible(timeout=RESULT_MS)
    g = parse_qs(urlparse(page.url).query)["g"][0].split(",")
    assert len(g) == 3
    stats = requests.get(f"{env['sandbox'].url}/_sandbox/stats", timeout=10).json()
    uploads = {k: v - stats0["routes"].get(k, 0)
               for k, v in stats["routes"].items() if k.startswith("PUT ") or "upload" in k}
    assert sum(uploads.values()) == 1, uploads  # the segment went up once for all three
    assert stats["paid_posts"] - stats0["paid_posts"] == 3

    scope = ".st-key-sampler"
    grid = page.locator("[data-testid=compare-player]").last
    expect(grid, "the N-up grid").to_have_attribute("data-mode", "grid")
    heads = grid.locator(".vcmp-tilehead")
    expect(heads, "source + three labelled results").to_have_count(4, timeout=60_000)
    labels = heads.all_inner_texts()
    waited = time.monotonic() - submitted
    for (model, resolution, seg, _), head in zip(VARIANTS, labels[1:], strict=True):
        assert model in head and resolution in head and f"quote ${seg}" in head, head
        # The sandbox charges by pricing.md's rule on the same 2.0 s output: the quote.
        assert f"charge ${seg} (sandbox)" in head, head
        took = re.search(r"turnaround (?:(\d+) min ?)?(?:(\d+) s)?", head)
        assert took and (took[1] or took[2]), head
        seconds = int(took[1] or 0) * 60 + int(took[2] or 0)
        assert 0 <= seconds <= waited + 1, (head, waited)  # measured from its own submit
    page.wait_for_function(
        """() => { const v = [...document.querySelectorAll('[data-testid=compare-player]')]
                     .at(-1).querySelectorAll('.vcmp-stage video');
                   return v.length === 4 && [...v].every(x => x.readyState >= 2); }""",
        timeout=120_000)
    grid.locator(".vcmp-seek").fill("1.0")
    page.wait_for_function(
        """() => [...[...document.querySelectorAll('[data-testid=compare-player]')].at(-1)
                   .querySelectorAll('.vcmp-stage video')].every(x => !x.seeking)""",
        timeout=60_000)
    times = page.evaluate("""() => [...[...document.querySelectorAll('[data-testid=compare-player]')]
        .at(-1).querySelectorAll('.vcmp-stage video')].map(v => v.currentTime)""")
    assert max(times) - min(times) <= 1 / 30, times  # synced to one frame
    del scope
    page.get_by_text("Results · 3 variants").scroll_into_view_if_needed()
    page.mouse.wheel(0, -120)
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "sampler.png"), full_page=False)  # README: copy to docs/
    env["review_ids"] = g

    # Promote the 4k variant: its model page, prefilled for the whole (sample) clip.
    page.locator(".st-key-sampler-result-1").get_by_role("link", name="Promote to the whole clip").click()
    expect(page.get_by_role("heading", name="Topaz Starlight 2.5"), "the Starlight page"
           ).to_be_visible(timeout=60_000)
    expect(page.get_by_role("radiogroup", name="Resolution").get_by_role("radio", name="4k"),
           "4k prefilled").to_be_checked(timeout=30_000)
    expect(page.get_by_role("button", name=re.compile(r"^Submit")),
           "the whole clip's quote on Submit").to_have_text(re.compile(r"\$2\.09(?!\d)"),
                                                            timeout=60_000)


def test_a_review_link_opened_by_a_teammate_with_another_key(browser: Browser, env):
    ids = env.get("review_ids")
    assert ids, "the sampler test makes the generations this link shows"
    teammate = {**env["base"], "OXEN_API_KEY": BOB_KEY, "OXEN_NAMESPACE": "team"}
    with launch_app(env["data"], teammate) as url_b:
        context = browser.new_context(viewport=VIEWPORT)  # another browser, another person
        try:
            page = context.new_page()
            page.goto(f"{url_b}/review?g={','.join(ids)}")
            expect(page.get_by_role("heading", name="Review"), "the review page").to_be_visible(
                timeout=60_000)
            grid = page.locator("[data-testid=compare-player]").first
            expect(grid.locator(".vcmp-tilehead"), "source + three results").to_have_count(
                4, timeout=60_000)
            expect(page.get_by_text("Live", exact=False).first, "bob's app runs with a key"
                   ).to_be_visible()
            frame = page.locator("[data-testid=stDataFrame]").first
            expect(frame, "the cost card").to_be_visible()
            page.wait_for_function(
                """() => [...document.querySelectorAll('.vcmp-stage video')].length === 4
                          && [...document.querySelectorAll('.vcmp-stage video')]
                             .every(v => v.readyState >= 2)""", timeout=120_000)
            html = page.content()
            srcs = page.evaluate("() => [...document.querySelectorAll('video')].map(v => v.src)")
        finally:
            context.close()
    assert all(re.search(r"/media/[0-9a-f]{32}\.mp4$", s) for s in srcs), srcs
    for secret in (BOB_KEY, str(env["data"]), env["sandbox"].url,
                   urlparse(env["sandbox"].url).netloc, "/uploads/", "/results/"):
        assert secret not in html, secret
    json.dumps(srcs)
