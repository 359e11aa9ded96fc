"""The sandbox's own price list and billing rules, against amounts worked by hand from
``shared/api/pricing.md`` (the rows are named on each case) — never from the client's rate
book, which the sandbox exists to check."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sandbox import models, prices
from sandbox.models import HYPERION, LTX_DIRECT, LTX_OXEN, RHEA, STARLIGHT, Geometry

D = Decimal


def charge(model_id: str, *, size=(1280, 720), seconds=14.0, out: Geometry | None = None,
           skew: str = "0", **params: object) -> prices.Charge:
    full = models.with_defaults(model_id, {"input_video": "x", "prompt": "p", **params})
    out = out or models.output_geometry(model_id, width=size[0], height=size[1], fps=20.0,
                                        frame_count=round(seconds * 20), params=full)
    return prices.charge(model_id, input_size=size, input_seconds=seconds, output=out,
                         params=full, skew=D(skew))


@pytest.mark.parametrize(("model_id", "params", "amount"), [
    # pricing.md rows 1–3: 14 s × $0.1494 (4k, Starlight's default) = $2.0916.
    (STARLIGHT, {}, "2.0916"),
    (STARLIGHT, {"resolution": "2k"}, "2.0916"),  # 2k billed at the high-res rate
    (STARLIGHT, {"resolution": "1080p"}, "0.5236"),  # 14 × 0.0374
    (STARLIGHT, {"resolution": "1080p", "interpolate_frames": True}, "0.5236"),  # none published
    # Rhea: Topaz Proteus table (row 15) at $0.10/credit: 34 credits / 600 s = 0.0056667 /s.
    (RHEA, {"resolution": "720p"}, "0.0793"),  # 14 × 0.0056667 = 0.0793338
    (RHEA, {"resolution": "1080p"}, "0.1773"),  # 14 × 0.0126667 = 0.1773338
    (RHEA, {"resolution": "4k"}, "0.7047"),  # 14 × 0.0503333 = 0.7046662
    (RHEA, {"resolution": "720p", "interpolate_frames": True}, "0.1587"),  # × 2 = 0.1586676
    # Hyperion on a 1280×720 clip: short side 720 → 720p row (row 12).
    (HYPERION, {}, "0.0793"),
])
def test_list_amounts_match_pricing_md(model_id, params, amount):
    assert charge(model_id, **params).amount_usd == D(amount)


def test_hyperion_tier_follows_the_short_side():
    assert charge(HYPERION, size=(1920, 1080)).amount_usd == D("0.1773")  # 1080p row 13
    assert charge(HYPERION, size=(1080, 1920)).amount_usd == D("0.1773")  # portrait too
    assert charge(HYPERION, size=(3840, 2160)).amount_usd == D("0.7047")  # 4K row 14


def test_ltx_2_3_is_billed_per_output_megapixel_rounded_up():
    """fal's own example (pricing.md row 4): 121 frames at 1280×720 ≈ 111.5 → 112 MP →
    $0.3032."""
    out = Geometry(1280, 720, 24.0, 121)
    got = charge(LTX_OXEN, out=out)
    assert (got.units, got.amount_usd) == (D(112), D("0.3032"))


def test_ltx_direct_is_billed_on_input_seconds_by_input_tier():
    """ltx.md §3.2 and pricing.md rows 6–8: $0.20 / $0.40 / $0.80 per input second; the tier
    is the smallest box holding the input by pixel count, either orientation."""
    assert charge(LTX_DIRECT, size=(1920, 1080), seconds=5).amount_usd == D("1.00")
    assert charge(LTX_DIRECT, size=(1080, 1920), seconds=5).amount_usd == D("1.00")
    assert charge(LTX_DIRECT, size=(1920, 1082), seconds=5).amount_usd == D("2.00")
    assert charge(LTX_DIRECT, size=(3840, 2160), seconds=1.5).amount_usd == D("1.20")


@pytest.mark.parametrize(("skew", "amount"), [
    ("0.05", "2.2017"),  # 2.0916 ÷ 0.95 = 2.20168…
    ("-0.05", "1.9920"),  # 2.0916 ÷ 1.05 = 1.99200
    ("0.5", "4.1832"),
])
def test_price_skew_is_relative_to_the_charge(skew, amount):
    """With --price-skew F the charge is list ÷ (1 − F), so (charge − list) / charge = F: the
    quote error the client's ledger reports is |F| (before rounding to $0.0001)."""
    got = charge(STARLIGHT, skew=skew)
    assert got.amount_usd == D(amount)
    assert float(abs(got.amount_usd - D("2.0916")) / got.amount_usd) == pytest.approx(
        abs(float(skew)), abs=5e-5)
    assert got.basis.endswith(f"÷ (1 − {skew}) = ${amount}")


@pytest.mark.parametrize("skew", ["1", "-1", "2"])
def test_price_skew_out_of_range_is_refused(skew):
    with pytest.raises(ValueError, match="between -1 and 1"):
        charge(STARLIGHT, skew=skew)


def test_every_price_names_its_source():
    for p in prices.PRICES:
        assert p.source.startswith("https://") and p.as_of[:4] == "2026" and p.derivation


def test_pricing_object_is_oxens_shape():
    """oxen.md §11.2: per-second rates as JSON numbers; no per-MP field exists there."""
    assert prices.pricing_object(STARLIGHT) == {
        "method": "per_video_output_second", "cost_per_second": 0.0374,
        "cost_per_second_high_res": 0.1494, "cost_per_second_with_audio": None,
        "cost_per_second_by_resolution": {"1080p": 0.0374, "2k": 0.1494, "4k": 0.1494}}
    assert prices.pricing_object(LTX_OXEN)["cost_per_second"] is None


@pytest.mark.parametrize(("size", "resolution", "expected"), [
    ((1280, 720), "1080p", (1920, 1080)),
    ((320, 240), "1080p", (1440, 1080)),
    ((1080, 1920), "1080p", (1080, 1920)),  # portrait: the short side is the tier's lines
    ((1280, 720), "2k", (2560, 1440)),
])
def test_upscale_geometry(size, resolution, expected):
    geo = models.output_geometry(STARLIGHT, width=size[0], height=size[1], fps=20.0,
                                 frame_count=280, params={"resolution": resolution})
    assert (geo.width, geo.height) == expected
    assert (geo.fps, geo.frame_count) == (30.0, 420)  # 14 s re-timed to the default 30


def test_ltx_2_3_geometry_caps_the_short_side_at_704():
    geo = models.output_geometry(LTX_OXEN, width=1280, height=720, fps=20.0, frame_count=280,
                                 params={})
    # 1280×720 × 704/720 = 1251.6×704 → even: 1252×704; 121 frames at 24 fps (defaults).
    assert (geo.width, geo.height, geo.fps, geo.frame_count) == (1252, 704, 24.0, 121)
