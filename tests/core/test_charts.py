"""Forecast figures: trace names and values are the priced amounts; the right bar stands out."""

from __future__ import annotations

from decimal import Decimal

import pytest

from studio import charts, forecast, models, pricing
from studio.forecast import PlanRow
from studio.money import cents
from studio.ratebook import Rate, RateBook, bundled_rates
from tests.model_ids import HYPERION, LTX_DIRECT, LTX_OXEN, RHEA, STARLIGHT


def row(model_id, params=None, *, clip="c", seconds=14.0, w=1280, h=720, fps=20.0, generations=1):
    return PlanRow(clip, seconds, w, h, fps, model_id, models.get(model_id).with_defaults(params or {}),
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
    assert all(t.x[-1] <= 481 / 24 + 1e-9 for t in fig.data)  # seconds: a 20 s span
    assert fig.layout.xaxis.title.text == "Output duration (s)"


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


# -- issue 10 item 20: what the charts look like ------------------------------------------------
def _hue(hex_colour: str) -> float:
    """CIE LCh(ab) hue angle in degrees of an sRGB colour (colour-science, D65)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import colour
    rgb = colour.notation.HEX_to_RGB(hex_colour)
    return float(colour.Lab_to_LCHab(colour.XYZ_to_Lab(colour.sRGB_to_XYZ(rgb)))[2])


def _hue_gap(a: str, b: str) -> float:
    d = abs(_hue(a) - _hue(b)) % 360
    return min(d, 360 - d)


def _clip(seconds=14.0, w=1280, h=720, fps=20.0):
    from studio.media import ClipInfo

    return ClipInfo(duration_s=seconds, width=w, height=h, fps=fps,
                    frame_count=round(seconds * fps), codec="h264", pix_fmt="yuv444p",
                    color_transfer=None)


@pytest.mark.parametrize("figure", ["model page", "forecast"])
def test_tier_lines_have_clearly_different_hues_and_coinciding_lines_both_show(figure):
    """Rhea's 2k and 4k lines (and every other pair) differ in hue by at least 45° in CIE
    LCh, not merely in lightness (a red and its pink tint were the complaint). Rhea's 2k and
    4k share a rate (pricing.md rows 11, 15: $0.0503333 per output s both), so the two lines coincide:
    the one drawn first is wider, so its colour shows around the other."""
    fig = (charts.cost_curve(RHEA, _clip(), {"resolution": "4k"}) if figure == "model page"
           else charts.plan_cost_vs_duration(RHEA, {}))
    lines = {t.name.split(" ")[0]: t for t in fig.data if t.mode == "lines"}
    assert list(lines) == ["720p", "1080p", "2k", "4k"]
    colours = {k: t.line.color for k, t in lines.items()}
    assert all(colours.values()), colours  # set on the line, not left to the page's theme
    names = list(colours)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert _hue_gap(colours[a], colours[b]) >= 45, (a, b, colours)
    two_k, four_k = lines["2k"], lines["4k"]
    assert tuple(two_k.y) == tuple(four_k.y)  # the same rate: one on the other
    assert two_k.line.width > four_k.line.width


def test_ltx_direct_cost_chart_ends_where_each_input_tier_does():
    """LTX direct takes at most 181 / 101 / 41 frames for inputs up to 1080p / 1440p / 4K
    (ltx.md §3.2): on the 20 frames/s sample that is 9.05 / 5.05 / 2.05 s, so the chart
    spans 9.05 s in seconds, not 10 minutes. Its ≤1080p line ends at 9.05 s × $0.20 per
    input second (pricing.md row 6) = $1.81."""
    fig = charts.cost_curve(LTX_DIRECT, _clip(), {})
    lines = {t.name.split(" ")[0]: t for t in fig.data if t.mode == "lines"}
    assert fig.layout.xaxis.title.text == "Clip duration (s)"
    step = 9.05 / 40
    for name, end_s in (("≤1080p", 9.05), ("≤1440p", 5.05), ("≤4k", 2.05)):
        assert end_s - step < lines[name].x[-1] <= end_s + 1e-9, (name, lines[name].x[-1])
    assert lines["≤1080p"].y[-1] == pytest.approx(1.81)
    marker = fig.data[-1]
    assert marker.name == "this clip" and marker.x[0] == pytest.approx(14.0)  # seconds too
    forecast_fig = charts.plan_cost_vs_duration(LTX_DIRECT, {})  # 30 frames/s by default
    ends = {t.name.split(" ")[0]: t.x[-1] for t in forecast_fig.data}
    assert ends["≤1080p"] <= 181 / 30 + 1e-9 and ends["≤4k"] <= 41 / 30 + 1e-9
    assert max(ends.values()) > 181 / 30 - 181 / 30 / 39


def test_legends_sit_right_of_the_plot_never_under_the_axis_title():
    """Forecast and ledger charts put their legend at the right of the plot area (x ≥ 1 in
    paper coordinates, top-anchored), where no axis title is drawn."""
    from studio import ledger
    from studio.jobs import Job

    priced = forecast.price_plan([row(STARLIGHT, {"resolution": "4k"}, clip="a"),
                                  row(RHEA, {"resolution": "4k"}, clip="b")])
    rows = ledger.generation_rows([Job(
        model_id=RHEA, provider="oxen", owner="o", params={}, source={}, status="succeeded",
        quote={"amount_usd": "1.00"}, charge_usd="1.10", charge_source="sandbox")])
    for fig in (charts.plan_by_model(priced), charts.plan_cost_vs_duration(STARLIGHT, {}),
                charts.ledger_quote_vs_charge(rows)):
        legend = fig.layout.legend
        assert legend.x >= 1 and legend.xanchor == "left" and legend.yanchor == "top", legend


def test_one_day_of_spend_is_a_bar_in_its_week_on_a_date_axis():
    """One day's spend: a date axis labelled with dates only (never the
    "23:59:59.9996 … 00:00:00.0004" of an autoscaled one-point axis), one tick per day, at
    least a week shown, the bar on its own day."""
    from datetime import date

    import pandas as pd


    per_day = pd.DataFrame({"day": [date(2026, 11, 30)], "charged_usd": [Decimal("6.16")],
                            "computed_usd": [Decimal("1.81")], "generations": [6]})
    fig = charts.ledger_spend_per_day(per_day)
    x = fig.layout.xaxis
    assert x.type == "date" and x.tickformat == "%Y-%m-%d"
    assert x.dtick == 86_400_000  # one tick per day
    lo, hi = (pd.Timestamp(v) for v in x.range)
    assert lo <= pd.Timestamp("2026-11-24") and hi >= pd.Timestamp("2026-11-30 12:00")
    assert hi - lo >= pd.Timedelta(days=7)
    assert pd.Timestamp(fig.data[0].x[0]) == pd.Timestamp("2026-11-30")
    assert fig.data[0].text == ("$6.16",)
    many = pd.DataFrame({"day": [date(2026, 9, 1), date(2026, 11, 30)],
                         "charged_usd": [Decimal("1"), Decimal("2")],
                         "computed_usd": [Decimal("0")] * 2, "generations": [1, 1]})
    assert charts.ledger_spend_per_day(many).layout.xaxis.dtick == 86_400_000 * 8  # 91 days
