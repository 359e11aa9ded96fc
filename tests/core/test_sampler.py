"""The sampler's planning: labels, the 2–6 variant rule, and quotes for the segment and the
whole clip. Expected amounts are worked out by hand from ../shared/api/pricing.md."""

from __future__ import annotations

from decimal import Decimal

import pytest

from studio import pricing
from studio.media import ClipInfo
from studio.sampler import Variant, check_variants, key_params, segment_clip, total_usd
from tests.model_ids import LTX_OXEN, RHEA, STARLIGHT

COCKATOO = ClipInfo(duration_s=14.0, width=1280, height=720, fps=20.0, frame_count=280,
                    codec="h264", pix_fmt="yuv444p", color_transfer=None)
VARIANTS = [Variant(STARLIGHT, {"resolution": "1080p"}),
            Variant(STARLIGHT, {"resolution": "4k"}),
            Variant(RHEA, {"resolution": "1080p"})]
# pricing.md row 1: Starlight 1080p $0.0374/s; rows 2-3: 4k $0.1494/s; rows 11+15: Rhea
# (Proteus table) 1080p = 76 credits / 10 min × $0.10 = $0.012667/s. Both upscalers output
# target_fps 30 (the default): 40 frames at 20 fps → 60 frames → 2.0 s; the whole clip 14 s.
SEGMENT = [Decimal("0.0748"),   # 2 × 0.0374
           Decimal("0.2988"),   # 2 × 0.1494
           Decimal("0.0253")]   # 2 × 76 × 0.10 / 600 = 0.02533 → half-up to 1/100 cent
WHOLE = [Decimal("0.5236"),     # 14 × 0.0374
         Decimal("2.0916"),     # 14 × 0.1494
         Decimal("0.1773")]     # 14 × 76 × 0.10 / 600 = 0.17733


def test_segment_and_whole_clip_quotes_match_the_hand_worked_amounts():
    seg = segment_clip(COCKATOO, 40)
    assert (seg.frame_count, seg.duration_s, seg.width, seg.fps) == (40, 2.0, 1280, 20.0)
    got_seg = [pricing.quote(v.model_id, seg, v.params).amount_usd for v in VARIANTS]
    got_whole = [pricing.quote(v.model_id, COCKATOO, v.params).amount_usd for v in VARIANTS]
    assert got_seg == SEGMENT
    assert got_whole == WHOLE
    assert total_usd(got_seg) == Decimal("0.3989")


def test_key_params_name_what_tells_variants_apart():
    assert key_params(STARLIGHT, {"resolution": "1080p"}) == ["1080p", "30 fps"]
    assert key_params(RHEA, {"resolution": "4k", "interpolate_frames": True}) == [
        "4k", "30 fps", "interpolate frames on"]
    assert VARIANTS[0].label == "Topaz Starlight 2.5 · 1080p · 30 fps"
    # prompts are too long for a label
    assert not any("cinematic" in p for p in key_params(
        LTX_OXEN, {"prompt": "cinematic HDR"}))


def test_two_to_six_different_variants():
    assert check_variants(VARIANTS) == []
    assert check_variants(VARIANTS[:1]) == ["A sampler runs 2–6 variants (there are 1)."]
    assert "(there are 7)" in check_variants(VARIANTS * 2 + [VARIANTS[0]])[0]
    # the same request twice (defaults filled in: Starlight's default resolution is 4k)
    dup = check_variants([Variant(STARLIGHT, {}), VARIANTS[1]])
    assert dup == ["Variants 1 and 2 are the same request."]


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_variant_survives_the_session_round_trip(variant):
    assert Variant.from_json(variant.to_json()) == variant
