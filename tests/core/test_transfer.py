"""Colour math: reference values from the standards, round trips and tone-mapping shape."""

from __future__ import annotations

import numpy as np
import pytest

from studio import transfer as T

# (nits, PQ signal): SMPTE ST 2084 / ITU-R BT.2408 Table 1 (100 nits ≈ 51 %, 203 ≈ 58 %,
# 1000 ≈ 75 %), 10 000 nits = 1.0 by definition.
PQ_TABLE = [(0.0, 0.0), (100.0, 0.5081), (203.0, 0.5807), (1000.0, 0.7518), (10000.0, 1.0)]


@pytest.mark.parametrize(("nits", "signal"), PQ_TABLE)
def test_pq_inverse_eotf_reference_values(nits, signal):
    assert float(T.pq_inverse_eotf(nits)) == pytest.approx(signal, abs=2e-4)


@pytest.mark.parametrize(("nits", "signal"), PQ_TABLE[1:])
def test_pq_eotf_reference_values(nits, signal):
    assert float(T.pq_eotf(signal)) == pytest.approx(nits, rel=2e-3)


def test_pq_round_trip_over_the_whole_range():
    nits = np.geomspace(0.01, 10000, 200, dtype=np.float32)
    assert np.allclose(T.pq_eotf(T.pq_inverse_eotf(nits)), nits, rtol=1e-3)


# (scene light E, HLG signal E'): ARIB STD-B67 / ITU-R BT.2100 Table 5.
HLG_TABLE = [(0.0, 0.0), (1.0 / 12.0, 0.5), (1.0, 1.0)]


@pytest.mark.parametrize(("scene", "signal"), HLG_TABLE)
def test_hlg_oetf_reference_values(scene, signal):
    assert float(T.hlg_oetf(scene)) == pytest.approx(signal, abs=1e-5)
    assert float(T.hlg_inverse_oetf(signal)) == pytest.approx(scene, abs=1e-5)


def test_hlg_round_trip():
    e = np.linspace(0, 1, 101, dtype=np.float32)
    assert np.allclose(T.hlg_inverse_oetf(T.hlg_oetf(e)), e, atol=1e-5)


@pytest.mark.parametrize(("peak", "gamma"), [(1000.0, 1.2), (2000.0, 1.2 + 0.42 * np.log10(2))])
def test_hlg_system_gamma(peak, gamma):
    assert T.hlg_system_gamma(peak) == pytest.approx(gamma)


def test_hlg_reference_white_is_75_percent():
    # ITU-R BT.2408 Table 1: HDR reference white (203 nits) = HLG 75 % on a 1000-nit display.
    scene = T.hlg_inverse_ootf(np.array([[203.0, 203.0, 203.0]]), peak_nits=1000.0)
    assert np.allclose(T.hlg_oetf(scene), 0.75, atol=2e-3)


def test_hlg_ootf_round_trip():
    nits = np.array(
        [[5.0, 60.0, 300.0], [203.0, 203.0, 203.0], [600.0, 10.0, 1.0]]
    )  # all inside the HLG range
    back = T.hlg_ootf(T.hlg_inverse_ootf(nits, peak_nits=1000.0), peak_nits=1000.0)
    assert np.allclose(back, nits, rtol=1e-3)


@pytest.mark.parametrize(
    ("fn", "signal", "light"),
    [
        (T.bt1886_eotf, 0.5, 0.5**2.4),  # ITU-R BT.1886, zero black level
        (T.bt1886_eotf, 1.0, 1.0),
        (T.srgb_decode, 0.5, 0.21404),  # IEC 61966-2-1
        (T.srgb_decode, 0.04045, 0.0031308),
        (T.srgb_decode, 1.0, 1.0),
    ],
)
def test_sdr_decode_reference_values(fn, signal, light):
    assert float(fn(signal)) == pytest.approx(light, rel=1e-4)


@pytest.mark.parametrize(
    ("decode", "encode"), [(T.bt1886_eotf, T.bt1886_inverse_eotf), (T.srgb_decode, T.srgb_encode)]
)
def test_sdr_round_trips(decode, encode):
    v = np.linspace(0, 1, 256, dtype=np.float32)
    assert np.allclose(encode(decode(v)), v, atol=1e-4)


def test_bt1886_with_black_level_hits_both_ends():
    assert float(T.bt1886_eotf(0.0, white=100.0, black=0.1)) == pytest.approx(0.1, rel=1e-4)
    assert float(T.bt1886_eotf(1.0, white=100.0, black=0.1)) == pytest.approx(100.0, rel=1e-4)


def test_bt709_to_bt2020_matches_bt2087():
    # ITU-R BT.2087-0 eq. 4, printed to four decimals.
    expected = np.array(
        [[0.6274, 0.3293, 0.0433], [0.0691, 0.9195, 0.0114], [0.0164, 0.0880, 0.8956]]
    )
    assert np.allclose(T.BT709_TO_BT2020, expected, atol=1e-4)
    assert np.allclose(T.BT709_TO_BT2020.sum(axis=1), 1.0, atol=1e-5)  # D65 white is kept
    expected_back = np.array(
        [[1.6605, -0.5876, -0.0728], [-0.1246, 1.1329, -0.0083], [-0.0182, -0.1006, 1.1187]]
    )
    assert np.allclose(T.BT2020_TO_BT709, expected_back, atol=1e-4)
    rgb = np.random.default_rng(1).random((10, 3)).astype(np.float32)
    back = T.apply_matrix(T.apply_matrix(rgb, T.BT709_TO_BT2020), T.BT2020_TO_BT709)
    assert np.allclose(back, rgb, atol=1e-5)


@pytest.mark.parametrize(
    ("rgb", "ycbcr"),
    [
        ((0, 0, 0), (64, 512, 512)),  # BT.2020 Table 5: black
        ((1, 1, 1), (940, 512, 512)),  # nominal peak white
        ((1, 0, 0), (294, 387, 960)),  # red: Cr at its nominal maximum
        ((0, 0, 1), (116, 960, 476)),  # blue: Cb at its nominal maximum
    ],
)
def test_bt2020_ncl_ycbcr_10bit(rgb, ycbcr):
    y, cb, cr = T.rgb_to_ycbcr_bt2020(np.array([rgb], dtype=np.float32), bits=10)
    assert (int(y[0]), int(cb[0]), int(cr[0])) == ycbcr


def test_bt2020_ycbcr_round_trip():
    rgb = np.random.default_rng(2).random((64, 3)).astype(np.float32)
    back = T.ycbcr_to_rgb_bt2020(*T.rgb_to_ycbcr_bt2020(rgb, bits=10), bits=10)
    assert np.abs(back - rgb).max() < 3e-3  # 10-bit quantisation


def grey(v):
    return np.array([[v, v, v]], dtype=np.float32)


def test_inverse_tone_map_neutral_settings():
    # Below the threshold: SDR diffuse white scale, 203 nits per unit (ITU-R BT.2408).
    assert T.inverse_tone_map(grey(0.18))[0, 0] == pytest.approx(0.18 * 203.0, rel=1e-4)
    # SDR peak white expands to the 1000-nit peak.
    assert T.inverse_tone_map(grey(1.0))[0, 0] == pytest.approx(1000.0, rel=1e-4)
    ramp = np.linspace(0, 1, 500, dtype=np.float32)
    nits = T.inverse_tone_map(np.stack([ramp] * 3, axis=-1))[:, 0]
    assert np.all(np.diff(nits) >= 0)
    # Smooth join at the threshold: no jump in slope between neighbouring ramp steps.
    slopes = np.diff(nits) / np.diff(ramp)
    assert np.abs(np.diff(slopes)).max() < 0.05 * slopes.max()


@pytest.mark.parametrize(
    ("setting", "low", "high", "rule"),
    [
        ("adjust_exposure", 0.0, 1.0, "brighter"),
        ("highlight_threshold", 0.85, 0.45, "brighter"),
        ("boost_saturation", 0.0, 1.0, "more_chroma"),
    ],
)
def test_inverse_tone_map_knobs(setting, low, high, rule):
    colour = np.array([[0.5, 0.3, 0.2]], dtype=np.float32)
    a = T.inverse_tone_map(colour, **{setting: low})[0]
    b = T.inverse_tone_map(colour, **{setting: high})[0]
    if rule == "brighter":
        assert b.sum() > a.sum()
    else:
        assert (b.max() - b.min()) / b.sum() > (a.max() - a.min()) / a.sum()


def test_inverse_tone_map_exposure_is_one_stop_each_way():
    base = T.inverse_tone_map(grey(0.1))[0, 0]
    assert T.inverse_tone_map(grey(0.1), adjust_exposure=1.0)[0, 0] == pytest.approx(2 * base)
    assert T.inverse_tone_map(grey(0.1), adjust_exposure=0.0)[0, 0] == pytest.approx(base / 2)


def test_inverse_tone_map_keeps_greys_grey():
    out = T.inverse_tone_map(grey(0.7), boost_saturation=1.0)
    assert np.allclose(out, out[0, 0])


def test_eetf_bt2390_shape():
    nits = np.array([1.0, 10.0, 30.0, 200.0, 600.0, 1000.0], dtype=np.float32)
    out = T.eetf_bt2390(nits, source_peak_nits=1000.0, target_peak_nits=100.0)
    assert np.allclose(out[:2], nits[:2], rtol=1e-3)  # below the knee: unchanged
    assert out[-1] == pytest.approx(100.0, rel=1e-3)  # source peak → target peak
    assert np.all(np.diff(out) > 0)


@pytest.mark.parametrize(
    ("nits", "lo", "hi"),
    [
        (0.18 * 203.0, 0.179, 0.181),  # mid grey keeps its SDR level
        (203.0, 0.7, 0.95),  # reference white just under SDR peak (≈ 90 % signal)
        (1000.0, 0.999, 1.0),  # the HDR peak lands on SDR peak
        (5000.0, 0.999, 1.0),  # above the peak: clipped, not wrapped
    ],
)
def test_tone_map_sdr_levels(nits, lo, hi):
    out = float(T.tone_map_sdr(grey(nits))[0, 0])
    assert lo <= out <= hi


def test_tone_map_sdr_is_monotonic_and_in_range():
    nits = np.geomspace(0.01, 4000, 300, dtype=np.float32)
    out = T.tone_map_sdr(np.stack([nits] * 3, axis=-1))[:, 0]
    assert np.all(np.diff(out) >= -1e-6)  # float32 noise once the curve is flat at 1.0
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_sdr_hdr_sdr_round_trip_keeps_mid_tones():
    sdr = np.linspace(0.0, 0.3, 50, dtype=np.float32)
    rgb = np.stack([sdr, sdr * 0.8, sdr * 0.6], axis=-1)
    back = T.tone_map_sdr(T.inverse_tone_map(rgb))
    assert np.allclose(back, rgb, atol=2e-3)
