"""Forecast figures: trace names and values are the priced amounts; the right bar stands out."""

from __future__ import annotations

from decimal import Decimal

import pytest

from studio import catalog, charts, forecast, pricing
from studio.catalog import HYPERION, LTX_OXEN, RHEA, STARLIGHT
from studio.forecast import PlanRow
from studio.money import cents
from studio.ratebook import Rate, RateBook, bundled_rates


def row(model_id, params=None, *, clip="c", seconds=14.0, w=1280, h=720, fps=20.0, generations=1):
    return PlanRow(clip, seconds, w, h, fps, model_id, catalog.with_defaults(model_id, params or {}),
                   generations)


def test_plan_by_model_stacks_each_clip_by_model():
    rows = [row(STARLIGHT, {"resolution": "4k"}, clip="cockatoo"),
            row(RHEA, {"resolution": "4k"}, clip="cockatoo", generations=2),
            row(HYPERION, clip="sunset", seconds=20.0, w=1920, h=1080, fps=24.0),
            row(HYPERION, clip="sunset", seconds=20.0, w=1920, h=1080, fps=24.0)]
    priced = forecast.price_plan(rows)
    fig = charts.plan_by_model(priced)
    assert fig.layout.barmode == "stack" and fig.layout.yaxis.tickprefix == "$"
    by_name = {t.name: t for t in fig.data}
    # Each model's trace carries its one display name (issue 10 item 11) and names where its
    # rates came from.
    assert set(by_name) == {"Topaz Starlight 2.5 (published)", "Topaz Rhea (proxy)",
                            "Topaz Hyperion HDR (proxy)"}
    amounts = [r.amount_usd for r in priced.rows]
    assert by_name["Topaz Starlight 2.5 (published)"].x == ("cockatoo",)
    assert by_name["Topaz Starlight 2.5 (published)"].y == (float(amounts[0]),) == (2.0916,)
    assert by_name["Topaz Rhea (proxy)"].y == (float(amounts[1]),)
    assert by_name["Topaz Hyperion HDR (proxy)"].x == ("sunset",)
    assert by_name["Topaz Hyperion HDR (proxy)"].y == (float(amounts[2] + amounts[3]),)
    assert sum(sum(t.y) for t in fig.data) == pytest.approx(float(priced.total_usd))
    assert f"total {cents(priced.total_usd)}" in fig.layout.title.text  # a total: to the cent


def test_plan_cost_vs_duration_one_line_per_tier_priced_by_the_book():
    fig = charts.plan_cost_vs_duration(STARLIGHT, {}, width=1280, height=720, fps=20.0)
    assert [t.name for t in fig.data] == ["1080p (published)", "2k (published)",
                                         "4k (published)"]
    line4k = fig.data[2]
    assert line4k.x[-1] == pytest.approx(10.0) and line4k.y[-1] == pytest.approx(600 * 0.1494)
    override = Rate(STARLIGHT, "4k", "output_second", Decimal("0.2"), "override", "team",
                    "2026-12-01")
    book = RateBook(bundled_rates(), [override])
    fig = charts.plan_cost_vs_duration(STARLIGHT, {}, book=book)
    assert fig.data[2].name == "4k (override)" and fig.data[2].line.dash == "dot"
    assert fig.data[2].y[-1] == pytest.approx(600 * 0.2)


def test_plan_cost_vs_duration_ltx_stops_at_the_frame_cap():
    fig = charts.plan_cost_vs_duration(LTX_OXEN, {"prompt": "x"})
    assert len(fig.data) == len(pricing.tiers_for_chart(LTX_OXEN))
    assert all(t.x[-1] * 60 <= 481 / 24 + 1e-9 for t in fig.data)
    assert fig.layout.xaxis.title.text == "Output duration (min)"


def test_plan_heatmap_cells_are_the_grid():
    grid = forecast.heatmap_grid(HYPERION, {}, [5.0, 60.0], [(1280, 720), (3840, 2160)])
    fig = charts.plan_heatmap(grid)
    hm = fig.data[0]
    assert list(hm.x) == ["1280×720", "3840×2160"] and list(hm.y) == ["5 s", "60 s"]
    assert hm.z[1][1] == float(grid.loc[60.0, "3840×2160"])
    assert hm.text[1][1] == cents(grid.loc[60.0, "3840×2160"])


def test_model_comparison_highlights_the_cheapest_meeting_target():
    rows = [row(STARLIGHT, {"resolution": "1080p"}),
            row(RHEA, clip="d", seconds=40.0, w=1920, h=1080, fps=24.0)]
    cmp = forecast.compare_models(rows, target_resolution="4k")
    fig = charts.model_comparison(cmp)
    bars = fig.data[0]
    assert list(bars.x[0]) == ["Upscaling"] * 2  # grouped by job
    assert list(bars.x[1]) == list(cmp["model_name"])
    assert list(bars.y) == [float(v) for v in cmp["total_usd"]]
    best = int(cmp.index[cmp["cheapest_meeting_target"]][0])
    assert bars.marker.color[best] == charts.CHEAPEST_COLOR
    assert [c for c in bars.marker.color].count(charts.CHEAPEST_COLOR) == 1
    (note,) = fig.layout.annotations
    assert list(note.x) == ["Upscaling", cmp.loc[best, "model_name"]]
    assert "cheapest meeting 4k" in note.text
    # every bar says what it is priced at, its total to the cent
    for text, rec in zip(bars.text, cmp.to_dict("records"), strict=True):
        assert text == f"{cents(rec['total_usd'])}<br>4k tier"


def test_model_comparison_with_nothing_meeting_has_no_highlight():
    rows = [row(HYPERION, seconds=30.0, w=1920, h=1080, fps=30.0)]
    fig = charts.model_comparison(forecast.compare_models(rows, target_resolution="4k"))
    assert charts.CHEAPEST_COLOR not in fig.data[0].marker.color
    assert not fig.layout.annotations
