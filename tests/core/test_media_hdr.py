"""HDR inspector core: light in cd/m² from code values, false colour, gamut, MaxCLL/MaxFALL.

Every expected value comes from colour-science (tests/core/media_clips.py) or from the
standards' arithmetic written out in a comment, never from studio.media.hdr itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from studio.errors import MediaError
from studio.media import hdr, probe
from tests.model_ids import HYPERION

from .media_clips import (
    HLG,
    PQ,
    code_nits,
    grey_patch_planes,
    hlg_code,
    independent_light_levels,
    pq_code,
    write_code_clip,
)

PQ_TARGETS = [0.1, 100.0, 203.0, 1000.0, 4000.0]
HLG_TARGETS = [0.1, 100.0, 203.0, 1000.0]  # HLG at Lw = 1000 cd/m² peaks at 1000
PATCH = 32


def _expected_band(nits: float) -> int:
    # The bands as the issue states them: below 0.1; SDR up to 100; 100–203; 203–1000;
    # 1000–4000; above 4000 (upper bounds inclusive).
    for band, top in enumerate([0.1, 100.0, 203.0, 1000.0, 4000.0]):
        if (nits < top) if band == 0 else (nits <= top):
            return band
    return 5


def _clip(tmp_path: Path, trc: str, bits: int, codec: str, targets: list[float]) -> tuple:
    fn = pq_code if trc == PQ else hlg_code
    codes = [fn(t, bits) for t in targets]
    sub = 2 if codec == "libx265" else 1
    path = write_code_clip(
        tmp_path / f"patches-{trc}-{bits}.mkv",
        grey_patch_planes(codes, bits=bits, patch=PATCH, chroma_sub=sub, frames=3),
        trc=trc, bits=bits, codec=codec,
    )  # fmt: skip
    return path, codes


@pytest.mark.parametrize(
    ("trc", "bits", "codec", "targets"),
    [
        (PQ, 10, "libx265", PQ_TARGETS),
        (PQ, 16, "ffv1", PQ_TARGETS),
        (HLG, 10, "libx265", HLG_TARGETS),
        (HLG, 16, "ffv1", HLG_TARGETS),
    ],
    ids=["pq-10bit-hevc", "pq-16bit-ffv1", "hlg-10bit-hevc", "hlg-16bit-ffv1"],
)
def test_patches_read_back_in_nits_with_right_bands(tmp_path, trc, bits, codec, targets):
    path, codes = _clip(tmp_path, trc, bits, codec, targets)
    clip = probe(path)
    assert clip.color_transfer == trc
    frame, index = hdr.read_frame_at(path, 0.0)
    scopes = hdr.frame_scopes(frame, clip)
    for i, (target, code) in enumerate(zip(targets, codes, strict=True)):
        got = scopes.nits_at(i * PATCH + PATCH // 2, PATCH // 2)
        exact = code_nits(code, bits, trc)  # what this code value shows, by colour-science
        assert got == pytest.approx(exact, rel=1e-3), (target, code)
        # Within 1 % of the intended light. A 10-bit code cannot hold 0.1 cd/m² that finely
        # (PQ code 119 shows 0.1017, HLG code 97 shows 0.1023): there the quantised value is
        # the truth, and it is within one code step.
        if bits == 16 or target >= 1.0:
            assert got == pytest.approx(target, rel=0.01), (target, code)
        band = int(hdr.false_colour_bands(np.array([got]))[0])
        # A patch on a band edge (all five targets are edges) may fall either side within
        # the measurement's 0.1 %; elsewhere the band must be exact.
        near_edge = any(abs(exact - e) <= 1e-3 * e for e in (0.1, 100, 203, 1000, 4000))
        allowed = {_expected_band(exact * (1 - 1e-3)), _expected_band(exact * (1 + 1e-3))} \
            if near_edge else {_expected_band(exact)}
        assert band in allowed, (target, exact)
        # The false-colour picture paints the patch in its band's colour (grey in SDR).
        colour = scopes.false_colour[PATCH // 2 // 2 if codec == "libx265" else PATCH // 2,
                                     (i * PATCH + PATCH // 2) // (2 if codec == "libx265" else 1)]
        spec = hdr.FALSE_COLOUR_BANDS[band].colour
        if spec is None:
            assert colour[0] == colour[1] == colour[2]
        else:
            assert tuple(int(v) for v in colour) == tuple(int(spec[k:k + 2], 16) for k in (1, 3, 5))


@pytest.mark.parametrize(
    ("trc", "targets"),
    [(PQ, [0.05, 50.0, 150.0, 500.0, 2000.0, 6000.0]), (HLG, [0.05, 50.0, 150.0, 500.0])],
)
def test_false_colour_bands_inside_each_band(tmp_path, trc, targets):
    path, codes = _clip(tmp_path, trc, 10, "libx265", targets)
    frame, _ = hdr.read_frame_at(path, 0.0)
    scopes = hdr.frame_scopes(frame, probe(path))
    bands = [int(hdr.false_colour_bands(np.array([scopes.nits_at(i * PATCH + 16, 16)]))[0])
             for i in range(len(targets))]
    assert bands == list(range(len(targets)))  # one patch per band, in order
    shares = scopes.band_fractions
    assert shares[: len(targets)] == pytest.approx([1 / len(targets)] * len(targets), abs=0.01)


@pytest.mark.parametrize(("trc", "targets"), [(PQ, PQ_TARGETS), (HLG, HLG_TARGETS)])
def test_maxcll_maxfall_of_a_patch_clip_match_an_independent_computation(tmp_path, trc,
                                                                          targets):
    path, codes = _clip(tmp_path, trc, 10, "libx265", targets)
    result = hdr.analyse_clip(path, tmp_path / "cache")
    peaks, means = independent_light_levels(path, trc)
    top = targets[-1]
    assert result.max_cll == pytest.approx(top, rel=0.01)  # 4000 ± 1 % (PQ), 1000 (HLG)
    assert result.max_cll == pytest.approx(max(peaks), rel=1e-3)
    assert result.max_fall == pytest.approx(max(means), rel=1e-3)
    # Grey patches of equal size: FALL is the mean of the patches' light (arithmetic).
    assert result.max_fall == pytest.approx(
        np.mean([code_nits(c, 10, trc) for c in codes]), rel=1e-3)
    assert result.frame_count == 3 and len(result.peak_nits) == 3


def test_clip_analysis_is_cached_and_reused(tmp_path, monkeypatch):
    path, _codes = _clip(tmp_path, PQ, 10, "libx265", PQ_TARGETS)
    seen = []
    first = hdr.analyse_clip(path, tmp_path / "cache", progress=seen.append)
    assert seen[-1] == 1.0
    files = list((tmp_path / "cache").glob("light-*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["max_cll"] == first.max_cll

    def boom(*_a, **_k):  # a second run must not decode anything
        raise AssertionError("decoded again")

    monkeypatch.setattr(hdr, "frame_light_level", boom)
    again = hdr.analyse_clip(path, tmp_path / "cache")
    assert again.max_cll == first.max_cll
    assert hdr.load_clip_analysis(path, tmp_path / "cache").max_fall == first.max_fall


def test_background_analysis_reports_progress_and_result(tmp_path):
    path, _ = _clip(tmp_path, HLG, 10, "libx265", HLG_TARGETS)
    task = hdr.analyse_in_background(path, tmp_path / "cache")
    assert task.done.wait(60), "the background analysis did not finish in 60 s"
    assert task.error is None and task.progress == 1.0
    assert task.result.max_cll == pytest.approx(1000.0, rel=0.01)


def test_sdr_clip_has_no_light_levels(realshort, tmp_path):
    with pytest.raises(MediaError, match="not tagged PQ or HLG"):
        hdr.analyse_clip(realshort, tmp_path)


def test_hlg_nominal_peak_changes_the_ootf(tmp_path):
    # BT.2100: a full-scale HLG signal shows Lw; at Lw = 2000 the system gamma is
    # 1.2 + 0.42·log10(2) ≈ 1.326, and code 940 (E' = 1) shows 2000 cd/m².
    path, _ = _clip(tmp_path, HLG, 10, "libx265", HLG_TARGETS)
    frame, _ = hdr.read_frame_at(path, 0.0)
    scopes = hdr.frame_scopes(frame, probe(path), hlg_peak_nits=2000.0)
    assert scopes.nits_at(3 * PATCH + 16, 16) == pytest.approx(2000.0, rel=1e-3)
    assert "1.326" in scopes.light_model


def test_out_of_gamut_flags_for_bt2020_primaries(tmp_path):
    # Three patches, as linear BT.2020 RGB: a BT.2020 green primary (outside P3 and BT.709),
    # a P3 green 10 % inside P3's edge, P3 (0.1, 1, 0.1), which BT.709 cannot hold (its red
    # comes out near −0.10), and a neutral grey (inside both).
    import colour

    bt2020 = colour.RGB_COLOURSPACES["ITU-R BT.2020"]
    p3 = colour.RGB_COLOURSPACES["P3-D65"]
    p3_green_in_2020 = colour.RGB_to_RGB([0.1, 1.0, 0.1], p3, bt2020)
    linear = np.array([[0.0, 1.0, 0.0], p3_green_in_2020, [0.5, 0.5, 0.5]]) * 0.1  # 1000 cd/m²
    signal = colour.models.eotf_inverse_ST2084(linear * 10000.0)
    ycbcr = colour.RGB_to_YCbCr(signal, K=colour.WEIGHTS_YCBCR["ITU-R BT.2020"], out_bits=10,
                                out_legal=True, out_int=True)
    y = np.concatenate([np.full((32, 32), v[0], np.uint16) for v in ycbcr], axis=1)
    cb = np.concatenate([np.full((16, 16), v[1], np.uint16) for v in ycbcr], axis=1)
    cr = np.concatenate([np.full((16, 16), v[2], np.uint16) for v in ycbcr], axis=1)
    path = write_code_clip(tmp_path / "gamut.mkv", [(y, cb, cr)], trc=PQ)
    frame, _ = hdr.read_frame_at(path, 0.0)
    scopes = hdr.frame_scopes(frame, probe(path))
    assert scopes.outside_bt709 == pytest.approx(2 / 3, abs=0.02)
    assert scopes.outside_p3 == pytest.approx(1 / 3, abs=0.02)
    over = scopes.gamut_overlay
    assert tuple(over[8, 8]) == (240, 0, 200)  # green primary: outside P3 (magenta)
    assert tuple(over[8, 24]) == (0, 220, 220)  # P3 green: outside BT.709 only (cyan)
    assert tuple(over[8, 40]) not in ((240, 0, 200), (0, 220, 220))


def test_histogram_and_waveform_count_every_pixel(tmp_path):
    path, codes = _clip(tmp_path, PQ, 10, "libx265", PQ_TARGETS)
    frame, _ = hdr.read_frame_at(path, 0.0)
    s = hdr.frame_scopes(frame, probe(path), columns=10)
    counts, edges, below, above = s.histogram
    assert counts.sum() + below + above == s.nits.size
    assert edges[0] == pytest.approx(0.1) and edges[-1] == pytest.approx(10000.0)
    # The 4000 cd/m² patch (fifth of five) lands in the waveform's right-most columns, in the
    # row for log10(4014.7) on a 0.1–10,000 log axis of 200 rows.
    row = int((np.log10(code_nits(codes[4], 10, PQ)) + 1) / 5 * 200)
    assert s.waveform[row, 8:].sum() == s.waveform[:, 8:].sum()
    assert s.waveform.sum() == s.nits.size


def test_metadata_readout_reads_hdr10_side_data(tmp_path):
    import av

    path = tmp_path / "hdr10.mp4"
    params = ("log-level=error:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:"
              "hdr10=1:master-display=G(13250,34500)B(7500,3000)R(34000,16000)"
              "WP(15635,16450)L(10000000,50):max-cll=1000,400")
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx265", rate=24, options={"x265-params": params})
        s.width, s.height, s.pix_fmt = 64, 64, "yuv420p10le"
        s.codec_context.color_primaries, s.codec_context.color_trc = 9, 16
        s.codec_context.colorspace, s.codec_context.color_range = 9, 1
        for i in range(3):
            f = av.VideoFrame(64, 64, "yuv420p10le")
            f.pts = i
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    meta = hdr.read_hdr_metadata(path)
    rows = dict(meta.rows())
    assert (meta.codec, meta.bit_depth, meta.chroma_subsampling) == ("hevc", 10, "4:2:0")
    assert meta.color_transfer == "smpte2084" and meta.color_primaries == "bt2020"
    assert meta.color_range == "tv"
    # x265's units: chromaticities in 0.00002, luminance in 0.0001 cd/m² (SMPTE ST 2086 SEI).
    md = meta.mastering_display
    assert md["primaries"][1] == pytest.approx((13250 * 2e-5, 34500 * 2e-5), abs=1e-4)  # G
    assert md["white_point"] == pytest.approx((15635 * 2e-5, 16450 * 2e-5), abs=1e-4)
    assert md["max_nits"] == pytest.approx(1000.0) and md["min_nits"] == pytest.approx(0.005)
    assert meta.content_light == {"max_cll": 1000, "max_fall": 400}
    assert "MaxCLL 1000 cd/m², MaxFALL 400 cd/m²" in rows["content light level (CTA-861.3)"]


def test_metadata_readout_says_when_side_data_is_absent(tmp_path):
    path, _ = _clip(tmp_path, PQ, 10, "libx265", PQ_TARGETS)
    rows = dict(hdr.read_hdr_metadata(path).rows())
    assert rows["mastering display (ST 2086)"] == "not in the file"
    assert rows["transfer"] == "PQ (SMPTE ST 2084)"


@pytest.fixture(scope="session")
def hyperion_hlg_cockatoo(tmp_path_factory, cockatoo):
    """The sandbox's Hyperion HLG result of cockatoo.mp4 (HEVC Main 10, 1280×720, 280 frames)."""
    from sandbox import processing
    from sandbox.models import with_defaults

    params = with_defaults(HYPERION, {"transfer_function": "hlg"})
    out = processing.process(HYPERION, params, cockatoo,
                             tmp_path_factory.mktemp("hyperion"), preset="ultrafast")
    return out.files["video"]


@pytest.mark.slow
def test_hyperion_hlg_cockatoo_maxcll_maxfall_agree_with_colour_science(
        hyperion_hlg_cockatoo, tmp_path):
    clip = probe(hyperion_hlg_cockatoo)
    assert (clip.color_transfer, clip.frame_count) == (HLG, 280)
    result = hdr.analyse_clip(hyperion_hlg_cockatoo, tmp_path / "cache")
    peaks, means = independent_light_levels(hyperion_hlg_cockatoo, HLG)
    assert result.frame_count == len(peaks) == 280
    assert result.max_cll == pytest.approx(max(peaks), rel=0.01)
    assert result.max_fall == pytest.approx(max(means), rel=0.01)
    # the per-frame chart's series, frame by frame
    assert np.allclose(result.peak_nits, peaks, rtol=0.01)
    assert np.allclose(result.average_nits, means, rtol=0.01)
    assert result.times_s[0] == 0.0 and result.times_s[-1] == pytest.approx(279 / 20)
    from studio.media import figures

    fig = figures.light_level_figure(result)
    assert [t.name for t in fig.data] == ["frame peak", "frame average (FALL)"]
    assert len(fig.data[0].y) == 280


@pytest.mark.parametrize("fps, shown", [(20.0, "20 frames/s"), (30000 / 1001, "29.97 frames/s"),
                                        (24000 / 1001, "23.976 frames/s")])
def test_the_readout_writes_a_frame_rate_as_people_do(fps, shown):
    """Issue 10 item 20: the cockatoo's 20 frames/s reads "20 frames/s", not "20.000"."""
    meta = hdr.HdrMetadata(codec="h264", bit_depth=8, chroma_subsampling="4:4:4",
                           color_range=None, color_primaries=None, color_transfer=None,
                           color_space=None, width=1280, height=720, fps=fps, duration_s=14.0,
                           rotation=0)
    assert dict(meta.rows())["picture"] == f"1280×720, {shown}, 14.00 s"
