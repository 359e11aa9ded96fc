"""What-if plans: CSV in and out, every problem named, totals that agree to the cent."""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from studio import charts, cli, forecast, models
from studio.errors import ParamError
from studio.forecast import PlanRow
from studio.money import cents
from studio.ratebook import Rate, RateBook, bundled_rates
from tests.model_ids import HYPERION, LTX_DIRECT, LTX_OXEN, RHEA, STARLIGHT

REPO = Path(__file__).resolve().parents[2]
TWENTY = REPO / "samples" / "plans" / "twenty_clips.csv"
HEADER = "clip,duration_s,width,height,fps,model_id,params,generations,path\n"


def row(model_id=STARLIGHT, params=None, *, clip="c", seconds=14.0, w=1280, h=720, fps=20.0,
        generations=1):
    return PlanRow(clip, seconds, w, h, fps, model_id, models.get(model_id).with_defaults(params or {}),
                   generations)


# -- the published example -------------------------------------------------------------------

@pytest.mark.parametrize("resolution, expected", [
    ("4k", "2.0916"), ("2k", "2.0916"), ("1080p", "0.5236"),
])
def test_starlight_14_s_clip_through_price_plan(resolution, expected):
    priced = forecast.price_plan([row(STARLIGHT, {"resolution": resolution})])
    (r,) = priced.rows
    assert r.amount_usd == Decimal(expected) and isinstance(r.amount_usd, Decimal)
    assert r.quote is not None and r.quote.provenance == "published"
    assert priced.total_usd == Decimal(expected)


def test_generations_multiply_the_quote():
    priced = forecast.price_plan([row(STARLIGHT, {"resolution": "4k"}, generations=3)])
    assert priced.rows[0].quote.amount_usd == Decimal("2.0916")
    assert priced.total_usd == Decimal("6.2748")


# -- CSV -------------------------------------------------------------------------------------

def test_csv_round_trip_keeps_every_row():
    rows = forecast.read_plan_csv(TWENTY)
    assert len(rows) == 20
    exported = forecast.price_plan(rows).to_csv()
    assert exported.splitlines()[0].startswith(",".join(forecast.PLAN_COLUMNS))
    assert forecast.read_plan_text(exported) == rows
    # and through the page's table: to_frame → records → rows
    frame = forecast.price_plan(rows).to_frame()
    back, problems = forecast.rows_from_records(frame.to_dict("records"))
    assert problems == [] and back == rows


def test_short_names_params_defaults_and_optional_columns():
    text = ("duration_s,width,height,fps,model_id\n"
            "14,1280,720,20,starlight UPSCALE\n"
            "10,1920,1080,24,Topaz Rhea\n")
    a, b = forecast.read_plan_text(text)
    assert a.model_id == STARLIGHT and a.params["resolution"] == "4k" and a.generations == 1
    assert b.model_id == RHEA and b.params == models.get(RHEA).with_defaults({})
    assert a.clip == "row 1" and b.frame_count == 240
    assert forecast.read_plan_text(HEADER) == []  # a saved empty plan is a plan


def test_csv_problems_are_named_by_row_and_column():
    text = HEADER + "\n".join([
        "ok,14,1280,720,20,topazlabs-upscale-starlight-2-5-video,,1,",
        "bad-number,abc,1280,720,20,topazlabs-upscale-starlight-2-5-video,,1,",
        "zero-size,14,0,-720,20,topazlabs-rhea-video,,1,",
        "no-model,14,1280,720,20,topazlabs-nonsense,,1,",
        'bad-params,14,1280,720,20,Starlight upscale,"{""resolution"": ""8k"", ""blur"": 1}",1,',
        "not-json,14,1280,720,0,topazlabs-rhea-video,{resolution,0,",
    ]) + "\n"
    with pytest.raises(ParamError) as err:
        forecast.read_plan_text(text)
    problems = err.value.problems
    assert "row 2, duration_s: must be a number of seconds (got 'abc')" in problems
    assert "row 3, width: must be between 16 and 8192 pixels (got 0)" in problems
    assert "row 3, height: must be between 16 and 8192 pixels (got -720)" in problems
    assert any(p.startswith("row 4, model_id: unknown model 'topazlabs-nonsense'") for p in problems)
    assert "row 5, params: resolution: must be one of 1080p, 2k, 4k (got '8k')" in problems
    assert any(p.startswith("row 5, params: blur: not a parameter of Topaz Starlight 2.5")
               for p in problems)
    assert "row 6, fps: must be between 1 and 240 frames/s (got 0)" in problems
    assert any(p.startswith("row 6, params: must be a JSON object") for p in problems)
    assert any(p.startswith("row 6, generations: must be a whole number") for p in problems)
    assert not any(p.startswith("row 1") for p in problems)


# -- reading text and files -------------------------------------------------------------------

ONE_ROW = 'x,14,1280,720,20,Starlight upscale,"{""resolution"": ""4k""}",1,'


@pytest.mark.parametrize("text", [
    HEADER + ONE_ROW + "\n",
    (HEADER + ONE_ROW + "\n").replace("\n", "\r\n"),
    (HEADER + ONE_ROW + "\n").replace("\n", "\r"),  # classic Mac line ends
    HEADER + ONE_ROW,  # no final line break
    "\ufeff" + (HEADER + ONE_ROW + "\n").replace("\n", "\r\n"),  # Excel's UTF-8 CSV
], ids=["lf", "crlf", "cr", "no-final-newline", "bom-crlf"])
def test_read_plan_text_takes_any_line_ending_and_a_bom(text):
    (r,) = forecast.read_plan_text(text)
    assert (r.clip, r.model_id, r.params["resolution"], r.duration_s) == ("x", STARLIGHT, "4k", 14.0)


@pytest.mark.parametrize("text", [HEADER, HEADER.rstrip("\n"), HEADER.replace("\n", "\r"),
                                  "\ufeff" + HEADER.rstrip("\n"), HEADER + "\n\n,,,\n"],
                         ids=["lf", "no-newline", "cr", "bom-no-newline", "blank-rows"])
def test_a_header_only_upload_is_an_empty_plan(text):
    """Not a path, whatever its line ends: read_plan_csv used to try to open these."""
    assert forecast.read_plan_text(text) == []


@pytest.mark.parametrize("text", ["", "\ufeff", "  \r\n\n"], ids=["empty", "bom", "blank"])
def test_an_empty_upload_says_the_file_is_empty(text):
    with pytest.raises(ParamError) as err:
        forecast.read_plan_text(text)
    assert err.value.problems[0].startswith("plan: the file is empty")


def test_text_that_is_not_a_csv_plan_is_a_param_error():
    with pytest.raises(ParamError, match="columns: missing"):
        forecast.read_plan_text("\x89PNG\r\n\x1a\n")
    with pytest.raises(ParamError, match="not a readable CSV"):
        forecast.read_plan_text(HEADER + "a" * 200_000 + ",14\n")  # over csv's field limit


def test_read_plan_csv_reads_files_only(tmp_path):
    plan = tmp_path / "plan.csv"
    plan.write_bytes(("\ufeff" + HEADER.rstrip("\n")).encode())  # header only, no newline
    assert forecast.read_plan_csv(plan) == [] and forecast.read_plan_csv(str(plan)) == []
    plan.write_text((HEADER + ONE_ROW).replace("\n", "\r"), encoding="utf-8")
    assert [r.clip for r in forecast.read_plan_csv(str(plan))] == ["x"]
    plan.write_bytes(b"")
    with pytest.raises(ParamError, match="the file is empty"):
        forecast.read_plan_csv(plan)
    plan.write_bytes(b"\xff\xfe" + HEADER.encode("utf-16-le"))
    with pytest.raises(ParamError, match="not UTF-8"):
        forecast.read_plan_csv(plan)
    with pytest.raises(ParamError, match="cannot read"):
        forecast.read_plan_csv(tmp_path)  # a directory
    with pytest.raises(ParamError, match="no file"):
        forecast.read_plan_csv("clip,duration_s")  # no line break: a (missing) path


def test_plan_csv_is_the_plan_columns_and_reimports():
    """The autosave format: no pricing, re-imported by read_plan_text to equal rows."""
    rows = forecast.read_plan_csv(TWENTY)
    text = forecast.plan_csv(rows)
    assert text.splitlines()[0] == ",".join(forecast.PLAN_COLUMNS)
    assert "quote_usd" not in text and "published" not in text
    assert forecast.read_plan_text(text) == rows
    assert forecast.read_plan_text(forecast.plan_csv([])) == []
    odd = [row(RHEA, {"target_fps": 29.97}, clip='a "quoted", clip', seconds=0.5, fps=23.976,
               generations=4),
           PlanRow("p", 3.25, 16, 8192, 240.0, HYPERION, models.get(HYPERION).with_defaults({}),
                   path="/clips/p.mov")]
    assert forecast.read_plan_text(forecast.plan_csv(odd)) == odd
    # the same columns, in the same form, as the priced export
    priced = forecast.price_plan(rows).to_csv().splitlines()
    cut = len(forecast.PLAN_COLUMNS)
    assert [next(csv.reader([ln]))[:cut] for ln in priced] == list(csv.reader(io.StringIO(text)))


def test_missing_columns_and_missing_file():
    with pytest.raises(ParamError) as err:
        forecast.read_plan_text("clip,duration_s,model_id\nx,1,Rhea upscale\n")
    assert err.value.problems[0].startswith("columns: missing width, height, fps")
    with pytest.raises(ParamError, match="no file"):
        forecast.read_plan_csv(REPO / "samples" / "plans" / "nope.csv")


# -- the editor's limits, everywhere a row comes in -------------------------------------------

GOOD = {"clip": "x", "duration_s": "14", "width": "1280", "height": "720", "fps": "20",
        "model_id": "Rhea upscale", "generations": "1"}
BAD_NUMBERS = ["1e30", "1e308", "nan", "inf", "-inf", "-1", "0", "abc", "1e400", "9" * 400]
BAD = [(column, value) for column in ("duration_s", "width", "height", "fps", "generations")
       for value in BAD_NUMBERS] + [
    ("generations", "1e26"), ("generations", "5"), ("generations", "2.5"), ("width", "15"),
    ("width", "8193"), ("height", "720.5"), ("fps", "0.5"), ("fps", "241"),
    ("duration_s", "36000.001"),
]


@pytest.mark.parametrize(("column", "value"), BAD, ids=[f"{c}={v[:12]}" for c, v in BAD])
def test_every_reader_applies_the_editor_limits(column, value):
    """duration_s (0, 36000] s, width/height whole px in [16, 8192], fps [1, 240],
    generations whole in [1, 4]: one "row N, column: …" sentence, and only ParamError."""
    rows, problems = forecast.rows_from_records([GOOD, {**GOOD, column: value}])
    assert len(rows) == 1 and len(problems) == 1, problems
    assert problems[0].startswith(f"row 2, {column}: must be ")
    text = HEADER + "ok,14,1280,720,20,Rhea upscale,,1,\n" + ",".join(
        {**GOOD, "params": "", "path": ""}.get(c, "") if c != column else value
        for c in forecast.PLAN_COLUMNS) + "\n"
    with pytest.raises(ParamError) as err:
        forecast.read_plan_text(text)
    assert err.value.problems == problems


@pytest.mark.parametrize(("column", "value", "says"), [
    ("duration_s", 36000, None), ("duration_s", 0.01, None), ("width", 16, None),
    ("height", 8192, None), ("fps", 1, None), ("fps", 240, None), ("generations", 4, None),
    ("duration_s", float("inf"), "duration_s: must be a number of seconds"),
    ("width", 1e30, "width: must be between 16 and 8192 pixels (got 1e+30)"),
    ("generations", 1e26, "generations: must be a whole number from 1 to 4 (got 1e+26)"),
    ("generations", 10 ** 30, "generations: must be a whole number from 1 to 4"),
    ("fps", Decimal("sNaN"), "fps: is missing"),  # NaN is the editor's empty cell
    ("height", Decimal("1E+999999"), "height: must be a whole number of pixels"),
    ("duration_s", 10 ** 400, "duration_s: must be a number of seconds"),
    ("width", True, "width: must be a whole number of pixels"),
])
def test_limits_at_the_edges_and_odd_python_values(column, value, says):
    rows, problems = forecast.rows_from_records([{**GOOD, column: value}])
    if says is None:
        assert problems == [] and len(rows) == 1
    else:
        assert rows == [] and len(problems) == 1 and problems[0].startswith(f"row 1, {says}")


BAD_ROWS = [(column, value) for column in ("duration_s", "width", "height", "fps", "generations")
            for value in (1e30, 1e308, float("nan"), float("inf"), -1, 0, "abc", 1e26,
                          Decimal("sNaN"), 10 ** 400, None)]


@pytest.mark.parametrize(("column", "value"), BAD_ROWS,
                         ids=[f"{c}={str(v)[:12]}" for c, v in BAD_ROWS])
def test_price_plan_never_raises_for_a_hand_built_row(column, value):
    """A PlanRow built directly with bad numbers is a problem row; the plan is still priced
    and exports; the comparison counts it as a problem."""
    fields = {"clip": "bad", "duration_s": 14.0, "width": 1280, "height": 720, "fps": 20.0,
              "model_id": RHEA, "params": {}, "generations": 1, column: value}
    bad = PlanRow(**fields)
    priced = forecast.price_plan([row(STARLIGHT, {"resolution": "4k"}), bad])
    assert priced.total_usd == Decimal("2.0916")
    assert priced.rows[1].quote is None and priced.rows[1].problem.startswith(f"{column}: must")
    priced.to_csv(), priced.to_json(), priced.to_frame()
    cmp = forecast.compare_models([bad], target_resolution="4k")
    assert (cmp["problems"] == 1).all() and not cmp["cheapest_meeting_target"].any()


def test_price_plan_turns_arithmetic_failures_into_the_rows_problem():
    """A live rate of $1e30/s cannot make a 4-decimal quote: that row says so, others price."""
    live = {STARLIGHT: {"method": "per_video_output_second", "cost_per_second": 1e30,
                        "cost_per_second_high_res": 1e30, "cost_per_second_by_resolution": None}}
    priced = forecast.price_plan([row(STARLIGHT, {"resolution": "4k"}), row(RHEA, {})],
                                 live_pricing=live)
    assert priced.rows[0].quote is None and "cannot be priced" in priced.rows[0].problem
    assert priced.rows[1].quote is not None and priced.total_usd == priced.rows[1].amount_usd
    odd = PlanRow("odd", 14.0, 1280, 720, 20.0, RHEA, {"target_fps": 10 ** 400})
    assert forecast.price_plan([odd]).rows[0].problem
    assert "params: must be a mapping" in forecast.price_plan(
        [PlanRow("none", 14.0, 1280, 720, 20.0, RHEA, None)]).rows[0].problem  # type: ignore[arg-type]


def test_records_that_are_not_records_or_hold_odd_params_are_problems():
    too_long = '{"target_fps": ' + "9" * 5000 + "}"  # past Python's int-from-text limit
    rows, problems = forecast.rows_from_records([
        5, {**GOOD, "params": too_long}, {**GOOD, "params": "[" * 100_000},
        {**GOOD, "params": '{"target_fps": 1e999}'}, {**GOOD, "params": '{"target_fps": NaN}'},
        {**GOOD, "params": {"target_fps": 10 ** 400}},
    ])
    assert rows == [] and [p.split(",")[0].split(":")[0] for p in problems] == [
        "row 1", "row 2", "row 3", "row 4", "row 5", "row 6"]
    assert problems[0].startswith("row 1: must be a record of the plan columns")


def test_records_keep_good_rows_and_skip_blank_ones():
    records = [
        {"clip": "a", "duration_s": 14.0, "width": 1280, "height": 720, "fps": 20.0,
         "model_id": STARLIGHT, "params": {"resolution": "1080p"}},
        {"clip": None, "duration_s": float("nan"), "width": None, "height": None, "fps": None,
         "model_id": None, "params": None},  # the editor's fresh row
        {"clip": "b", "duration_s": 5.0, "width": 1920.0, "height": 1080.0, "fps": 24.0,
         "model_id": "Hyperion HDR", "generations": 2.5},
    ]
    rows, problems = forecast.rows_from_records(records)
    assert [r.clip for r in rows] == ["a"] and rows[0].params["resolution"] == "1080p"
    assert problems == ["row 3, generations: must be a whole number from 1 to 4 (got 2.5)"]


def test_an_invalid_row_does_not_break_the_plan():
    bad = PlanRow("broken", 10.0, 1920, 1080, 24.0, RHEA, {"resolution": "8k"})
    priced = forecast.price_plan([row(STARLIGHT, {"resolution": "4k"}), bad])
    assert priced.total_usd == Decimal("2.0916")
    assert priced.rows[1].quote is None and "resolution" in priced.rows[1].problem
    assert priced.problems == [f"row 2 (broken): {priced.rows[1].problem}"]
    frame = priced.to_frame()
    assert frame.loc[1, "quote_usd"] is None and "resolution" in frame.loc[1, "problem"]


def test_ltx_on_oxen_says_what_the_quote_covers():
    priced = forecast.price_plan([row(LTX_OXEN, {}, seconds=30.0, fps=24.0)])
    (r,) = priced.rows
    assert r.quote is not None and any("num_frames=121" in n for n in r.notes)


# -- the twenty-clip plan: CSV, JSON and CLI agree to the cent -----------------------------

def test_twenty_clip_plan_totals_agree_everywhere(capsys, monkeypatch, tmp_path):
    rows = forecast.read_plan_csv(TWENTY)
    assert len(rows) == 20 and len({r.model_id for r in rows}) == 3
    priced = forecast.price_plan(rows)
    assert not priced.problems
    total = priced.total_usd
    assert sum(priced.by_model().values()) == total

    exported = list(csv.DictReader(io.StringIO(priced.to_csv())))
    assert sum(Decimal(r["quote_usd"]) for r in exported) == total
    assert all(r["provenance"] and r["source_url"] and r["as_of"] for r in exported)
    data = json.loads(priced.to_json())
    assert Decimal(data["total_usd"]) == total
    assert sum(Decimal(r["quote_usd"]) for r in data["rows"]) == total

    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(cli, "open_studio", _no_provider)
    monkeypatch.setattr(cli, "start_sandbox", _no_provider)
    assert cli.main(["forecast", str(TWENTY)]) == 0
    out = capsys.readouterr().out
    printed = re.search(r"^Total: \$([\d,]+\.\d{2})$", out, re.M)  # a total: to the cent
    assert printed and Decimal(printed.group(1).replace(",", "")) == total.quantize(
        Decimal("0.01"), rounding="ROUND_HALF_UP")
    assert len([ln for ln in out.splitlines() if re.match(r"^\s+\d+\s", ln)]) == 20
    for model_id, amount in priced.by_model().items():
        assert re.search(rf"{re.escape(models.get(model_id).display_name)}\s+\d+ row\(s\)\s+"
                         rf"{re.escape(cents(amount))}$", out, re.M)

    assert cli.main(["forecast", str(TWENTY), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(priced.to_json())


# Issue 10 item 2: the same plan on every model, on samples/plans/twenty_clips.csv, with
# every amount worked out here from pricing.md's rates and the billing rules.
def _q(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.0001"), rounding="ROUND_HALF_UP")  # 1/100 of a cent


# Upscaling rows: output seconds (frames = round(duration × fps), re-timed to target_fps,
# default 30; seconds to the ms), generations, Rhea's ×2 interpolation surcharge.
#   cockatoo 14 s ×2 rows · interview-a 1274 fr @29.97 → 1275 @30 = 42.5 s
#   interview-b 1834 fr @29.97 kept at 29.97 = 61.195 s, 2 generations · drone-01 18 s
#   drone-02 584 fr @25 → 701 @30 = 23.367 s · archive-1998 3596 fr → 3600 @30 = 120 s ×2 rows
#   archive-2003 95.4 s @25 · b-roll-street 197 fr @24 = 8.208 s, 3 generations
#   b-roll-park 12 s @60, interpolated · phone-vertical 31.7 s · timelapse 45 s · webinar 600 s
UPSCALE_ROWS = [("14", 1, False), ("14", 1, False), ("42.5", 1, False), ("61.195", 2, False),
                ("18", 1, False), ("23.367", 1, False), ("120", 1, False), ("120", 1, False),
                ("95.4", 1, False), ("8.208", 3, False), ("12", 1, True), ("31.7", 1, False),
                ("45", 1, False), ("600", 1, False)]
RHEA_RATE = {"720p": "0.0056667", "1080p": "0.0126667", "2k": "0.0503333", "4k": "0.0503333"}
STARLIGHT_RATE = {"1080p": "0.0374", "2k": "0.1494", "4k": "0.1494"}  # 2k billed as 4k


def _upscale_total(rate: str, *, surcharge: bool) -> Decimal:
    return sum((_q(Decimal(s) * Decimal(rate) * (2 if interp and surcharge else 1)) * gens
                for s, gens, interp in UPSCALE_ROWS), Decimal(0))


# SDR → HDR rows on Hyperion: seconds × the tier of the short side (≤720 / ≤1080 / above).
#   sunset-hdr 20 s ×2 rows (1080) · concert 6309 fr @29.97 = 210.511 s (2160)
#   trailer 3596 fr @23.976 = 149.983 s, 2 generations (800) · game-capture 75 s (1440)
#   short-720 9.6 s (720)
HYPERION_TOTAL = (2 * _q(Decimal("20") * Decimal("0.0126667"))
                  + _q(Decimal("210.511") * Decimal("0.0503333"))
                  + 2 * _q(Decimal("149.983") * Decimal("0.0126667"))
                  + _q(Decimal("75") * Decimal("0.0503333"))
                  + _q(Decimal("9.6") * Decimal("0.0056667")))


@pytest.mark.parametrize(("target", "rhea_tier", "starlight_tier", "hdr_best"), [
    ("720p", "720p", "1080p", "Topaz Hyperion HDR"),  # Starlight has no 720p: its 1080p
    ("1080p", "1080p", "1080p", None),  # short-720 stays 1280×720 on every HDR model
    ("2k", "2k", "2k", None),
    ("4k", "4k", "4k", None),
])
def test_same_plan_every_model_on_the_twenty_clip_plan(target, rhea_tier, starlight_tier,
                                                       hdr_best):
    """Each bar is priced at a stated tier; per job exactly the cheapest model that meets
    the target is highlighted — Rhea for the upscaling rows at every target — and a job
    with no model meeting the target has no highlight (and no bar claims otherwise)."""
    cmp = forecast.compare_models(forecast.read_plan_csv(TWENTY), target_resolution=target)
    by = cmp.set_index("model_name")
    rhea = _upscale_total(RHEA_RATE[rhea_tier], surcharge=True)
    starlight = _upscale_total(STARLIGHT_RATE[starlight_tier], surcharge=False)
    assert (by.loc["Topaz Rhea", "total_usd"], by.loc["Topaz Starlight 2.5", "total_usd"]) == (
        rhea, starlight)
    assert by.loc["Topaz Rhea", "priced_at"] == f"{rhea_tier} tier"
    assert by.loc["Topaz Starlight 2.5", "priced_at"].startswith(f"{starlight_tier} tier")
    assert rhea < starlight
    assert by.loc["Topaz Hyperion HDR", "total_usd"] == HYPERION_TOTAL
    best = {r["task"]: r["model_name"] for r in cmp[cmp["cheapest_meeting_target"]]
            .to_dict("records")}
    assert best == {"upscale": "Topaz Rhea", **({"hdr": hdr_best} if hdr_best else {})}
    assert by.loc["Topaz Rhea", "meets_target"] and by.loc["Topaz Starlight 2.5", "meets_target"]
    hdr = cmp[cmp["task"] == "hdr"]
    if hdr_best is None:
        assert not (hdr["meets_target"] & (hdr["limit_rows"] == 0)).any()
    fig = charts.model_comparison(cmp)
    bar = fig.data[0]
    labels = dict(zip(bar.x[1], bar.text, strict=True))
    assert labels["Topaz Rhea"] == f"{cents(rhea)}<br>{rhea_tier} tier"
    colors = dict(zip(bar.x[1], bar.marker.color, strict=True))
    assert colors["Topaz Rhea"] == charts.CHEAPEST_COLOR
    assert colors["Topaz Starlight 2.5"] == charts.MEETS_COLOR
    assert [c == charts.CHEAPEST_COLOR for c in bar.marker.color].count(True) == len(best)


def _no_provider(*_a, **_k):
    raise AssertionError("forecast must not open a studio or start a sandbox")


# -- rate book --------------------------------------------------------------------------------

def _override(model_id, tier, usd):
    base = next(r for r in bundled_rates() if r.model_id == model_id and r.tier == tier)
    return Rate(model_id, tier, base.unit, Decimal(usd), "override", "team override", "2026-12-01")


def test_the_book_reaches_the_quote():
    book = RateBook(bundled_rates(), [_override(STARLIGHT, "4k", "0.2")])
    priced = forecast.price_plan([row(STARLIGHT, {"resolution": "4k"})], book=book)
    assert priced.total_usd == Decimal("2.8000")
    assert priced.rows[0].quote.provenance == "override" and priced.notes == ()


def test_cli_uses_team_overrides_from_the_data_dir(capsys, monkeypatch, tmp_path):
    from studio.ratebook import OverrideStore
    from studio.store import JobStore

    OverrideStore(JobStore.from_settings(tmp_path)).set(STARLIGHT, "4k", "0.2",
                                                        reason="negotiated", who="lead")
    plan = tmp_path / "plan.csv"
    plan.write_text(HEADER + 'x,14,1280,720,20,Starlight upscale,"{""resolution"": ""4k""}",1,\n')
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(cli, "open_studio", _no_provider)
    assert cli.main(["forecast", str(plan)]) == 0
    out = capsys.readouterr().out
    assert "Total: $2.80" in out and "override" in out


def test_cli_invalid_plan_exits_2_with_every_problem(capsys, monkeypatch, tmp_path):
    plan = tmp_path / "plan.csv"
    plan.write_text(HEADER + "a,abc,1280,720,20,Rhea upscale,,1,\nb,3,1280,720,20,nope,,0,\n")
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(cli, "open_studio", _no_provider)
    assert cli.main(["forecast", str(plan)]) == 2
    err = capsys.readouterr().err
    assert "row 1, duration_s" in err and "row 2, model_id" in err and "row 2, generations" in err
    assert "Traceback" not in err


# -- comparison and heatmap -------------------------------------------------------------------

def test_compare_models_marks_exactly_the_cheapest_meeting_target():
    rows = [row(STARLIGHT, {"resolution": "1080p"}, seconds=14.0),
            row(RHEA, {"resolution": "720p"}, clip="d", seconds=40.0, w=1920, h=1080, fps=24.0)]
    cmp = forecast.compare_models(rows, target_resolution="4k")
    assert list(cmp["model_id"]) == [RHEA, STARLIGHT]
    assert cmp["meets_target"].all() and cmp["cheapest_meeting_target"].sum() == 1
    best = cmp[cmp["cheapest_meeting_target"]].iloc[0]
    assert best["total_usd"] == min(cmp["total_usd"])
    # each candidate total is the plan with resolution set to the target, priced by price_plan
    for rec in cmp.to_dict("records"):
        same = [PlanRow(r.clip, r.duration_s, r.width, r.height, r.fps, rec["model_id"],
                        {"resolution": "4k"}) for r in rows]
        assert rec["total_usd"] == forecast.price_plan(same).total_usd
        assert rec["output_resolution"] == "3840×2160"
    # Starlight does not offer 720p: both rows are priced at its lowest tier above it, 1080p
    # (not its 4k default), and the bar says so
    cmp720 = forecast.compare_models(rows, target_resolution="720p").set_index("model_id")
    assert cmp720.loc[STARLIGHT, "output_resolution"] == "1920×1080"
    assert cmp720.loc[STARLIGHT, "priced_at"] == "1080p tier (its lowest; it has no 720p)"
    assert cmp720.loc[STARLIGHT, "meets_target"] and cmp720.loc[RHEA, "priced_at"] == "720p tier"
    assert cmp720["cheapest_meeting_target"].sum() == 1 and cmp720.loc[RHEA, "cheapest_meeting_target"]


def test_compare_models_hdr_family_and_target_not_met():
    rows = [row(HYPERION, {}, seconds=30.0, w=1920, h=1080, fps=30.0)]
    cmp = forecast.compare_models(rows, target_resolution="1080p").set_index("model_id")
    assert set(cmp.index) == {HYPERION, LTX_OXEN, LTX_DIRECT}
    assert bool(cmp.loc[HYPERION, "meets_target"]) and not cmp.loc[LTX_OXEN, "meets_target"]
    assert cmp.loc[LTX_DIRECT, "limit_rows"] == 1  # 900 frames > 181 at ≤1080p
    assert cmp.loc[HYPERION, "cheapest_meeting_target"]
    assert cmp["cheapest_meeting_target"].sum() == 1
    none = forecast.compare_models(rows, target_resolution="4k")
    assert not none["meets_target"].any() and not none["cheapest_meeting_target"].any()
    with pytest.raises(ParamError):
        forecast.compare_models(rows, target_resolution="8k")


def test_compare_models_names_the_provenance_of_each_total():
    """Per candidate: the set of rate provenances behind its total, as price_plan sees it."""
    rows = [row(STARLIGHT, {"resolution": "1080p"}, clip="a"),
            row(STARLIGHT, {"resolution": "4k"}, clip="b"),
            row(HYPERION, {}, clip="c", w=1920, h=1080, fps=30.0)]
    book = RateBook(bundled_rates(), [_override(STARLIGHT, "4k", "0.2")])
    cmp = forecast.compare_models(rows, target_resolution=None, book=book)
    assert list(cmp.columns).index("provenance") < list(cmp.columns).index(
        "cheapest_meeting_target")
    by_model = cmp.set_index("model_id")["provenance"]
    assert by_model[STARLIGHT] == "override, published"
    assert by_model[RHEA] == "proxy" and by_model[HYPERION] == "proxy"
    assert by_model[LTX_DIRECT] == "published"
    own = forecast.price_plan(rows[:2], book=book)
    assert by_model[STARLIGHT] == ", ".join(sorted({r.quote.provenance for r in own.rows}))
    # surcharge factors count: Rhea's interpolation surcharge is a proxy on a proxy rate
    interp = forecast.compare_models([row(RHEA, {"interpolate_frames": True})],
                                     target_resolution=None).set_index("model_id")
    assert interp.loc[RHEA, "provenance"] == "proxy"
    # nothing priced: no provenance (empty text, so `if provenance:` reads naturally)
    none = forecast.compare_models([PlanRow("z", 0.0, 1280, 720, 20.0, RHEA, {})],
                                   target_resolution=None)
    assert set(none["provenance"]) == {""}
    data = json.loads(forecast.price_plan(rows).to_json(comparison=cmp))
    assert {c["model_id"]: c["provenance"] for c in data["comparison"]}[STARLIGHT] == \
        "override, published"


def test_heatmap_grid_cells_are_quotes():
    grid = forecast.heatmap_grid(HYPERION, {}, [5.0, 60.0], [(1280, 720), (3840, 2160)])
    assert list(grid.columns) == ["1280×720", "3840×2160"] and list(grid.index) == [5.0, 60.0]
    expected = forecast.price_plan([PlanRow("x", 60.0, 3840, 2160, 30.0, HYPERION, {})])
    assert grid.loc[60.0, "3840×2160"] == expected.total_usd
    assert grid.loc[5.0, "1280×720"] < grid.loc[5.0, "3840×2160"]
    assert grid.attrs["provenance"] == ["proxy"] and grid.attrs["model_id"] == HYPERION


def test_a_thousand_rows_across_every_model_are_all_priced():
    """1,000 distinct rows, 200 per model: every row gets a quote and the table has a row for
    each (its speed is bench/forecast_recompute.py's to measure, not a unit test's)."""
    rows = [row(m, {}, clip=f"c{i}", seconds=2 + i * 0.37, w=1920, h=1080, fps=24.0)
            for i, m in enumerate(list(models.MODELS) * 200)]
    frame = forecast.price_plan(rows).to_frame()
    assert len(frame) == len(rows) == 200 * len(models.MODELS)
    assert frame["clip"].nunique() == len(rows) and frame["problem"].isna().all()
    assert (frame["model_id"].value_counts() == 200).all()
