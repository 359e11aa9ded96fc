"""In Chromium at 1440 px wide (issue 10 item 20): nothing a person reads is cut or drawn
over something else — segmented controls keep every option in view, the queue table's cells
keep their whole text after a generation's status and charge change under it, chart legends
stay clear of axis titles, a one-day spend axis reads dates, plan rows are numbered alike.

Widths are measured in the page itself: text with the table's own font on a canvas
(``measureText``), boxes with ``getBoundingClientRect``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from components.jobs import COLUMN_WIDTHS
from studio import forecast, models
from studio.config import Settings
from studio.jobs import Job, JobStore
from tests.e2e.conftest import REPO, launch_app
from tests.e2e.waits import eventually, wait_for_idle
from tests.model_ids import LTX_DIRECT, RHEA, STARLIGHT

pytestmark = pytest.mark.e2e

VIEWPORT = {"width": 1440, "height": 1000}
OWNER = Settings.from_mapping({}).owner()  # the no-key app's own owner

# Every visible segmented control ([data-testid=stButtonGroup]) with the buttons that stick
# out of its box: such a button is cut where the box ends (its row scrolls inside the box).
_CUT_BUTTON_GROUPS = """() => [...document.querySelectorAll('[data-testid="stButtonGroup"]')]
    .filter(g => g.offsetParent !== null)
    .map(g => {
        const box = g.getBoundingClientRect();
        const buttons = [...g.querySelectorAll('button')];
        return {labels: buttons.map(b => b.innerText.trim()),
                cut: buttons.filter(b => { const r = b.getBoundingClientRect();
                    return r.left < box.left - 0.5 || r.right > box.right + 0.5; })
                    .map(b => b.innerText.trim())};
    })"""

# The first table as drawn: each column's width in px as the grid lays it out (the grid
# component's own ``columns`` prop, found from its canvas through React's fiber tree: the
# canvas has no per-column DOM), and each column's header and cell texts as the grid
# describes them to assistive technology (only the columns in view), with the width they
# need in the table's own font plus the cell padding on both sides.
_TABLE = """() => {
    const canvas = document.querySelector('[data-testid="data-grid-canvas"]');
    const fiberKey = Object.keys(canvas).find(k => k.startsWith('__reactFiber'));
    let widths = null;
    for (let f = canvas[fiberKey], i = 0; f && i < 300 && !widths; f = f.return, i++) {
        const cols = f.memoizedProps && f.memoizedProps.columns;
        if (Array.isArray(cols) && cols.length && cols.every(c => typeof c.width === 'number'))
            widths = cols.map(c => ({title: c.title, width: c.width}));
    }
    const grid = document.querySelector('.stDataFrameGlideDataEditor');
    const css = getComputedStyle(grid);
    const family = css.getPropertyValue('--gdg-font-family');
    const pad = parseFloat(css.getPropertyValue('--gdg-cell-horizontal-padding'));
    const ctx = document.createElement('canvas').getContext('2d');
    const measure = (text, style) => {
        ctx.font = style.trim() + ' ' + family; return ctx.measureText(text).width; };
    const head = css.getPropertyValue('--gdg-header-font-style');
    const base = css.getPropertyValue('--gdg-base-font-style');
    const table = canvas.querySelector('table[role="grid"]');
    const byIndex = {};
    for (const th of table.querySelectorAll('th')) {
        byIndex[th.getAttribute('aria-colindex')] = {
            name: th.innerText, need: measure(th.innerText, head) + 2 * pad, cells: []};
    }
    for (const td of table.querySelectorAll('td')) {
        const col = byIndex[td.getAttribute('aria-colindex')];
        if (!col) continue;
        col.cells.push(td.innerText);
        col.need = Math.max(col.need, measure(td.innerText, base) + 2 * pad);
    }
    return {widths: widths, columns: Object.values(byIndex)};
}"""


def _no_cut_segmented_controls(page: Page, where: str, *, including: str) -> None:
    groups = page.evaluate(_CUT_BUTTON_GROUPS)
    assert any(including in g["labels"] for g in groups), (f"no {including!r} on {where}",
                                                           groups)
    cut = [g for g in groups if g["cut"]]
    assert not cut, f"segmented controls cut on {where}: {cut}"


def _table_fits(page: Page) -> dict[str, dict]:
    """Every column of the first table, in view or scrolled to: its drawn width is at least
    what its header and cells need. Returns the columns by name."""
    seen: dict[str, dict] = {}
    widths: dict[str, float] = {}
    scroller = page.locator('[data-testid="stDataFrame"] .dvn-scroller').first
    for left, wanted in (("0", "Created"), ("s.scrollWidth", "Generation id")):
        # The grid describes only the columns in view: scroll, then wait for the column.
        scroller.evaluate(f"s => {{ s.scrollLeft = {left}; }}")

        def drawn(wanted: str = wanted) -> dict | None:
            table = page.evaluate(_TABLE)
            names = {c["name"] for c in table["columns"]}
            return table if table["widths"] and wanted in names else None

        table = eventually(drawn, what=f"the table's {wanted!r} column in view", timeout_s=30)
        widths.update({w["title"]: w["width"] for w in table["widths"]})
        for col in table["columns"]:
            seen.setdefault(col["name"], col)
    assert set(seen) >= set(COLUMN_WIDTHS), (sorted(seen), sorted(COLUMN_WIDTHS))
    for name, col in seen.items():
        assert col["need"] <= widths[name] + 0.5, (
            f"column {name!r} is {widths[name]} px wide, its text needs {col['need']:.1f}",
            col)
    return seen


def _seed_queued(data: Path) -> Job:
    """A queued LTX direct generation the tracker leaves alone (no provider id, next poll
    far away): its Status, Charge and id cells start short."""
    data.mkdir(parents=True, exist_ok=True)
    job = Job(model_id=LTX_DIRECT, provider="ltx", owner=OWNER, params={},
              source={"kind": "sample", "label": "cockatoo.mp4"}, status="queued",
              target="live", quote={"amount_usd": "1.81", "provenance": "published"},
              next_poll_at=datetime.now(UTC).timestamp() + 86_400)
    store = JobStore(data / "jobs.sqlite3")
    store.insert(job)
    store.close()
    return job


def test_controls_and_the_queue_table_fit_at_1440(page: Page, tmp_path: Path):
    """The Generations page's "Show" control (Mine / Team) and a model page's "Mode" (Queue
    (async) / Sync (blocks)) show every option whole; when a queued generation succeeds with
    a computed charge under an open page, its table cells ("succeeded", "computed (billing
    rule)", the generation id) still fit their columns."""
    data = tmp_path / "data"
    job = _seed_queued(data)
    page.set_viewport_size(VIEWPORT)
    with launch_app(data) as url:
        page.goto(url)
        expect(page.get_by_text("Show", exact=True), "the Generations filters").to_be_visible(
            timeout=90_000)
        wait_for_idle(page, what="the Generations page to settle")
        _no_cut_segmented_controls(page, "the Generations page", including="Mine")

        store = JobStore(data / "jobs.sqlite3")
        store.update(job.id, status="succeeded", charge_usd="1.81", charge_source="computed",
                     remote_id="9f1c2d3e-4b5a-6789-abcd-ef0123456789",
                     completed_at=datetime.now(UTC), result_files={"missing": ""})
        store.close()
        expect(page.locator('[data-testid="stDataFrame"] td', has_text="succeeded"),
               "the table to show the generation as succeeded").to_have_count(1, timeout=90_000)
        wait_for_idle(page, what="the table to settle after the generation finished")
        columns = _table_fits(page)
        assert columns["Status"]["cells"] == ["succeeded"], columns["Status"]
        assert columns["Charge from"]["cells"] == ["computed (billing rule)"]
        assert columns["Generation id"]["cells"] == ["9f1c2d3e-4b5a-6789-abcd-ef0123456789"]

        page.goto(f"{url}/starlight")
        expect(page.get_by_text("Sync (blocks)", exact=True), "Starlight's Mode control"
               ).to_be_visible(timeout=90_000)
        wait_for_idle(page, what="the Starlight page to settle")
        _no_cut_segmented_controls(page, "the Starlight page", including="Sync (blocks)")


# Every visible plotly chart: its legend's box and its x axis title's box.
_LEGEND_AND_TITLE = """() => [...document.querySelectorAll('.js-plotly-plot')]
    .filter(p => p.offsetParent !== null)
    .map(p => {
        const box = el => { if (!el) return null; const r = el.getBoundingClientRect();
            return [r.left, r.top, r.right, r.bottom]; };
        return {title: (p.querySelector('.gtitle') || {}).textContent || '',
                legend: box(p.querySelector('g.legend')),
                xtitle: box(p.querySelector('text.xtitle')),
                ticks: [...p.querySelectorAll('g.xtick text')].map(t => t.textContent)};
    })"""


def _overlap(a: list[float], b: list[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _charts(page: Page, what: str) -> list[dict]:
    return eventually(lambda: [c for c in page.evaluate(_LEGEND_AND_TITLE) if c["xtitle"]],
                      what=what, timeout_s=90)


def _seed_plan_and_spend(data: Path) -> None:
    data.mkdir(parents=True, exist_ok=True)
    store = JobStore(data / "jobs.sqlite3")
    forecast.save_plan(store, OWNER, forecast.read_plan_csv(
        REPO / "samples" / "plans" / "twenty_clips.csv"))
    now = datetime.now(UTC)
    for model, quote, charge, source in (
            (STARLIGHT, "2.0916", "2.0916", "sandbox"),
            (RHEA, "1.20", "1.31", "sandbox"),
            (LTX_DIRECT, "1.81", "1.81", "computed")):
        store.insert(Job(model_id=model, provider=models.MODELS[model].provider, owner=OWNER,
                         owner_name="Ada", params={}, status="succeeded", remote_id=None,
                         source={"kind": "sample", "label": "cockatoo.mp4"},
                         quote={"amount_usd": quote, "provenance": "published"},
                         charge_usd=charge, charge_source=source, created_at=now,
                         completed_at=now, result_files={"missing": ""}))
    store.close()


def test_charts_and_plan_tables_read_cleanly_at_1440(page: Page, tmp_path: Path):
    """Forecast: the cost-by-clip chart's legend clear of its "Clip" axis title; the plan
    editor and the priced table number the cockatoo row 1 and show its rate as 20.
    Estimate vs actual: the quote-vs-charge legend clear of its axis title; a day of spend
    on a date axis whose ticks are dates, not times around midnight."""
    data = tmp_path / "data"
    _seed_plan_and_spend(data)
    page.set_viewport_size(VIEWPORT)
    with launch_app(data) as url:
        page.goto(f"{url}/forecast")
        expect(page.get_by_text("Plan cost by clip and model", exact=False),
               "the forecast's cost-by-clip chart").to_be_visible(timeout=120_000)
        wait_for_idle(page, what="the Forecast page to settle")
        charts = _charts(page, "the forecast charts to be drawn")
        assert charts and all(c["legend"] for c in charts), charts
        for c in charts:
            assert not _overlap(c["legend"], c["xtitle"]), c
        tables = page.locator('[data-testid="stDataFrame"] table[role="grid"]')
        expect(tables, "the plan editor and the priced table").to_have_count(2, timeout=60_000)
        scrollers = page.locator('[data-testid="stDataFrame"] .dvn-scroller')

        def first_row(i: int, *, having: str | None = None) -> list[str] | None:
            cells = tables.nth(i).locator("tbody tr").first.locator("td")
            texts = [text.strip() for text in cells.all_inner_texts()]
            return texts if having is None or having in texts else None

        for i in range(2):
            texts = first_row(i) or []
            assert texts[0] == "1" and "cockatoo" in texts, (i, texts)  # numbered from 1
            # The frame rate: in view in the editor, at the right end of the priced table.
            scrollers.nth(i).evaluate("s => { s.scrollLeft = s.scrollWidth; }")
            seen = eventually(lambda i=i: first_row(i, having="20"),
                              what=f"table {i + 1}'s frame rate cell reading 20", timeout_s=30)
            assert not any(re.fullmatch(r"20\.0+", text) for text in seen), (i, seen)

        page.goto(f"{url}/ledger")
        expect(page.get_by_text("Every generation", exact=True), "Estimate vs actual"
               ).to_be_visible(timeout=90_000)
        wait_for_idle(page, what="the Estimate vs actual page to settle")
        [scatter] = _charts(page, "the quote-vs-charge chart to be drawn")
        assert scatter["legend"] and not _overlap(scatter["legend"], scatter["xtitle"]), scatter
        page.get_by_role("tab", name="Spend per day").click()
        wait_for_idle(page, what="the spend-per-day tab to settle")
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        [spend] = eventually(
            lambda: [c for c in page.evaluate(_LEGEND_AND_TITLE) if day in c["ticks"]],
            what=f"the spend-per-day chart with a {day} tick", timeout_s=60)
        assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", t) for t in spend["ticks"]), spend
        assert len(spend["ticks"]) >= 7, spend  # the day in its week
