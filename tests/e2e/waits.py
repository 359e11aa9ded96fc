"""Waits the browser tests share. Each one waits for something a person would see or that
stays true (an idle app, a file that arrived, a stored value), with a deadline that holds on a
busy 2-core machine, and fails with a sentence naming what it waited for.

Why "idle" matters: Streamlit replaces a page's elements on every rerun. A click on a button
drawn by a run that is about to be replaced can be lost (a deferred ``st.download_button``
answers a click only while its run's registration lives), so clicks that must land wait until
the script has been quiet for a moment.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from components.review import REFRESH_S

T = TypeVar("T")

#: Longer than the app's live refresh (a status card or table reruns every ``REFRESH_S`` while
#: something is under way): a page idle this long has stopped refreshing.
SETTLED_MS = int(REFRESH_S * 1000) + 1_500

# Streamlit marks its root element with the script's state; "notRunning" once a run (or a
# fragment's run) has finished (the same hook Streamlit's own e2e suite waits on).
_IDLE_JS = """([quietMs]) => {
    const app = document.querySelector('[data-testid="stApp"]');
    const idle = app && app.getAttribute('data-test-script-state') === 'notRunning'
        && app.getAttribute('data-test-connection-state') === 'CONNECTED';
    const now = performance.now();
    if (!idle) { window.__studioIdleSince = null; return false; }
    if (window.__studioIdleSince == null) window.__studioIdleSince = now;
    return now - window.__studioIdleSince >= quietMs;
}"""


def wait_for_idle(page: Page, *, quiet_ms: int = 800, timeout_ms: int = 90_000,
                  what: str = "the app to finish its rerun") -> None:
    """Return once the app's script has been idle (and connected) for ``quiet_ms``."""
    page.evaluate("() => { window.__studioIdleSince = null; }")
    try:
        page.wait_for_function(_IDLE_JS, arg=[quiet_ms], timeout=timeout_ms, polling=100)
    except PlaywrightTimeout:
        raise AssertionError(f"waited {timeout_ms / 1000:.0f} s for {what}; the app kept "
                             "rerunning or lost its connection") from None


def wait_until_settled(page: Page, *, what: str, timeout_ms: int = 120_000) -> None:
    """Return once the page has stopped refreshing itself: idle for longer than the live
    refresh interval, so every card and table shows its final state and no rerun is about to
    replace an element (a status card redraws itself once more, as a whole, when its last
    generation's media are in). Fails naming ``what`` if the page keeps refreshing."""
    wait_for_idle(page, quiet_ms=SETTLED_MS, timeout_ms=timeout_ms, what=what)


def download(page: Page, button: Locator, *, what: str, attempts: int = 3,
             timeout_ms: int = 60_000) -> Path:
    """Click ``button`` (a download button) once the app is idle and return the downloaded
    file's path. A click that a rerun swallowed produces no download: the click is made
    again, up to ``attempts`` times (exporting twice has no side effect)."""
    last: Exception | None = None
    for _ in range(attempts):
        wait_for_idle(page, what=f"the app to settle before clicking {what}")
        try:
            with page.expect_download(timeout=timeout_ms) as info:
                button.click()
            return Path(info.value.path())
        except (PlaywrightTimeout, PlaywrightError) as exc:
            last = exc
    raise AssertionError(f"clicking {what} {attempts} times produced no download "
                         f"(last error: {last})")


def eventually(check: Callable[[], T | None], *, what: str, timeout_s: float = 60.0,
               every_s: float = 0.5) -> T:
    """Call ``check`` until it returns something truthy and return that; fail after
    ``timeout_s`` naming ``what`` and the last value or error seen."""
    deadline = time.monotonic() + timeout_s
    last: object = None
    while True:
        try:
            value = check()
        except Exception as exc:  # noqa: BLE001 - reported if it never succeeds
            value, last = None, exc
        else:
            last = value
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout_s:.0f} s for {what}; last seen: {last!r}")
        time.sleep(every_s)


# Every <video> under a selector: ready means it has its frame (readyState >= 2: HAVE_CURRENT_DATA)
# and is not seeking; its states are returned from the same evaluation that saw them ready.
_VIDEOS_JS = """([selector, count, exact, minWidth]) => {
    const v = [...document.querySelectorAll(selector)];
    if (exact ? v.length !== count : v.length < count) return false;
    if (!v.every(x => x.readyState >= 2 && !x.seeking)) return false;
    if (!v.some(x => x.videoWidth >= minWidth)) return false;
    return v.map(x => { const r = x.getBoundingClientRect();
        return {t: x.currentTime, d: x.duration, w: x.videoWidth, h: x.videoHeight,
                ready: x.readyState, cw: r.width, ch: r.height,
                dpr: window.devicePixelRatio}; });
}"""


def videos_ready(page: Page, count: int, *, what: str, selector: str = "video",
                 exact: bool = False, min_width: int = 0,
                 timeout_ms: int = 120_000) -> list[dict]:
    """Wait until ``selector`` matches ``count`` videos (exactly, or at least), each showing
    its frame and none seeking, one of them at least ``min_width`` pixels wide; return their
    states (``t``/``d`` seconds, ``w``/``h`` video pixels, ``cw``/``ch`` CSS pixels) read in
    that same instant.

    Why one read: while a rerun redraws a card, a stale copy of a video can stand beside the
    new one for a moment, and a second read can meet a fresh, still-loading element; a count
    alone can be met by the stale copy, which is what ``exact`` and ``min_width`` rule out.
    Raises AssertionError naming ``what`` and the videos last seen."""
    try:
        handle = page.wait_for_function(_VIDEOS_JS, arg=[selector, count, exact, min_width],
                                        timeout=timeout_ms, polling=200)
    except PlaywrightTimeout:
        seen = page.evaluate("""(s) => [...document.querySelectorAll(s)].map(x => ({
            ready: x.readyState, seeking: x.seeking, w: x.videoWidth, h: x.videoHeight}))""",
                             selector)
        want = f"exactly {count}" if exact else f"{count}"
        wide = f", one at least {min_width} px wide" if min_width else ""
        raise AssertionError(f"waited {timeout_ms / 1000:.0f} s for {what}: {want} videos "
                             f"each showing its frame{wide}; saw {seen}") from None
    return handle.json_value()


# Play one video muted for ``ms`` and read it back; the element is also checked to be still on
# the page with the same source (a rerun that replaced it leaves a detached, emptied copy).
# ``mode`` is the compare player's (solo, side by side, …) when the video is in one.
_PLAY_JS = """async ([selector, pick, ms]) => {
    const all = [...document.querySelectorAll(selector)];
    if (!all.length) return {error: 'no video matches ' + selector};
    const v = pick === 'widest' ? all.sort((a, b) => b.videoWidth - a.videoWidth)[0] : all.at(-1);
    if (v.readyState < 2) return {error: 'no frame yet', ready: v.readyState};
    const src = v.currentSrc;
    v.muted = true;
    try { await v.play(); } catch (e) { return {error: String(e)}; }
    await new Promise(r => setTimeout(r, ms));
    const player = v.closest('[data-testid=compare-player]');
    return {t: v.currentTime, w: v.videoWidth, h: v.videoHeight, connected: v.isConnected,
            same: !!src && v.currentSrc === src, mode: player ? player.dataset.mode : null};
}"""


def plays(page: Page, *, what: str, selector: str = "video", pick: str = "last",
          min_s: float = 0.1, play_ms: int = 1_000, timeout_s: float = 60.0) -> dict:
    """Play a video (of those ``selector`` matches, the ``"last"`` or the ``"widest"``) for
    ``play_ms`` and return its reading (``t`` seconds played, ``w``/``h`` pixels, ``mode`` of
    the compare player it sits in, else None) once it advanced past ``min_s`` while staying
    on the page. A reading from an element that a rerun replaced meanwhile does not count:
    the video is picked and played again, until ``timeout_s``; then AssertionError names
    ``what`` and the last reading."""

    def attempt() -> dict:
        reading = page.evaluate(_PLAY_JS, [selector, pick, play_ms])
        if reading.get("error") or not (reading["connected"] and reading["same"]
                                        and reading["t"] > min_s):
            raise AssertionError(f"reading {reading}")  # eventually's "last seen"
        return reading

    return eventually(attempt, what=f"{what} to play past {min_s} s", timeout_s=timeout_s)


_PLAYER_JS = """p => ({playing: p.__vcmp.playing, solo: p.__vcmp.solo, loop: p.__vcmp.loop.on,
    paused: [...p.querySelectorAll('.vcmp-stage video')].map(v => v.paused)})"""


def player_playing(player: Locator, *, what: str, timeout_s: float = 10.0) -> dict:
    """Wait until the compare player ``player`` (its ``[data-testid=compare-player]``
    element) is playing with every video running, and return that reading: ``playing``,
    ``solo`` (the source alone), ``loop`` (on) and each video's ``paused``. Reads again for
    up to ``timeout_s``: at a loop's wrap a follower video pauses for a frame or two. Raises
    AssertionError naming ``what`` and the last reading."""

    def attempt() -> dict:
        reading = player.evaluate(_PLAYER_JS)
        if not reading["playing"] or any(reading["paused"]):
            raise AssertionError(f"reading {reading}")  # eventually's "last seen"
        return reading

    return eventually(attempt, what=what, timeout_s=timeout_s, every_s=0.2)
