"""Two app processes (two Streamlit servers on two ports) on one database (issue 11 §1): a team
cap, a rate override and a preset saved in one are in force in the other at once; twenty
Submit presses split across both against a cap that fits ten store and send exactly ten.

The database is PostgreSQL from ``TEST_DATABASE_URL`` (a schema of its own; skipped locally
without it, a failure under CI) or one shared SQLite file. Both apps talk to one sandbox and
keep separate data dirs, so nothing reaches the second app through a file of the first.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import re
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
from playwright.sync_api import Error as PlaywrightError
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
            _keep_screenshot(page, "shared-store-rates-b.png", full_page=True)
            page.goto(f"{app_b}/starlight")
            main = page.get_by_test_id("stMain")
            main.get_by_text("Presets", exact=True).click(timeout=90_000)
            saved = main.get_by_role("combobox", name="Saved presets")
            expect(saved, "B offering A's preset").to_have_value("team look", timeout=30_000)
            _keep_screenshot(page, "shared-store-presets-b.png", full_page=True)
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


# One read of a page, without waiting: a locator would wait its full timeout on a page that
# is between two states, and twenty such waits outlast the deadline.
_PAGE_JS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    const main = document.querySelector('[data-testid="stMain"]');
    return {script: app && app.getAttribute('data-test-script-state'),
            connection: app && app.getAttribute('data-test-connection-state'),
            text: main ? main.innerText : '',
            // only for a page that has lost its app: where it is and what its document holds
            url: app ? undefined : location.href,
            html: app ? undefined : (document.body ? document.body.innerHTML.slice(0, 1000)
                                                    : null)};
}"""


def _keep_screenshot(page: Page, name: str, *, full_page: bool = False) -> None:
    """A screenshot into the artifacts, if the page gives one within 10 s: it is for a person
    reading a run afterwards, never what decides it (a busy renderer delayed one past 30 s
    under load 38, g1-4)."""
    try:
        page.screenshot(path=str(ARTIFACTS / name), full_page=full_page, timeout=10_000)
    except PlaywrightError:
        pass


def _watch(page: Page, events: deque[str]) -> None:
    """Append to ``events`` what the browser reports about ``page`` that a failure report
    needs: uncaught script errors, console errors, a crashed renderer, a new main document.
    ``events`` is bounded (a ``maxlen`` deque): a report shows the last few."""
    page.on("pageerror", lambda error: events.append(f"pageerror: {error}"[:600]))
    page.on("console", lambda msg: msg.type == "error" and events.append(
        f"console: {msg.text}"[:600]))
    page.on("crash", lambda _: events.append("renderer crashed"))
    page.on("framenavigated", lambda frame: frame.parent_frame is None and events.append(
        f"navigated: {frame.url}"))


WAVE = 4  # pages opened at once, two on each server
# A page whose document holds no Streamlit app for this long after Submit has lost it for
# good: seen once in over twenty runs (CI on 8dca5c4, page 16, 180 s with an empty document),
# cause unknown. Streamlit 1.67's frontend (React 18) puts an error boundary around each
# element but none around the app's frame, so one uncaught error there would unmount the
# whole app, as that document showed. The test reloads such a page once, as a person would,
# reads it again and reports it in the run's warnings with what the browser said.
APP_GONE_S = 10


def _ready_to_submit(wave: list[tuple[int, Page]], apps: tuple[str, str], link: str) -> list:
    """Open the Rhea page's ``link`` (a source URL and 720p in its query) on each ``(index,
    page)``, even indexes on the first app and odd on the second, and wait until Submit shows
    the quote and the verdict; returns the Submit buttons' handles, for clicks that do not
    wait on one another."""
    for i, p in wave:
        p.goto(f"{apps[i % 2]}/rhea?{link}", wait_until="commit")
    buttons = []
    for i, p in wave:
        submit = p.get_by_role("button", name=re.compile(r"^Submit"))
        try:
            expect(submit, f"page {i}: the Submit button with the quote and the verdict"
                   ).to_have_text("Submit · $0.01 · fits the team cap", timeout=240_000)
        except AssertionError as exc:  # what the page said instead
            alerts = p.get_by_test_id("stMain").get_by_test_id("stAlert").all_inner_texts()
            seen = p.evaluate(_PAGE_JS)
            _keep_screenshot(p, f"shared-store-no-verdict-{i}.png", full_page=True)
            raise AssertionError(f"{exc}\nthe page's messages: {alerts}\nscript "
                                 f"{seen['script']}, connection {seen['connection']}") from None
        expect(p.get_by_test_id("stMain").get_by_text("1.2 output s × $0.0056667"),
               f"page {i}: the 720p quote").to_be_visible()
        wait_for_idle(p, what=f"page {i} to settle before the submit")
        buttons.append(submit.element_handle())
    return buttons


def _outcome(page: Page) -> tuple[str | None, dict]:
    """("submitted", seen) once the page shows the status card of its generation; (the
    refusal's sentence, seen) once the page says why nothing was sent; (None, seen) before
    either. ``seen`` is what the page showed, for the failure message.

    A refusal is final as soon as it shows, running or not: it appears only once ten are in
    (before the clicks every page read "fits the team cap"), and nothing here frees the cap.
    Waiting for the script to be idle as well failed a page under load 45 (h1-2): its list of
    recent generations, live while they ran, reran every 2 s and was never idle."""
    seen = page.evaluate(_PAGE_JS)
    if re.search(r"(?m)^Your generation", seen["text"]):
        return "submitted", seen
    refusal = _REFUSAL.search(seen["text"])
    return (refusal.group(0) if refusal else None), seen


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no line per request in the test's output
        pass


class _FileServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # A probe that has read the header hangs up: normal, not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextlib.contextmanager
def _served(path: Path) -> Iterator[str]:
    """``path`` at an http:// URL (the standard library's file server, on a thread), as a
    clip someone links to: the apps probe it and the sandbox downloads it."""
    server = _FileServer(("127.0.0.1", 0),
                         functools.partial(_QuietFiles, directory=str(path.parent)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{path.name}"
    finally:
        server.shutdown()
        server.server_close()


def test_twenty_submits_from_two_apps_at_once_stop_exactly_at_the_team_cap(
        page: Page, tmp_path: Path, db_url: str, realshort: Path):  # noqa: F811
    """Twenty people open one shared link to the Rhea page (a clip's URL, 720p), ten on each
    of two Streamlit servers sharing one database, and press Submit together against a $0.07
    team cap that fits ten $0.0068 requests: exactly ten are stored and reach the sandbox,
    and the other ten pages say why they were refused, with the arithmetic ($0.0680
    committed + this request $0.0068 = $0.0748, $0.0048 over)."""
    database = db_url if "://" in db_url else f"sqlite:///{db_url}"
    sandbox = start_sandbox(tmp_path / "sandbox", port=None, workers=1)
    env = {"DATABASE_URL": database, "OXEN_BASE_URL": sandbox.url, "LTX_BASE_URL": sandbox.url}
    shared = JobStore(database)
    BudgetStore(shared).save(period="month", team_usd=TEAM_CAP)
    pages = [page] + [page.context.new_page() for _ in range(19)]
    events = [deque(maxlen=12) for _ in pages]
    for p, seen in zip(pages, events, strict=True):
        _watch(p, seen)
    outcomes: dict[int, str] = {}
    lost: dict[int, dict] = {}  # pages whose Streamlit app left the document, reloaded
    try:
        with launch_app(tmp_path / "a", env) as app_a, launch_app(tmp_path / "b", env) as app_b, \
                _served(realshort) as clip_url:
            link = urlencode({"src": clip_url, "resolution": "720p"})
            # Pages are opened a few at a time: twenty first runs at once on two cores starved
            # a page for over four minutes (CI d6). What must happen at once is the pressing
            # of Submit.
            buttons = []
            for start in range(0, len(pages), WAVE):
                wave = list(enumerate(pages))[start:start + WAVE]
                buttons += _ready_to_submit(wave, (app_a, app_b), link)
            before = requests.get(f"{sandbox.url}/_sandbox/stats", timeout=10).json()
            for button in buttons:  # twenty clicks within a fraction of a second
                button.evaluate("b => b.click()")

            last_seen: dict[int, dict] = {}
            gone_since: dict[int, float] = {}

            def read_outcomes() -> str | None:
                for i, p in enumerate(pages):
                    if i in outcomes:
                        continue
                    outcome, last_seen[i] = _outcome(p)
                    if outcome:
                        outcomes[i] = outcome
                    elif last_seen[i]["script"] is None and i not in lost:
                        since = gone_since.setdefault(i, time.monotonic())
                        if time.monotonic() - since >= APP_GONE_S:  # what a person would do
                            lost[i] = {k: last_seen[i][k] for k in ("url", "html")} | {
                                "events": list(events[i])}
                            _keep_screenshot(p, f"shared-store-lost-{i}.png")
                            p.reload(wait_until="commit")
                    else:
                        gone_since.pop(i, None)
                return None if len(outcomes) < len(pages) else "all"

            try:
                eventually(read_outcomes, timeout_s=180,
                           what="all twenty pages to show a status card or a refusal")
            except AssertionError as exc:  # which pages, in what state, and their screenshots
                stuck = {i: {**last_seen.get(i, {}), "text": last_seen.get(i, {}).get(
                    "text", "")[-400:], "events": list(events[i])}
                    for i in range(len(pages)) if i not in outcomes}
                for i in stuck:
                    _keep_screenshot(pages[i], f"shared-store-stuck-{i}.png")
                raise AssertionError(f"{exc}\nstill undecided: {stuck}\n"
                                     f"decided: {outcomes}\nreloaded: {lost}") from None
            _keep_screenshot(pages[1], "shared-store-twenty-submits.png")
            rows = shared.list()
            after = requests.get(f"{sandbox.url}/_sandbox/stats", timeout=10).json()
        for i, what in lost.items():  # in the run's warnings summary, never silent
            warnings.warn(f"page {i}'s Streamlit app left its document after Submit; the page "
                          f"was reloaded and read again: {what}", stacklevel=1)
        refusals = [o for o in outcomes.values() if o != "submitted"]
        submitted = len(outcomes) - len(refusals)
        # A reloaded page is a new session: it shows the cap's verdict whether or not its own
        # submit was among the ten, so it can only stand for a refusal or a lost status card.
        assert len(lost) <= 1, f"{len(lost)} pages lost their app: {lost}"
        assert 10 - len(lost) <= submitted <= 10, outcomes
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
