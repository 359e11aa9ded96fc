"""Media helpers on real files: probing, bad inputs, thumbnails, previews, EXR frames."""

from __future__ import annotations

import dataclasses
import functools
import http.server
import io
import socket
import threading
import zipfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import OpenEXR
import pytest
from PIL import Image

from studio import media
from studio.errors import MediaError

from .conftest import DAMAGED_EXRS, GOOD_EXRS

# ---------------------------------------------------------------- probe on the shared media


def test_probe_realshort(realshort):
    clip = media.probe(realshort)
    assert (clip.width, clip.height, clip.frame_count) == (320, 240, 36)
    # SOURCES.md calls it "29.97 fps (45000/1499)"; the header's exact rate is 45000/1499,
    # which is 30.02 frames/s. Duration = 36 frames × 1499/45000 s.
    assert clip.fps == pytest.approx(45000 / 1499)
    assert clip.duration_s == pytest.approx(36 * 1499 / 45000, abs=1e-3)
    assert (clip.codec, clip.pix_fmt, clip.bit_depth) == ("h264", "yuv420p", 8)
    assert clip.has_audio and clip.size_bytes == realshort.stat().st_size
    assert media.browser_playable(clip) and not media.is_hdr(clip)


def test_probe_cockatoo(cockatoo):
    clip = media.probe(cockatoo)
    assert (clip.width, clip.height, clip.fps, clip.frame_count) == (1280, 720, 20.0, 280)
    assert clip.duration_s == pytest.approx(14.0)
    assert (clip.codec, clip.pix_fmt) == ("h264", "yuv444p")
    assert clip.color_transfer is None  # untagged
    assert not media.browser_playable(clip)  # High 4:4:4 is the "browser can't play it" case


def test_probe_counts_packets_when_the_container_has_no_frame_count(tmp_path):
    # Matroska states neither frame count nor stream duration, so probe must demux.
    path = tmp_path / "twelve.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(12):
            frame = av.VideoFrame(64, 48, "yuv420p")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with av.open(str(path)) as check:
        assert check.streams.video[0].frames == 0  # the premise of this test
    clip = media.probe(path)
    assert clip.frame_count == 12
    assert clip.fps == pytest.approx(24.0)
    assert clip.duration_s == pytest.approx(0.5, abs=0.05)
    assert clip.container.startswith("matroska")


@pytest.mark.parametrize(
    ("kind", "fragment"),
    [
        ("empty", "is empty (0 bytes)"),
        ("text", "is not a video (it looks like a text file)"),
        ("text_named_mp4", "is not a video"),
        ("png", "is not a video (it looks like a PNG image)"),
        ("png_named_mp4", "Choose an MP4, MOV or MKV clip"),
        ("truncated", "looks truncated"),
    ],
)
def test_probe_rejects_bad_media_with_a_sentence(bad_media, kind, fragment):
    with pytest.raises(MediaError) as caught:
        media.probe(bad_media[kind])
    message = str(caught.value)
    assert fragment in message
    assert message.endswith(".")
    assert bad_media[kind].name in message


def test_probe_missing_file_and_folder(tmp_path):
    with pytest.raises(MediaError, match="does not exist"):
        media.probe(tmp_path / "nope.mp4")
    with pytest.raises(MediaError, match="is a folder"):
        media.probe(tmp_path)


def test_probe_truncated_faststart_mp4(tmp_path, realshort):
    # Index at the front, media data cut: the sample table points past the end of the file.
    full = media.trim_clip(realshort, tmp_path / "full.mp4", max_frames=36)
    cut = tmp_path / "cut.mp4"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(MediaError, match="looks truncated"):
        media.probe(cut)


def test_probe_audio_only_file_has_no_video_track(tmp_path):
    path = tmp_path / "tone.m4a"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=48000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono"
        )
        frame.sample_rate = 48000
        for i in range(10):
            frame.pts = i * 1024
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with pytest.raises(MediaError, match="has no video track"):
        media.probe(path)


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with single-range support, like the object stores clips are served from."""

    def log_message(self, *args):  # keep pytest output clean
        pass

    def send_head(self):
        spec = self.headers.get("Range", "")
        path = Path(self.translate_path(self.path))
        if not spec.startswith("bytes=") or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        first, _, last = spec[6:].partition("-")
        start, end = int(first or 0), min(int(last) if last else size - 1, size - 1)
        fh = path.open("rb")
        fh.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        return io.BytesIO(fh.read(end - start + 1))


@pytest.fixture(params=["ranges", "no_ranges"])
def http_server(request, shared_data):
    base = (
        RangeHandler
        if request.param == "ranges"
        else type(
            "Plain",
            (http.server.SimpleHTTPRequestHandler,),
            {"log_message": RangeHandler.log_message},
        )
    )
    handler = functools.partial(base, directory=str(shared_data / "video"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", request.param
    server.shutdown()
    server.server_close()


def test_probe_http_url(http_server, realshort):
    base, mode = http_server
    clip = media.probe(f"{base}/realshort.mp4")
    local = dataclasses.replace(media.probe(realshort), size_bytes=None)
    # realshort is indexed at the end; without range requests the bounded reader starts the
    # download again to reach the first frame, so both servers give the whole answer.
    assert clip == local, mode


def test_probe_unreachable_url_is_a_media_error():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(MediaError, match="Could not read the video at http"):
        media.probe(f"http://127.0.0.1:{port}/clip.mp4")


# ---------------------------------------------------------------- small helpers


@pytest.mark.parametrize(
    ("fps", "fraction"),
    [
        (29.97, Fraction(30000, 1001)),
        (23.976, Fraction(24000, 1001)),
        (59.94, Fraction(60000, 1001)),
        (30, Fraction(30)),
        (25.0, Fraction(25)),
        (12.5, Fraction(25, 2)),
    ],
)
def test_fps_fraction(fps, fraction):
    assert media.fps_fraction(fps) == fraction


@pytest.mark.parametrize(
    ("codec", "pix_fmt", "trc", "playable"),
    [
        ("h264", "yuv420p", None, True),
        ("h264", "yuvj420p", "bt709", True),
        ("h264", "yuv444p", None, False),
        ("h264", "yuv420p", "smpte2084", False),
        ("hevc", "yuv420p", "bt709", False),
        ("prores", "yuv422p10le", "arib-std-b67", False),
    ],
)
def test_browser_playable_and_is_hdr(codec, pix_fmt, trc, playable):
    clip = media.ClipInfo(
        duration_s=1.0, width=64, height=48, fps=24.0, frame_count=24, codec=codec,
        pix_fmt=pix_fmt, color_transfer=trc,
    )  # fmt: skip
    assert media.browser_playable(clip) is playable
    assert media.is_hdr(clip) is (trc in ("smpte2084", "arib-std-b67"))


# ---------------------------------------------------------------- thumbnails and previews


def test_thumbnail_decodes_exactly_one_frame(cockatoo, monkeypatch):
    pulled = []
    original = media.iter_frames

    def counting(*args, **kwargs):
        for frame in original(*args, **kwargs):
            pulled.append(frame)
            yield frame

    monkeypatch.setattr(media.previews, "iter_frames", counting)
    png = media.thumbnail(cockatoo, max_width=320)
    assert len(pulled) == 1
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (320, 180)
    assert np.asarray(image).std() > 10  # a real picture, not a flat fill


def test_thumbnail_of_bad_file_is_a_media_error(bad_media):
    with pytest.raises(MediaError):
        media.thumbnail(bad_media["png"])


def test_trim_clip_keeps_first_frames(realshort, tmp_path):
    seen = []
    out = media.trim_clip(realshort, tmp_path / "trim.mp4", max_frames=10, progress=seen.append)
    clip = media.probe(out)
    assert clip.frame_count == 10 and (clip.width, clip.height) == (320, 240)
    assert clip.fps == pytest.approx(45000 / 1499)
    assert media.browser_playable(clip)
    assert seen == sorted(seen) and seen[-1] == 1.0


def test_sdr_preview_caps_height_and_keeps_aspect(realshort, tmp_path):
    out = media.make_sdr_preview(realshort, tmp_path / "small.mp4", max_height=120)
    clip = media.probe(out)
    assert (clip.width, clip.height, clip.frame_count) == (160, 120, 36)
    assert clip.duration_s == pytest.approx(media.probe(realshort).duration_s, abs=1e-3)


def test_sdr_preview_moov_is_at_the_front(realshort, tmp_path):
    out = media.make_sdr_preview(realshort, tmp_path / "fast.mp4")
    data = out.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # +faststart: playable while downloading


@pytest.mark.slow
def test_sdr_preview_of_yuv444p_cockatoo(cockatoo, tmp_path):
    seen = []
    out = media.make_sdr_preview(cockatoo, tmp_path / "c.mp4", max_height=360, progress=seen.append)
    clip = media.probe(out)
    assert media.browser_playable(clip)
    assert (clip.width, clip.height, clip.frame_count) == (640, 360, 280)
    assert clip.duration_s == pytest.approx(14.0)
    assert seen == sorted(seen) and seen[-1] == 1.0


# ---------------------------------------------------------------- EXR


@pytest.mark.parametrize("path", GOOD_EXRS, ids=lambda p: p.name)
def test_read_exr_reference_images(path):
    rgb = media.read_exr(path)
    assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.float32
    with OpenEXR.File(str(path), header_only=True) as f:
        (x0, y0), (x1, y1) = f.header()["dataWindow"]
    assert rgb.shape[:2] == (y1 - y0 + 1, x1 - x0 + 1)


def test_read_exr_values(exr_dir):
    grey = media.read_exr(exr_dir / "GrayRampsHorizontal.exr")  # a Y-only image
    assert np.array_equal(grey[..., 0], grey[..., 1]) and np.array_equal(grey[..., 1], grey[..., 2])
    assert np.nanmax(media.read_exr(exr_dir / "BrightRings.exr")) > 1000  # HDR values kept
    assert np.isnan(media.read_exr(exr_dir / "AllHalfValues.exr")).any()  # stored as is
    assert (media.read_exr(exr_dir / "WideColorGamut.exr") < 0).any()  # out-of-gamut kept


@pytest.mark.parametrize("path", DAMAGED_EXRS, ids=lambda p: p.name[:60])
def test_read_exr_damaged_files_fail_cleanly(path):
    with pytest.raises(MediaError) as caught:
        media.read_exr(path)
    assert path.name in str(caught.value) and "Export the frame again" in str(caught.value)


def test_damaged_corpus_is_all_there():
    assert len(DAMAGED_EXRS) == 84 and len(GOOD_EXRS) == 5


def test_read_exr_empty_file(tmp_path):
    (tmp_path / "empty.exr").write_bytes(b"")
    with pytest.raises(MediaError, match="empty"):
        media.read_exr(tmp_path / "empty.exr")


def write_exr_zip(path: Path, frames: list[np.ndarray]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for i, rgb in enumerate(frames):
            buf = io.BytesIO()
            header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
            with OpenEXR.File(header, {"RGB": rgb.astype(np.float16)}) as exr:
                exr.write(buf)
            zf.writestr(f"frame_{i:06d}.exr", buf.getvalue())
    return path


@pytest.fixture
def exr_zip(tmp_path):
    ramp = np.linspace(0, 3, 96 * 64 * 3, dtype=np.float32).reshape(64, 96, 3)
    return write_exr_zip(tmp_path / "frames.zip", [ramp * (1 + i / 4) for i in range(5)])


def test_exr_zip_summary(exr_zip):
    summary = media.exr_zip_summary(exr_zip)
    assert (summary.frame_count, summary.width, summary.height) == (5, 96, 64)
    assert summary.dtype == "float16"
    assert summary.max_value == pytest.approx(3 * 2, rel=1e-3)


def test_exr_zip_preview(exr_zip, tmp_path):
    seen = []
    out = media.make_exr_zip_preview(exr_zip, tmp_path / "p.mp4", fps=24, progress=seen.append)
    clip = media.probe(out)
    assert media.browser_playable(clip)
    assert (clip.width, clip.height, clip.frame_count, clip.fps) == (96, 64, 5, 24.0)
    assert seen[-1] == 1.0


def test_exr_zip_problems_are_media_errors(tmp_path, exr_dir):
    not_zip = tmp_path / "a.zip"
    not_zip.write_bytes(b"hello")
    with pytest.raises(MediaError, match="not a readable ZIP"):
        media.exr_zip_summary(not_zip)
    no_exr = tmp_path / "b.zip"
    with zipfile.ZipFile(no_exr, "w") as zf:
        zf.writestr("readme.txt", "hi")
    with pytest.raises(MediaError, match="no .exr frames"):
        media.exr_zip_summary(no_exr)
    damaged = tmp_path / "c.zip"
    with zipfile.ZipFile(damaged, "w") as zf:
        zf.write(DAMAGED_EXRS[0], "frame_000000.exr")
    with pytest.raises(MediaError, match="damaged"):
        media.make_exr_zip_preview(damaged, tmp_path / "c.mp4", fps=24)
    assert not (tmp_path / "c.mp4").exists()
