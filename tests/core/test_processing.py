"""Sandbox processing on real clips: every model's output probed against the spec figures.

The figures come from docs/internal-contracts.md and shared/api/model_params.md; the expected
geometry is always :func:`sandbox.models.output_geometry`, the rule processing must follow
(the tests also state the hand-worked figures).
Encodes use the ``ultrafast`` preset to keep the suite quick on a shared 2-core machine.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from sandbox import models, processing
from sandbox.models import HYPERION, LTX_DIRECT, LTX_OXEN, RHEA, STARLIGHT
from studio import media
from studio.errors import MediaError

PRESET = "ultrafast"


def run(model_id, source, out_dir, **params):
    full = models.with_defaults(model_id, {"input_video": "x", "prompt": "p", **params})
    progress: list[float] = []
    output = processing.process(
        model_id, full, Path(source), Path(out_dir), preset=PRESET, progress=progress.append
    )
    assert progress == sorted(progress) and progress[-1] == 1.0
    return output, full


def expected_geometry(model_id, source, params):
    clip = media.probe(source)
    return models.output_geometry(
        model_id,
        width=clip.width,
        height=clip.height,
        fps=clip.fps,
        frame_count=clip.frame_count,
        params=params,
    )


def assert_matches(output, clip, geometry):
    """Output, its probe and the geometry rule agree (duration within one frame)."""
    assert (output.width, output.height) == (geometry.width, geometry.height)
    assert (clip.width, clip.height) == (geometry.width, geometry.height)
    assert clip.fps == pytest.approx(geometry.fps, rel=1e-4)
    assert clip.frame_count == output.frame_count == geometry.frame_count
    assert clip.duration_s == pytest.approx(geometry.duration_s, abs=1.0 / geometry.fps)


# ---------------------------------------------------------------- Starlight / Rhea


@pytest.mark.slow
def test_starlight_defaults_on_cockatoo_is_4k_30fps_14s(cockatoo, tmp_path):
    output, params = run(STARLIGHT, cockatoo, tmp_path)
    clip = media.probe(output.files["video"])
    assert (clip.width, clip.height, clip.fps) == (3840, 2160, 30.0)
    assert clip.frame_count == 420
    assert clip.duration_s == pytest.approx(14.0, abs=1 / 30)
    assert media.browser_playable(clip)
    assert_matches(output, clip, expected_geometry(STARLIGHT, cockatoo, params))


def test_starlight_1080p_on_realshort(realshort, tmp_path):
    output, params = run(STARLIGHT, realshort, tmp_path, resolution="1080p")
    assert set(output.files) == {"video"} and output.files["video"].name == "output.mp4"
    clip = media.probe(output.files["video"])
    assert (clip.width, clip.height, clip.fps) == (1440, 1080, 30.0)
    assert (clip.codec, clip.pix_fmt) == ("h264", "yuv420p")
    assert clip.duration_s == pytest.approx(media.probe(realshort).duration_s, abs=1 / 30)
    assert_matches(output, clip, expected_geometry(STARLIGHT, realshort, params))


@pytest.mark.parametrize("interpolate", [False, True])
def test_rhea_retimes_to_ntsc_rate(realshort, tmp_path, interpolate):
    output, params = run(
        RHEA, realshort, tmp_path, resolution="720p", target_fps=59.94,
        interpolate_frames=interpolate, details=0.5, noise=-0.3, grain=0.08,
        grain_type="silver_rich",
    )  # fmt: skip
    clip = media.probe(output.files["video"])
    assert (clip.width, clip.height) == (960, 720)
    assert clip.fps == pytest.approx(60000 / 1001)
    assert_matches(output, clip, expected_geometry(RHEA, realshort, params))


def middle_frame(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="gray") for f in c.decode(video=0)]
    return frames[len(frames) // 2].astype(np.float32)


def test_interpolation_blends_instead_of_repeating(realshort, tmp_path):
    """At about twice the source rate, every output frame either repeats a source frame or
    (with interpolate_frames) sits between two: a repeat equals one of its output
    neighbours, a blend differs from both."""
    outs = {}
    for interpolate in (False, True):
        output, _ = run(
            STARLIGHT, realshort, tmp_path / str(interpolate), resolution="1080p",
            target_fps=60, interpolate_frames=interpolate,
        )  # fmt: skip
        with av.open(str(output.files["video"])) as c:
            outs[interpolate] = [
                f.to_ndarray(format="gray")[::8, ::8].astype(int) for f in c.decode(video=0)
            ]

    def closest_neighbour_difference(frames, n):
        return min(
            np.abs(frames[n] - frames[n - 1]).mean(), np.abs(frames[n] - frames[n + 1]).mean()
        )

    assert len(outs[True]) == len(outs[False]) == 72
    repeats = [closest_neighbour_difference(outs[False], n) for n in range(1, 71)]
    blends = [closest_neighbour_difference(outs[True], n) for n in range(1, 71)]
    assert np.median(repeats) < 1.0 < np.median(blends)


# ---------------------------------------------------------------- Hyperion


@pytest.fixture(scope="module")
def hyperion_pq(realshort, tmp_path_factory):
    return run(HYPERION, realshort, tmp_path_factory.mktemp("pq"), transfer_function="pq")


def test_hyperion_pq_is_hevc_10bit_tagged_smpte2084(hyperion_pq, realshort):
    output, params = hyperion_pq
    path = output.files["video"]
    assert path.name == "output.mp4"
    clip = media.probe(path)
    assert (clip.codec, clip.pix_fmt, clip.bit_depth) == ("hevc", "yuv420p10le", 10)
    assert clip.color_transfer == "smpte2084"
    assert (clip.color_primaries, clip.color_space) == ("bt2020", "bt2020nc")
    assert media.is_hdr(clip) and not media.browser_playable(clip)
    assert_matches(output, clip, expected_geometry(HYPERION, realshort, params))


def test_hyperion_pq_expands_highlights(hyperion_pq):
    output, _ = hyperion_pq
    with av.open(str(output.files["video"])) as c:
        frame = next(c.decode(video=0))
        assert frame.color_trc == 16 and frame.colorspace == 9  # the bitstream agrees
        luma = frame.to_ndarray()[: frame.height]  # 10-bit narrow-range Y' codes
    reference_white = 64 + 876 * 0.5807  # PQ(203 nits), ITU-R BT.2408
    assert luma.max() > reference_white + 40  # highlights above HDR reference white
    assert 64 <= luma.min() and luma.max() <= 940


@pytest.mark.parametrize(("profile", "name"), [("422 HQ", "HQ"), ("422 Proxy", "Proxy")])
def test_hyperion_hlg_prores_is_mov_tagged_arib_std_b67(realshort, tmp_path, profile, name):
    output, params = run(
        HYPERION, realshort, tmp_path, transfer_function="hlg", output_encoder="ProRes",
        output_profile=profile,
    )  # fmt: skip
    path = output.files["video"]
    assert path.name == "output.mov"
    clip = media.probe(path)
    assert (clip.codec, clip.pix_fmt) == ("prores", "yuv422p10le")
    assert clip.color_transfer == "arib-std-b67" and clip.color_primaries == "bt2020"
    with av.open(str(path)) as c:
        assert c.streams.video[0].codec_context.profile == name
    assert_matches(output, clip, expected_geometry(HYPERION, realshort, params))


@pytest.fixture(scope="module")
def hyperion_hlg_prores(realshort, tmp_path_factory):
    return run(
        HYPERION, realshort, tmp_path_factory.mktemp("hlg"), transfer_function="hlg",
        output_encoder="ProRes",
    )  # fmt: skip


@pytest.mark.parametrize("hdr", ["hyperion_pq", "hyperion_hlg_prores"])
def test_sdr_preview_of_hdr_file_is_browser_playable(hdr, request, realshort, tmp_path):
    output, _ = request.getfixturevalue(hdr)
    seen = []
    preview = media.make_sdr_preview(
        output.files["video"], tmp_path / "p.mp4", progress=seen.append
    )
    clip = media.probe(preview)
    assert (clip.codec, clip.pix_fmt, clip.color_transfer) == ("h264", "yuv420p", "bt709")
    assert media.browser_playable(clip)
    assert clip.frame_count == 36 and seen[-1] == 1.0
    # Tone mapping undoes the lift closely enough that the preview resembles the source.
    assert np.abs(middle_frame(preview) - middle_frame(realshort)).mean() < 12


def test_thumbnail_of_hdr_file_is_tone_mapped(hyperion_pq, realshort):
    output, _ = hyperion_pq
    hdr = np.asarray(Image.open(io.BytesIO(media.thumbnail(output.files["video"]))), dtype=float)
    sdr = np.asarray(Image.open(io.BytesIO(media.thumbnail(realshort))), dtype=float)
    assert hdr.shape == sdr.shape == (240, 320, 3)
    assert np.abs(hdr - sdr).mean() < 12  # PQ codes shown raw would be far darker and greyer


# ---------------------------------------------------------------- LTX


def exr_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


def test_ltx_direct_on_realshort_writes_36_half_float_exrs(realshort, tmp_path):
    output, params = run(LTX_DIRECT, realshort, tmp_path)
    assert set(output.files) == {"exr_frames"}
    archive = output.files["exr_frames"]
    assert archive.name == "frames_exr.zip"
    summary = media.exr_zip_summary(archive)
    assert (summary.frame_count, summary.width, summary.height) == (36, 320, 240)
    assert summary.dtype == "float16"
    assert summary.max_value > 1.0  # highlights above SDR white
    names = exr_names(archive)
    assert names[0] == "frame_000000.exr" and names[-1] == "frame_000035.exr"
    geometry = expected_geometry(LTX_DIRECT, realshort, params)
    assert (output.width, output.height, output.frame_count) == (320, 240, geometry.frame_count)
    assert not [p for p in tmp_path.iterdir() if p.name != "frames_exr.zip"]  # temp files gone


def test_ltx_oxen_33_frames_with_preset_crop(realshort, tmp_path):
    output, params = run(LTX_OXEN, realshort, tmp_path, num_frames=33, resolution="square")
    assert set(output.files) == {"video", "exr_frames"}
    summary = media.exr_zip_summary(output.files["exr_frames"])
    clip = media.probe(output.files["video"])
    assert summary.frame_count == 33 and summary.dtype == "float16" and summary.max_value > 1.0
    assert (summary.width, summary.height) == (512, 512)
    assert min(summary.width, summary.height) <= 704
    assert media.browser_playable(clip) and clip.fps == 24.0
    assert_matches(output, clip, expected_geometry(LTX_OXEN, realshort, params))


@pytest.mark.slow
def test_ltx_oxen_on_cockatoo_caps_short_side(cockatoo, tmp_path):
    output, params = run(LTX_OXEN, cockatoo, tmp_path, num_frames=33)
    summary = media.exr_zip_summary(output.files["exr_frames"])
    assert summary.frame_count == 33 and min(summary.width, summary.height) <= 704
    assert summary.width / summary.height == pytest.approx(1280 / 720, rel=0.01)
    clip = media.probe(output.files["video"])
    assert_matches(output, clip, expected_geometry(LTX_OXEN, cockatoo, params))


def test_ltx_exr_preview_round_trip(realshort, tmp_path):
    output, _ = run(LTX_DIRECT, realshort, tmp_path / "ltx")
    preview = media.make_exr_zip_preview(output.files["exr_frames"], tmp_path / "p.mp4", fps=24)
    clip = media.probe(preview)
    assert media.browser_playable(clip) and clip.frame_count == 36
    assert np.abs(middle_frame(preview) - middle_frame(realshort)).mean() < 20


# ---------------------------------------------------------------- control and errors


@pytest.mark.parametrize("model_id", [STARLIGHT, HYPERION, LTX_DIRECT, LTX_OXEN])
def test_cancel_stops_and_removes_partial_outputs(realshort, tmp_path, model_id):
    polls = []

    def should_cancel():
        polls.append(1)
        return len(polls) > 5

    params = models.with_defaults(model_id, {"input_video": "x", "prompt": "p"})
    if model_id == STARLIGHT:
        params["resolution"] = "1080p"
    with pytest.raises(processing.Cancelled):
        processing.process(
            model_id, params, realshort, tmp_path, preset=PRESET, should_cancel=should_cancel
        )
    assert list(tmp_path.iterdir()) == []


def test_unreadable_source_is_a_media_error(bad_media, tmp_path):
    params = models.with_defaults(STARLIGHT, {"input_video": "x"})
    for kind in ("text_named_mp4", "truncated", "empty"):
        with pytest.raises(MediaError):
            processing.process(STARLIGHT, params, bad_media[kind], tmp_path / kind)


def test_output_duration_property():
    out = processing.Output(files={}, width=2, height=2, fps=30.0, frame_count=420)
    assert out.duration_s == pytest.approx(14.0)
