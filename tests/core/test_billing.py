"""Billing rules: every endpoint's pure function at every tier boundary, from bundled rates."""

from __future__ import annotations

from decimal import Decimal

import pytest

from studio import billing, pricing
from studio.media import ClipInfo
from studio.models import hyperion_hdr, ltx_direct, ltx_hdr, rhea, starlight
from studio.ratebook import Rate, bundled_book
from tests.model_ids import HYPERION, LTX_DIRECT, LTX_OXEN, RHEA, STARLIGHT


def lookup(model_id, live=None):
    """``rate(tier)`` from the bundled book, as pricing.quote binds it."""
    return lambda tier: bundled_book().rate_for(model_id, tier, live_pricing=live)


def bundled_usd(model_id, tier):
    return bundled_book().rate_for(model_id, tier).usd


def clip(seconds=10.0, w=1280, h=720, fps=24.0):
    return ClipInfo(duration_s=seconds, width=w, height=h, fps=fps, frame_count=round(seconds * fps),
                    codec="h264", pix_fmt="yuv420p", color_transfer=None)


# -- Starlight: output seconds × output tier rate; 2k billed as 4k ---------------------------

@pytest.mark.parametrize("resolution, rate, amount", [
    ("1080p", "0.0374", "0.5236"),
    ("2k", "0.1494", "2.0916"),
    ("4k", "0.1494", "2.0916"),
])
def test_starlight_each_resolution(resolution, rate, amount):
    q = starlight.bill(14, resolution, interpolate_frames=False, rate=lookup(STARLIGHT))
    assert (q.tier, q.rate.usd, q.amount_usd) == (resolution, Decimal(rate), Decimal(amount))
    assert q.basis == f"14 output s × ${rate} = ${amount}"
    assert q.provenance == "published" and q.rate.unit == "output_second"


def test_starlight_2k_is_billed_at_the_high_res_rate():
    assert bundled_usd(STARLIGHT, "2k") == bundled_usd(STARLIGHT, "4k")
    live = {"cost_per_second": 0.05, "cost_per_second_high_res": 0.2}
    q = starlight.bill(10, "2k", interpolate_frames=False, rate=lookup(STARLIGHT, live))
    assert q.amount_usd == Decimal("2.0000") and q.provenance == "live"


def test_starlight_interpolation_is_a_note_not_a_surcharge():
    plain = starlight.bill(14, "4k", interpolate_frames=False, rate=lookup(STARLIGHT))
    interp = starlight.bill(14, "4k", interpolate_frames=True, rate=lookup(STARLIGHT))
    assert interp.amount_usd == plain.amount_usd and not interp.surcharges
    assert "interpolation" in interp.notes[0].lower()


# -- Rhea: output tier rate × proxy interpolation factor ----------------------------------------

@pytest.mark.parametrize("resolution, interpolate, amount", [
    ("720p", False, "0.0793"),   # 14 × 0.0056667 = 0.0793338
    ("720p", True, "0.1587"),    # × 2 = 0.1586676
    ("1080p", False, "0.1773"),  # 14 × 0.0126667 = 0.1773338
    ("1080p", True, "0.3547"),   # × 2 = 0.3546676
    ("2k", False, "0.7047"),     # 14 × 0.0503333 = 0.7046662
    ("2k", True, "1.4093"),      # × 2 = 1.4093324
    ("4k", False, "0.7047"),
    ("4k", True, "1.4093"),
])
def test_rhea_with_and_without_interpolation(resolution, interpolate, amount):
    q = rhea.bill(14, resolution, interpolate_frames=interpolate, rate=lookup(RHEA))
    assert q.amount_usd == Decimal(amount)
    assert q.tier == resolution and q.rate.tier == resolution and q.provenance == "proxy"
    if interpolate:
        (factor,) = q.surcharges
        assert (factor.unit, factor.tier, factor.usd) == ("factor", "interpolate_frames", 2)
        assert factor.provenance == "proxy"
        assert "proxy interpolation surcharge, an assumption" in q.basis
        assert "assumption" in q.notes[0] and "per output frame" in q.notes[0]
    else:
        assert not q.surcharges and not q.notes


def test_rhea_surcharge_rounds_once_at_the_end():
    # 1 s × $0.00003 × 2 = $0.00006 → $0.0001; rounding before the factor would give $0.0000.
    def rate(tier):
        usd = "2" if tier == "interpolate_frames" else "0.00003"
        return Rate(RHEA, tier, "output_second", Decimal(usd), "proxy", "https://x", "2026-11-20")
    assert rhea.bill(1, "720p", interpolate_frames=True, rate=rate).amount_usd == Decimal("0.0001")


def test_rhea_quote_labels_the_proxy_surcharge_in_json():
    q = pricing.quote(RHEA, clip(14.0), {"resolution": "4k", "interpolate_frames": True})
    assert q.amount_usd == Decimal("1.4093")
    j = q.to_json()
    assert j["surcharges"] == [{"tier": "interpolate_frames", "factor": "2", "provenance": "proxy",
                                "source_url": q.surcharges[0].source_url, "as_of": "2026-06-26"}]
    assert "surcharge" in j["basis"] and j["notes"]


# -- Hyperion: tier by short side ---------------------------------------------------------------

@pytest.mark.parametrize("w, h, tier", [
    (1280, 720, "720p"), (1280, 721, "1080p"), (720, 1280, "720p"), (721, 1280, "1080p"),
    (640, 360, "720p"), (1920, 1080, "1080p"), (1920, 1081, "4k"), (1080, 1920, "1080p"),
    (3840, 2160, "4k"), (4096, 2160, "4k"),
])
def test_hyperion_tier_by_short_side(w, h, tier):
    assert hyperion_hdr.tier_for(w, h) == tier
    q = hyperion_hdr.bill(60, w, h, rate=lookup(HYPERION))
    assert q.tier == tier and q.units == 60 and q.provenance == "proxy"
    assert q.amount_usd == (60 * bundled_usd(HYPERION, tier)).quantize(billing.CENTI_CENT)


def test_hyperion_proxy_matches_topaz_credit_table():
    # 10 min at 4K = 302 credits × $0.10 = $30.20 (pricing.md rows 11, 14).
    assert hyperion_hdr.bill(600, 3840, 2160, rate=lookup(HYPERION)).amount_usd == Decimal("30.2000")


# -- LTX on Oxen: output megapixels, rounded up ---------------------------------------------------

@pytest.mark.parametrize("w, h, frames, mp, amount", [
    (1280, 720, 121, 112, "0.3032"),    # fal's example: 111.5136 MP → 112 MP → $0.3032
    (1000, 1000, 1, 1, "0.0027"),       # exactly 1 MP stays 1
    (1001, 1000, 1, 2, "0.0054"),       # 1.001 MP → 2
    (1252, 704, 121, 107, "0.2897"),    # our 1280×720 request, capped to short side 704
    (1024, 576, 9, 6, "0.0162"),        # 5.3 MP → 6
])
def test_ltx_oxen_megapixels_round_up(w, h, frames, mp, amount):
    assert billing.megapixels(w, h, frames) == mp
    q = ltx_hdr.bill(w, h, frames, output_seconds=frames / 24, rate=lookup(LTX_OXEN))
    assert q.units == mp and q.amount_usd == Decimal(amount)
    assert q.rate.unit == "output_megapixel" and q.provenance == "proxy"
    assert f"{mp} MP ({w}×{h} × {frames} frames, rounded up)" in q.basis


def test_ltx_oxen_live_per_second_rate_bills_output_seconds():
    live = {"cost_per_second": 0.06}
    q = ltx_hdr.bill(1280, 720, 120, output_seconds=5.0, rate=lookup(LTX_OXEN, live))
    assert (q.units, q.amount_usd, q.provenance) == (5, Decimal("0.3000"), "live")


# -- LTX direct: input seconds × input tier --------------------------------------------------------

@pytest.mark.parametrize("w, h, tier", [
    (1920, 1080, "1080p"), (1080, 1920, "1080p"), (1920, 1082, "1440p"), (1082, 1920, "1440p"),
    (2560, 1440, "1440p"), (1440, 2560, "1440p"), (2560, 1442, "4k"), (3840, 2160, "4k"),
    (2160, 3840, "4k"), (640, 480, "1080p"),
])
def test_ltx_direct_input_tier_boundaries(w, h, tier):
    assert ltx_direct.tier_name(w, h) == tier
    q = ltx_direct.bill(10, w, h, rate=lookup(LTX_DIRECT))
    assert q.tier == tier and q.units == 10 and q.rate.unit == "input_second"
    assert q.amount_usd == 10 * bundled_usd(LTX_DIRECT, tier)
    assert not q.notes


@pytest.mark.parametrize("w, h", [(3840, 2161), (4096, 2160), (2161, 3840)])
def test_ltx_direct_above_4k_is_quoted_at_4k_with_a_note(w, h):
    assert ltx_direct.tier_name(w, h) is None
    q = ltx_direct.bill(1, w, h, rate=lookup(LTX_DIRECT))
    assert q.tier == "4k" and "rejected" in q.notes[0]


@pytest.mark.parametrize("w, h, tier", [(1920, 1080, "1080p"), (1920, 1082, "1440p"),
                                        (1080, 1920, "1080p")])
def test_acceptance_ltx_direct_ten_seconds(w, h, tier):
    """Issue 4: 10 s at 1920×1080 = 10 × the ≤1080p rate; 1920×1082 = 10 × the ≤1440p rate;
    1080×1920 = the ≤1080p rate."""
    q = pricing.quote(LTX_DIRECT, clip(10.0, w, h), {})
    assert q.amount_usd == 10 * bundled_usd(LTX_DIRECT, tier)
    assert q.rate is bundled_book().rate_for(LTX_DIRECT, tier)


# -- shared arithmetic -------------------------------------------------------------------------------

@pytest.mark.parametrize("x, expected", [
    (14.0, "14"), (13.9999999, "14"), (2.5004, "2.5"), (Decimal("2.0005"), "2.001"), (0, "0"),
])
def test_seconds_at_millisecond_precision(x, expected):
    assert billing.seconds(x) == Decimal(expected)


def test_amount_rounds_half_up_to_a_hundredth_of_a_cent():
    def rate(tier):
        return Rate(HYPERION, tier, "output_second", Decimal("0.00005"), "proxy", "https://x", "x")
    assert hyperion_hdr.bill(1, 100, 100, rate=rate).amount_usd == Decimal("0.0001")
    assert hyperion_hdr.bill(3, 100, 100, rate=rate).amount_usd == Decimal("0.0002")  # 0.00015


def test_missing_rate_raises_key_error():
    def rate(tier):
        raise KeyError(tier)
    with pytest.raises(KeyError):
        hyperion_hdr.bill(1, 100, 100, rate=rate)
