"""Quotes: every billing rule at its tier boundaries, with provenance on every rate."""

from decimal import Decimal

import pytest

from studio import models, pricing
from studio.media import ClipInfo
from studio.models import MODELS
from tests.model_ids import HYPERION, LTX_DIRECT, LTX_OXEN, RHEA, STARLIGHT


def clip(seconds=14.0, w=1280, h=720, fps=20.0):
    return ClipInfo(duration_s=seconds, width=w, height=h, fps=fps, frame_count=round(seconds * fps),
                    codec="h264", pix_fmt="yuv420p", color_transfer=None)


@pytest.mark.parametrize("resolution, expected", [
    ("4k", "2.0916"), ("2k", "2.0916"), ("1080p", "0.5236"),
])
def test_starlight_published_rates(resolution, expected):
    q = pricing.quote(STARLIGHT, clip(), {"resolution": resolution})
    assert q.amount_usd == Decimal(expected)
    assert q.provenance == "published"
    assert isinstance(q.amount_usd, Decimal)


def test_starlight_on_probed_cockatoo_is_exact(cockatoo):
    from studio.media import probe
    q = pricing.quote(STARLIGHT, probe(cockatoo), {"resolution": "4k"})
    assert q.amount_usd == Decimal("2.0916")
    assert "14 output s × $0.1494" in q.basis


@pytest.mark.parametrize("w, h, rate", [
    (1920, 1080, "0.20"), (1080, 1920, "0.20"), (1920, 1082, "0.40"), (2560, 1440, "0.40"),
    (2560, 1442, "0.80"), (3840, 2160, "0.80"),
])
def test_ltx_direct_input_tier(w, h, rate):
    q = pricing.quote(LTX_DIRECT, clip(10.0, w, h, 24.0), {})
    assert q.amount_usd == Decimal(rate) * 10
    assert q.provenance == "published"


def test_ltx_oxen_megapixels_rounded_up_matches_fal_example():
    # fal: 121 frames at 1280×720 ≈ 112 MP → $0.3032 (pricing.md row 4); our 1280×720
    # request is capped to 1252×704 → 107 MP.
    src = clip(10.0, 1280, 720, 24.0)
    q = pricing.quote(LTX_OXEN, src, {"prompt": "x", "num_frames": 121})
    geo = models.get(LTX_OXEN).output_geometry(width=1280, height=720, fps=24, frame_count=240,
                                  params={"num_frames": 121})
    mp = -(-geo.width * geo.height * 121 // 1_000_000)
    assert q.units == mp and q.amount_usd == (Decimal(mp) * Decimal("0.0027075")).quantize(
        Decimal("0.0001"))
    assert q.provenance == "proxy"


@pytest.mark.parametrize("h, tier", [(720, "720p"), (1080, "1080p"), (2160, "4k")])
def test_hyperion_proxy_tiers(h, tier):
    q = pricing.quote(HYPERION, clip(60.0, h * 16 // 9, h, 30.0), {})
    assert q.tier == tier and q.provenance == "proxy"
    assert q.units == 60


def test_rhea_quotes_output_seconds_at_output_tier():
    q720 = pricing.quote(RHEA, clip(), {"resolution": "720p"})
    q4k = pricing.quote(RHEA, clip(), {"resolution": "4k"})
    assert q720.amount_usd < q4k.amount_usd
    assert q4k.tier == "4k" and q4k.provenance == "proxy"


def test_interpolation_is_flagged_not_silently_priced():
    q = pricing.quote(STARLIGHT, clip(), {"interpolate_frames": True})
    assert q.notes and "interpolation" in q.notes[0].lower()


def test_every_model_has_a_sourced_quote():
    for mid in MODELS:
        q = pricing.quote(mid, clip(), {"prompt": "x"} if mid == LTX_OXEN else {})
        assert q.amount_usd > 0
        assert q.provenance in pricing.PROVENANCES
        assert q.rate.source_url and q.rate.as_of
        assert q.to_json()["amount_usd"] == str(q.amount_usd)


def test_every_bundled_rate_has_a_source():
    for r in pricing.bundled_rates():
        assert r.source_url.startswith("https://") and r.as_of and r.provenance in ("published", "proxy")


def test_live_pricing_wins_and_is_labelled():
    live = {"method": "per_video_output_second", "cost_per_second": 0.05,
            "cost_per_second_high_res": 0.2, "cost_per_second_by_resolution": {"4k": 0.25}}
    assert pricing.quote(STARLIGHT, clip(), {"resolution": "4k"}, live_pricing=live).amount_usd == Decimal("3.5")
    q = pricing.quote(STARLIGHT, clip(), {"resolution": "2k"}, live_pricing=live)
    assert q.amount_usd == Decimal("2.8") and q.provenance == "live"
    q = pricing.quote(STARLIGHT, clip(), {"resolution": "1080p"}, live_pricing=live)
    assert q.amount_usd == Decimal("0.7")


def test_sandbox_pricing_object_matches_bundled_rates():
    obj = pricing.oxen_pricing_object(STARLIGHT)
    assert obj["cost_per_second"] == 0.0374 and obj["cost_per_second_high_res"] == 0.1494
    assert obj["cost_per_second_by_resolution"]["2k"] == 0.1494


def test_cost_chart_has_a_line_per_tier_and_marks_the_clip():
    from studio.charts import cost_curve
    fig = cost_curve(STARLIGHT, clip(), {"resolution": "4k"})
    names = [t.name for t in fig.data]
    assert names[:3] == ["1080p (published)", "2k (published)", "4k (published)"]
    marker = fig.data[-1]
    assert marker.name == "this clip" and marker.y[0] == pytest.approx(2.0916)
    line4k = fig.data[2]
    assert line4k.x[-1] == pytest.approx(10.0) and line4k.y[-1] == pytest.approx(600 * 0.1494)
    fig = cost_curve(LTX_DIRECT, clip(5.0), {})
    assert len(fig.data) == 4


def test_quote_json_only_adds_fields():
    q = pricing.quote(STARLIGHT, clip(), {"resolution": "4k"})
    j = q.to_json()
    assert {"model_id", "amount_usd", "units", "unit", "tier", "provenance", "rate_usd",
            "source_url", "as_of", "basis", "notes"} <= set(j)
    assert j["surcharges"] == []


def test_rhea_interpolation_is_priced_with_a_labelled_proxy_surcharge():
    plain = pricing.quote(RHEA, clip(), {"resolution": "4k"})
    interp = pricing.quote(RHEA, clip(), {"resolution": "4k", "interpolate_frames": True})
    assert interp.amount_usd == (plain.units * plain.rate.usd * 2).quantize(Decimal("0.0001"))
    assert "proxy interpolation surcharge" in interp.basis
    assert interp.surcharges[0].provenance == "proxy" and "assumption" in interp.notes[0]


def test_quote_with_an_explicit_bundled_book_matches_the_default():
    from studio.ratebook import RateBook
    book = RateBook(pricing.bundled_rates())
    for mid in MODELS:
        p = {"prompt": "x"} if mid == LTX_OXEN else {}
        assert pricing.quote(mid, clip(), p, book=book) == pricing.quote(mid, clip(), p, book=None)

