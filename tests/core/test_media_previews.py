"""Fast SDR previews held to the reference chain, sound kept, rotation, truncation, URL limits."""

from __future__ import annotations

import http.server
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from studio import media, models
from studio.errors import MediaError
from studio.media import previews, transfer
from studio.media.codec import SdrConverter
from tests.model_ids import STARLIGHT

from .media_clips import HLG, PQ, colour, write_code_clip


def _hdr_test_frames(trc: str, width: int = 256, height: int = 144) -> list[tuple]:
    """Y'CbCr 10-bit 4:2:0 planes of demanding HDR content: a sweep of saturated BT.2020
    hues at several light levels (0.5–4000 cd/m²) and a grey ramp to 10,000 cd/m²."""
    rows = []
    hue = np.linspace(0, 1, width, endpoint=False)
    for level in (0.5, 5.0, 50.0, 203.0, 600.0, 1500.0, 4000.0):
        # HSV-like sweep in linear BT.2020, saturations 1.0 and 0.5
        for sat in (1.0, 0.5):
            r = np.clip(np.abs(hue * 6 - 3) - 1, 0, 1)
            g = np.clip(2 - np.abs(hue * 6 - 2), 0, 1)
            b = np.clip(2 - np.abs(hue * 6 - 4), 0, 1)
            rgb = np.stack([r, g, b], -1)
            rgb = (1 - sat) + sat * rgb
            rows.append(rgb / rgb.max(-1, keepdims=True) * level)
    rows.append(np.repeat(np.geomspace(0.01, 10000, width)[:, None], 3, axis=1))
    band = height // len(rows)
    nits = np.concatenate([np.repeat(r[None], band, axis=0) for r in rows], axis=0)
    nits = np.concatenate([nits, np.repeat(nits[-1:], height - nits.shape[0], 0)], 0)
    if trc == PQ:
        signal = transfer.pq_inverse_eotf(nits)
    else:
        signal = transfer.hlg_oetf(transfer.hlg_inverse_ootf(np.minimum(nits, 1000.0)))
    y, cb, cr = transfer.rgb_to_ycbcr_bt2020(signal, bits=10)
    h, w = y.shape
    cb, cr = (((c.reshape(h // 2, 2, w // 2, 2).sum(axis=(1, 3), dtype=np.uint32) + 2) >> 2)
              .astype(np.uint16) for c in (cb, cr))
    return [(y, cb, cr)] * 2


def _delta_e_2000(rgb8_a: np.ndarray, rgb8_b: np.ndarray) -> np.ndarray:
    """CIEDE2000 between two BT.709 R'G'B' (BT.1886-encoded) uint8 pictures, by colour-science."""
    space = colour.RGB_COLOURSPACES["ITU-R BT.709"]

    def lab(rgb8):
        linear = colour.models.eotf_BT1886(rgb8.astype(np.float64) / 255.0)
        xyz = colour.RGB_to_XYZ(linear, space, apply_cctf_decoding=False)
        return colour.XYZ_to_Lab(xyz, space.whitepoint)

    return colour.delta_E(lab(rgb8_a), lab(rgb8_b), method="CIE 2000")


def _rgb24(frame) -> np.ndarray:
    return frame.to_ndarray(format="rgb24", src_colorspace=av.video.reformatter.Colorspace.ITU709,
                            dst_colorspace=av.video.reformatter.Colorspace.ITU709)


@pytest.mark.parametrize("trc", [PQ, HLG])
def test_fast_lut_matches_the_reference_chain(tmp_path, trc):
    # The baked 3D LUT against today's per-pixel chain, on the same decoded R'G'B'.
    path = write_code_clip(tmp_path / f"sweep-{trc}.mkv", _hdr_test_frames(trc), trc=trc)
    clip = media.probe(path)
    reference = SdrConverter(clip, clip.width, clip.height)
    view = previews.SdrView(clip, clip.width, clip.height)
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    de = np.concatenate([_delta_e_2000(view.rgb8(f), reference.rgb8(f)).ravel() for f in frames])
    print(f"{trc}: LUT vs reference mean ΔE2000 {de.mean():.3f}, p99 {np.percentile(de, 99):.2f}")
    assert de.mean() <= 1.0, f"mean ΔE2000 {de.mean():.3f}"
    assert np.percentile(de, 99) <= 2.0, f"99th percentile ΔE2000 {np.percentile(de, 99):.3f}"


@pytest.mark.parametrize("trc", [PQ, HLG])
def test_fast_pipeline_output_matches_the_reference(tmp_path, trc):
    # The whole preview pipeline (LUT + its own 4:2:0 conversion) against the reference
    # frame converted to 4:2:0 its own way. On this sweep hue changes every pixel, the
    # worst case for the two chroma filters; the mean still stays within ΔE2000 1.
    path = write_code_clip(tmp_path / f"sweep-{trc}.mkv", _hdr_test_frames(trc), trc=trc)
    clip = media.probe(path)
    reference = SdrConverter(clip, clip.width, clip.height)
    fast, ref = [], []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        pipeline = previews.FramePipeline(clip, stream, clip.width, clip.height)
        for frame in container.decode(stream):
            ref.append(_rgb24(reference.frame(frame)))
            fast.extend(_rgb24(f) for f in pipeline.run(frame))
        fast.extend(_rgb24(f) for f in pipeline.run(None))
    assert len(fast) == len(ref) == 2
    de = np.concatenate([_delta_e_2000(a, b).ravel() for a, b in zip(fast, ref, strict=True)])
    assert de.mean() <= 1.0, f"mean ΔE2000 {de.mean():.3f}"


def _camera_hdr_clip(path: Path, cockatoo: Path, trc: str, frames: int = 8) -> Path:
    """Real camera frames (cockatoo.mp4) lifted to HDR with the project's inverse tone map:
    BT.1886 decode → 203 cd/m² diffuse white, highlights to 1000 → BT.2020 → PQ/HLG."""
    planes = []
    with av.open(str(cockatoo)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i >= frames:
                break
            rgb8 = f.to_ndarray(format="rgb24", width=640, height=360)
            nits = transfer.inverse_tone_map(media.linear_from_rgb24(rgb8))
            nits = np.maximum(transfer.apply_matrix(nits, transfer.BT709_TO_BT2020), 0)
            sig = transfer.pq_inverse_eotf(nits) if trc == PQ else transfer.hlg_oetf(
                transfer.hlg_inverse_ootf(nits))
            y, cb, cr = transfer.rgb_to_ycbcr_bt2020(sig, bits=10)
            cb, cr = (((c_.reshape(180, 2, 320, 2).sum(axis=(1, 3), dtype=np.uint32) + 2) >> 2)
                      .astype(np.uint16) for c_ in (cb, cr))
            planes.append((y, cb, cr))
    return write_code_clip(path, planes, trc=trc)


@pytest.mark.parametrize("trc", [PQ, HLG])
def test_preview_of_camera_hdr_matches_the_reference(tmp_path, cockatoo, trc):
    # Real camera content through the whole fast pipeline (LUT + 4:2:0), held to the
    # reference chain's frames converted to 4:2:0 the way today's previews did; then the
    # written file is a browser-playable SDR H.264 with every frame.
    path = _camera_hdr_clip(tmp_path / "cam.mkv", cockatoo, trc)
    src = media.probe(path)
    reference = SdrConverter(src, src.width, src.height)
    fast, ref = [], []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        pipeline = previews.FramePipeline(src, stream, src.width, src.height)
        for frame in container.decode(stream):
            ref.append(_rgb24(reference.frame(frame)))
            fast.extend(_rgb24(f) for f in pipeline.run(frame))
    de = np.concatenate([_delta_e_2000(x, y).ravel() for x, y in zip(fast, ref, strict=True)])
    print(f"{trc}: camera frames, fast vs reference mean ΔE2000 {de.mean():.3f}")
    assert de.mean() <= 1.0, f"mean ΔE2000 {de.mean():.3f}"
    out = media.make_sdr_preview(path, tmp_path / "p.mp4")
    clip = media.probe(out)
    assert media.browser_playable(clip) and clip.color_transfer == "bt709"
    assert (clip.width, clip.height, clip.frame_count) == (640, 360, 8)


def test_lut_file_is_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_LUT_DIR", str(tmp_path))
    first = previews.sdr_lut_file(PQ, size=9)
    stamp = first.stat().st_mtime_ns
    assert previews.sdr_lut_file(PQ, size=9) == first and first.stat().st_mtime_ns == stamp
    lines = first.read_text().splitlines()
    assert "LUT_3D_SIZE 9" in lines and len([ln for ln in lines if ln[:1].isdigit()]) == 9**3


# ---------------------------------------------------------------- sound


def test_preview_keeps_the_sound(realshort, tmp_path):
    out = media.make_sdr_preview(realshort, tmp_path / "p.mp4")
    with av.open(str(realshort)) as src, av.open(str(out)) as got:
        a_in, a_out = src.streams.audio[0], got.streams.audio[0]
        assert a_out.codec_context.name == a_in.codec_context.name == "aac"
        assert a_out.codec_context.sample_rate == a_in.codec_context.sample_rate
        dur_in = float(a_in.duration * a_in.time_base)
        dur_out = float(a_out.duration * a_out.time_base)
        assert dur_out == pytest.approx(dur_in, abs=0.05)
        pcm = np.concatenate([f.to_ndarray().ravel() for f in got.decode(audio=0)])
    assert np.abs(pcm).max() > 0.01  # real sound, not silence


def test_trim_keeps_sound_up_to_the_cut(realshort, tmp_path):
    out = media.trim_clip(realshort, tmp_path / "t.mp4", max_frames=12)
    with av.open(str(out)) as got:
        a = got.streams.audio[0]
        seconds = float(a.duration * a.time_base)
    assert seconds == pytest.approx(12 * 1499 / 45000, abs=0.05)  # 12 frames at 45000/1499


def test_preview_reencodes_pcm_sound_to_aac(tmp_path):
    path = tmp_path / "pcm.mov"
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=24)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv444p"
        a = out.add_stream("pcm_s16le", rate=48000)
        a.codec_context.layout = "stereo"
        for i in range(24):
            f = av.VideoFrame(64, 48, "yuv444p")
            f.pts = i
            for p in v.encode(f):
                out.mux(p)
        tone = (np.sin(np.arange(48000) / 48000 * 2 * np.pi * 440) * 8000).astype(np.int16)
        af = av.AudioFrame.from_ndarray(np.stack([tone, tone]).reshape(1, -1), format="s16",
                                        layout="stereo")
        af.sample_rate, af.pts = 48000, 0
        for p in a.encode(af):
            out.mux(p)
        for s in (v, a):
            for p in s.encode():
                out.mux(p)
    preview = media.make_sdr_preview(path, tmp_path / "p.mp4")
    with av.open(str(preview)) as got:
        audio = got.streams.audio[0]
        assert audio.codec_context.name == "aac"
        assert float(audio.duration * audio.time_base) == pytest.approx(1.0, abs=0.05)


# ---------------------------------------------------------------- rotation


def _rotated_clip(path: Path, ccw: int) -> np.ndarray:
    """A 64×48 clip whose left half is red and right half blue, with a display matrix that
    PyAV states as ``ccw`` degrees counter-clockwise. Returns the coded RGB picture."""
    img = np.zeros((48, 64, 3), np.uint8)
    img[:, :32] = (220, 20, 20)
    img[:, 32:] = (20, 20, 220)
    img[:8, :] = (20, 220, 20)  # a green top edge, to tell 90 from 270
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=24, options={"crf": "10"})
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.set_display_rotation(ccw)
        for i in range(3):
            f = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
            f.pts = i
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return img


@pytest.mark.parametrize("ccw", [90, 180, 270])
def test_rotation_is_honoured_in_probe_and_preview(tmp_path, ccw):
    path = tmp_path / f"rot{ccw}.mp4"
    coded = _rotated_clip(path, ccw)
    with av.open(str(path)) as c:  # PyAV's own reading of the display matrix
        frame_rotation = next(c.decode(video=0)).rotation
    assert frame_rotation % 360 == ccw
    clip = media.probe(path)
    assert clip.rotation == (-ccw) % 360  # stored clockwise, as the legacy rotate tag was
    assert (clip.coded_width, clip.coded_height) == (64, 48)
    assert (clip.width, clip.height) == ((48, 64) if ccw in (90, 270) else (64, 48))
    expected = np.rot90(coded, k=ccw // 90)  # numpy turns counter-clockwise
    out = media.make_sdr_preview(path, tmp_path / "p.mp4")
    with av.open(str(out)) as c:
        got = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert got.shape == expected.shape
    assert np.abs(got.astype(int) - expected.astype(int)).mean() < 12
    thumb = np.asarray(__import__("PIL.Image").Image.open(
        __import__("io").BytesIO(media.thumbnail(path))).convert("RGB"))
    assert thumb.shape == expected.shape
    assert np.abs(thumb.astype(int) - expected.astype(int)).mean() < 12


# ---------------------------------------------------------------- truncated Matroska


def _mkv(path: Path, frames: int, fps: int = 24, **opts) -> Path:
    with av.open(str(path), "w", options=opts) as out:
        s = out.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        rng = np.random.default_rng(1)
        for i in range(frames):
            # noise, so every frame has a real size and the cut lands mid-clip
            img = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts = i
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path


def test_truncated_matroska_is_flagged(tmp_path):
    full = _mkv(tmp_path / "full.mkv", 240)  # 10 s
    clip_full = media.probe(full)
    assert not clip_full.truncated and clip_full.duration_s == pytest.approx(10.0, abs=0.1)
    cut = tmp_path / "cut.mkv"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) * 3 // 10])
    clip = media.probe(cut)
    assert clip.truncated
    assert clip.stated_duration_s == pytest.approx(10.0, abs=0.1)
    assert clip.duration_s < 4.0 and clip.frame_count < 100
    assert clip.duration_s == pytest.approx(clip.frame_count / 24, abs=0.1)
    assert any("looks truncated" in n and "10.0 s" in n for n in clip.notes)


# ---------------------------------------------------------------- URL limits


class _Endless(http.server.BaseHTTPRequestHandler):
    """Serves a live Matroska stream (no duration, no size) that never ends: the recorded
    clusters are sent again and again at ``rate`` bytes per second. ``hung_up`` is set when
    a write fails because the client closed the connection."""

    body = b""
    rate = 10**9
    sent = 0
    hung_up: threading.Event

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "video/x-matroska")
        self.end_headers()
        chunk = 4096
        try:
            while True:
                for i in range(0, len(self.body), chunk):
                    self.wfile.write(self.body[i : i + chunk])
                    type(self).sent += chunk
                    time.sleep(chunk / self.rate)
        except (BrokenPipeError, ConnectionResetError, OSError):
            type(self).hung_up.set()
            return


@pytest.fixture
def endless(tmp_path):
    live = _mkv(tmp_path / "live.mkv", 600, live="1")
    handler = type("H", (_Endless,), {"body": live.read_bytes(), "sent": 0,
                                      "hung_up": threading.Event()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/live.mkv", handler
    server.shutdown()
    server.server_close()


def test_url_probe_of_an_endless_stream_stops_at_the_byte_cap(endless):
    url, handler = endless
    with pytest.raises(MediaError, match="live or endless stream") as caught:
        media.probe(url, max_bytes=2_000_000, deadline_s=60)
    assert "2 MB" in str(caught.value)
    # The probe closed the connection (it did not just stop reading, which would leave the
    # server blocked on a full socket buffer): the server's next write fails. Socket buffers
    # absorb a few MB first, so count the hang-up, not the bytes (2.4 MB at load 28).
    assert handler.hung_up.wait(30), "the probe left the stream's connection open"


def test_url_probe_of_a_trickling_stream_stops_at_the_deadline(endless):
    url, handler = endless
    handler.rate = 20_000  # 20 kB/s: the stream would take minutes
    started = time.monotonic()
    with pytest.raises(MediaError, match="after 2 s"):
        media.probe(url, max_bytes=10**9, deadline_s=2.0)
    assert time.monotonic() - started < 20.0  # the stream itself would take minutes
    assert handler.hung_up.wait(30), "the probe left the stream's connection open"


def test_fps_fraction_round_trip():
    assert media.fps_fraction(20.0) == Fraction(20)


def test_rotation_reaches_output_geometry(tmp_path):
    # A phone clip stored landscape with a 90° display matrix is portrait for every model:
    # the geometry (and so the quote) is computed from the probe's displayed size.

    path = tmp_path / "phone.mp4"
    _rotated_clip(path, 90)  # coded 64×48, shown 48×64
    clip = media.probe(path)
    params = models.get(STARLIGHT).with_defaults({"resolution": "1080p"})
    geo = models.get(STARLIGHT).output_geometry(width=clip.width, height=clip.height,
                                  fps=clip.fps, frame_count=clip.frame_count, params=params)
    assert geo.height > geo.width  # portrait out, as the viewer sees the clip
