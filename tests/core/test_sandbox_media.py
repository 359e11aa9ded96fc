"""What the sandbox's outputs carry besides pixels (issue 10, items 23 and 24).

* Hyperion ProRes: every frame header says BT.2020 / the transfer function / BT.2020 NCL,
  read straight from the bitstream (SMPTE RDD 36 frame header: after the 4-byte frame size
  and the ``icpf`` identifier, bytes 14–16 of the header are color_primaries,
  transfer_characteristic and matrix_coefficients, coded as ITU-T H.273: 9 = BT.2020,
  16 = SMPTE ST 2084 (PQ), 18 = ARIB STD-B67 (HLG)).
* Hyperion HEVC PQ: HDR10 static metadata on the decoded frames, as ffprobe ``-show_frames``
  reports it (FFmpeg's AVMasteringDisplayMetadata and AVContentLightMetadata side data).
* Audio: kept where the model keeps it, dropped for LTX 2.3 with ``generate_audio: false``,
  made when asked for and the source has none.
"""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from sandbox import audio, models, processing
from sandbox.models import HYPERION, LTX_OXEN, RHEA, STARLIGHT
from studio import media

PRESET = "ultrafast"


def run(model_id: str, source: Path, out_dir: Path, **params: object) -> processing.Output:
    full = models.with_defaults(model_id, {"input_video": "x", "prompt": "p", **params})
    return processing.process(model_id, full, source, out_dir, preset=PRESET)


@pytest.fixture(scope="module")
def silent_realshort(realshort: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """realshort.mp4's picture without its audio (a stream copy)."""
    dest = tmp_path_factory.mktemp("silent") / "silent.mp4"
    with av.open(str(realshort)) as src, av.open(str(dest), "w") as out:
        v_in = src.streams.video[0]
        v_out = out.add_stream_from_template(v_in)
        for packet in src.demux(v_in):
            if packet.dts is None:
                continue
            packet.stream = v_out
            out.mux(packet)
    assert not media.probe(dest).has_audio
    return dest


# -- item 23: colour signalling in every ProRes frame --------------------------------------


def prores_frame_tags(path: Path) -> list[tuple[int, int, int]]:
    tags = []
    with av.open(str(path)) as c:
        for packet in c.demux(c.streams.video[0]):
            data = bytes(packet)
            if not data:
                continue
            assert data[4:8] == b"icpf"  # RDD 36 frame identifier
            header = data[8:]
            tags.append((header[14], header[15], header[16]))
    return tags


@pytest.mark.parametrize(("transfer_function", "trc"), [("pq", 16), ("hlg", 18)])
def test_every_prores_frame_header_carries_the_transfer(realshort, tmp_path, transfer_function,
                                                        trc):
    output = run(HYPERION, realshort, tmp_path, transfer_function=transfer_function,
                 output_encoder="ProRes")
    tags = prores_frame_tags(output.files["video"])
    assert len(tags) == 36
    assert set(tags) == {(9, trc, 9)}  # BT.2020 primaries, PQ/HLG, BT.2020 NCL — every frame


# -- item 23: HDR10 static metadata on PQ HEVC ----------------------------------------------

# ITU-R BT.2020 table 3 chromaticities and D65; SMPTE ST 2086 carries them to 0.00002.
BT2020 = {"R": (0.708, 0.292), "G": (0.170, 0.797), "B": (0.131, 0.046), "W": (0.3127, 0.3290)}


def _rationals(raw: bytes) -> list[Fraction]:
    ints = struct.unpack("<20i", raw[:80])
    return [Fraction(ints[i], ints[i + 1]) for i in range(0, 20, 2)]


def pq_eotf(code: np.ndarray) -> np.ndarray:
    """SMPTE ST 2084 EOTF: normalised PQ signal (0–1) → cd/m² (constants from the standard)."""
    m1, m2 = 2610 / 16384, 2523 / 4096 * 128
    c1, c2, c3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
    p = np.power(np.clip(code, 0, 1), 1 / m2)
    return 10000 * np.power(np.maximum(p - c1, 0) / (c2 - c3 * p), 1 / m1)


@pytest.fixture(scope="module")
def pq_hevc(realshort: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = run(HYPERION, realshort, tmp_path_factory.mktemp("pq"), transfer_function="pq")
    return out.files["video"]


def test_pq_hevc_frames_carry_mastering_display_and_light_levels(pq_hevc):
    with av.open(str(pq_hevc)) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.codec_tag == "hvc1"
        frame = next(c.decode(stream))
        side = {sd.type.name: bytes(sd) for sd in frame.side_data}
    assert {"MASTERING_DISPLAY_METADATA", "CONTENT_LIGHT_LEVEL"} <= set(side)
    # AVMasteringDisplayMetadata: display_primaries[3][2] (R, G, B), white_point[2],
    # min_luminance, max_luminance as AVRationals, then has_primaries, has_luminance.
    values = _rationals(side["MASTERING_DISPLAY_METADATA"])
    has_primaries, has_luminance = struct.unpack("<2i", side["MASTERING_DISPLAY_METADATA"][80:88])
    assert has_primaries == 1 and has_luminance == 1
    r, g, b, w = values[0:2], values[2:4], values[4:6], values[6:8]
    for got, want in ((r, BT2020["R"]), (g, BT2020["G"]), (b, BT2020["B"]), (w, BT2020["W"])):
        assert [float(v) for v in got] == pytest.approx(want, abs=0.00002)
    assert float(values[8]) == pytest.approx(0.0001)  # min cd/m²
    assert float(values[9]) == pytest.approx(1000.0)  # max cd/m²: the lift's peak
    max_cll, max_fall = struct.unpack("<2I", side["CONTENT_LIGHT_LEVEL"][:8])
    assert 0 < max_fall < max_cll <= 1000


def light_levels(path: Path) -> tuple[int, int]:
    with av.open(str(path)) as c:
        side = {sd.type.name: bytes(sd) for sd in next(c.decode(video=0)).side_data}
    return struct.unpack("<2I", side["CONTENT_LIGHT_LEVEL"][:8])


def decoded_nits(frame: av.VideoFrame) -> np.ndarray:
    """max(R, G, B) in cd/m² of a decoded yuv420p10le PQ frame, by the book: BT.2020 NCL
    narrow-range Y'CbCr (ITU-R BT.2020 table 4, BT.2100 table 9) → R'G'B' → ST 2084 EOTF."""
    h, w = frame.height, frame.width

    def plane(i: int, ph: int, pw: int) -> np.ndarray:
        raw = np.frombuffer(memoryview(frame.planes[i]), np.uint16).reshape(ph, -1)[:, :pw]
        return raw.astype(np.float64)

    y = (plane(0, h, w) - 64) / 876
    cb = (plane(1, h // 2, w // 2).repeat(2, 0).repeat(2, 1) - 512) / 896
    cr = (plane(2, h // 2, w // 2).repeat(2, 0).repeat(2, 1) - 512) / 896
    r, b = y + 1.4746 * cr, y + 1.8814 * cb
    g = (y - 0.2627 * r - 0.0593 * b) / 0.6780
    return pq_eotf(np.stack([r, g, b])).max(axis=0)


def test_pq_max_fall_matches_the_decoded_pictures(pq_hevc):
    """MaxFALL (CTA-861.3: the brightest frame average of max(R,G,B)) measured independently
    on the decoded output agrees within 3 %. (Single decoded pixels overshoot at saturated
    edges through 4:2:0 chroma, so MaxCLL is checked on a picture with a known answer below.)"""
    max_cll, max_fall = light_levels(pq_hevc)
    with av.open(str(pq_hevc)) as c:
        fall = max(float(decoded_nits(f).mean()) for f in c.decode(video=0))
    assert max_fall == pytest.approx(fall, rel=0.03)
    assert max_fall < max_cll <= 1000


def test_pq_light_levels_of_a_half_white_picture(tmp_path):
    """Frames half SDR peak white, half black: the lift puts SDR peak white at its 1000 cd/m²
    peak (studio.transfer.inverse_tone_map: "reaches peak_nits (1000) at SDR peak white"), so
    MaxCLL = 1000 and MaxFALL = 500 cd/m², whatever the frame count."""
    source = tmp_path / "half_white.mp4"
    with av.open(str(source), "w") as out:
        stream = out.add_stream("libx264", rate=24, options={"qp": "0", "preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        rgb = np.zeros((64, 64, 3), np.uint8)
        rgb[:, :32] = 255
        for i in range(6):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    output = run(HYPERION, source, tmp_path / "out", transfer_function="pq")
    max_cll, max_fall = light_levels(output.files["video"])
    assert max_cll == 1000
    assert max_fall == pytest.approx(500, abs=5)


def test_hlg_hevc_has_no_hdr10_metadata(realshort, tmp_path):
    output = run(HYPERION, realshort, tmp_path, transfer_function="hlg")
    with av.open(str(output.files["video"])) as c:
        names = {sd.type.name for sd in next(c.decode(video=0)).side_data}
    assert "MASTERING_DISPLAY_METADATA" not in names  # HDR10 metadata is for PQ


# -- item 24: audio ---------------------------------------------------------------------------


def audio_stream(path: Path) -> tuple[str, float] | None:
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return None
        s = c.streams.audio[0]
        last = max((p.pts + (p.duration or 0)) * p.time_base
                   for p in c.demux(s) if p.pts is not None)
        return s.codec_context.name, float(last)


@pytest.mark.parametrize(("model_id", "params"), [
    (STARLIGHT, {"resolution": "1080p"}),
    (RHEA, {"resolution": "720p", "target_fps": 60, "interpolate_frames": True}),
    (HYPERION, {"transfer_function": "pq"}),
    (HYPERION, {"transfer_function": "hlg", "output_encoder": "ProRes"}),
])
def test_topaz_outputs_keep_the_source_audio(realshort, tmp_path, model_id, params):
    output = run(model_id, realshort, tmp_path, **params)
    video = output.files["video"]
    kept = audio_stream(video)
    assert output.has_audio and kept is not None
    codec, seconds = kept
    assert codec == "aac"  # realshort's own AAC, copied
    assert seconds == pytest.approx(media.probe(video).duration_s, abs=0.1)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


@pytest.mark.parametrize(("generate_audio", "expected"), [(None, True), (True, True),
                                                          (False, False)])
def test_ltx_generate_audio_is_honoured(realshort, tmp_path, generate_audio, expected):
    params = {"num_frames": 17}
    if generate_audio is not None:
        params["generate_audio"] = generate_audio
    output = run(LTX_OXEN, realshort, tmp_path, **params)
    assert output.has_audio is expected
    assert media.probe(output.files["video"]).has_audio is expected
    if expected:  # 17 frames at 24 fps: the track is cut to the picture's 0.708 s
        assert audio_stream(output.files["video"])[1] == pytest.approx(17 / 24, abs=0.05)


def test_ltx_generates_a_track_for_a_silent_source(silent_realshort, tmp_path):
    output = run(LTX_OXEN, silent_realshort, tmp_path, num_frames=17)
    codec, seconds = audio_stream(output.files["video"])
    assert codec == "aac" and seconds == pytest.approx(17 / 24, abs=0.05)
    upscaled = run(STARLIGHT, silent_realshort, tmp_path / "up", resolution="1080p")
    assert audio_stream(upscaled.files["video"]) is None  # nothing to keep


def test_mp3_audio_is_copied_and_cut_at_the_picture(cockatoo, realshort, tmp_path,
                                                    silent_realshort):
    """cockatoo.mp4's MP3 track under a 1.2 s picture: copied as MP3, cut at 1.2 s."""
    picture = tmp_path / ".out.video.mp4"
    picture.write_bytes(silent_realshort.read_bytes())
    dest = tmp_path / "out.mp4"
    assert audio.finish(picture, dest, source=cockatoo, duration_s=1.2, audio="keep")
    codec, seconds = audio_stream(dest)
    assert codec in ("mp3", "mp3float") and seconds == pytest.approx(1.2, abs=0.1)
    assert not picture.exists()
