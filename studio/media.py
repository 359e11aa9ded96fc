"""Reading, checking and converting media files: probing, thumbnails, previews, EXR frames.

This module owns everything that opens a video or EXR file on the core side:

* :func:`probe` turns a file or http(s) URL into a :class:`ClipInfo` from the container and
  stream headers (PyAV), never decoding more than it must;
* :func:`thumbnail`, :func:`make_sdr_preview`, :func:`make_exr_zip_preview` and
  :func:`trim_clip` produce things a browser can show (PNG, H.264 yuv420p MP4);
* :func:`read_exr` and :func:`exr_zip_summary` read OpenEXR frames (OpenEXR bindings);
* :class:`H264Writer`, :class:`SdrConverter`, :func:`iter_frames` and friends are the small
  encode/decode helpers that the sandbox's processing reuses.

Every failure a person can fix is a :class:`~studio.errors.MediaError` whose message says what
is wrong with the file and what to do. Work is frame by frame: no function holds a whole video
in memory. The colour math lives in :mod:`studio.transfer`.
"""

from __future__ import annotations

import io
import math
import struct
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO, Any

import av
import av.error
import numpy as np
import OpenEXR
from av.video.reformatter import ColorRange, Colorspace, Interpolation

from studio import transfer
from studio.errors import MediaError

__all__ = [
    "ClipInfo",
    "ExrZipSummary",
    "H264Writer",
    "SdrConverter",
    "browser_playable",
    "even",
    "exr_zip_summary",
    "fps_fraction",
    "is_hdr",
    "iter_frames",
    "linear_from_rgb24",
    "make_exr_zip_preview",
    "make_sdr_preview",
    "open_video",
    "probe",
    "read_exr",
    "thumbnail",
    "trim_clip",
    "yuv_matrix",
]

Progress = Callable[[float], None]

#: Seconds PyAV waits to open, then to read, an http(s) source before giving up.
URL_TIMEOUT_S = (15.0, 30.0)
#: Transfer characteristics that mean HDR (ffmpeg names; ITU-T H.273 values 16 and 18).
HDR_TRANSFERS = frozenset({"smpte2084", "arib-std-b67"})
#: Largest EXR we agree to allocate; damaged headers can claim absurd sizes.
MAX_EXR_SIDE = 16384
#: Linear EXR value 1.0 is SDR diffuse white, shown at HDR reference white (ITU-R BT.2408).
EXR_WHITE_NITS = transfer.HDR_REFERENCE_WHITE_NITS

# ITU-T H.273 code points → the names ffmpeg/ffprobe print (libavutil/pixdesc.c tables).
_TRC_NAMES = {
    1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "linear",
    9: "log100", 10: "log316", 11: "iec61966-2-4", 12: "bt1361e", 13: "iec61966-2-1",
    14: "bt2020-10", 15: "bt2020-12", 16: "smpte2084", 17: "smpte428", 18: "arib-std-b67",
}  # fmt: skip
_PRIMARIES_NAMES = {
    1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "film",
    9: "bt2020", 10: "smpte428", 11: "smpte431", 12: "smpte432", 22: "ebu3213",
}  # fmt: skip
_SPACE_NAMES = {
    0: "gbr", 1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "ycgco",
    9: "bt2020nc", 10: "bt2020c", 11: "smpte2085", 12: "chroma-derived-nc",
    13: "chroma-derived-c", 14: "ictcp",
}  # fmt: skip
# Demuxers ffmpeg uses for still images and text; they "open" but are not videos.
_STILL_FORMATS = ("image2", "tty", "gif", "apng", "webp_pipe")
_STILL_CODECS = frozenset({"png", "bmp", "tiff", "webp", "ansi", "bintext", "xbin", "idf"})


# ================================ Data types =====================================================


@dataclass(frozen=True)
class ClipInfo:
    """What the headers say about a video clip.

    Attributes:
        duration_s: length in seconds.
        width, height: coded picture size in pixels.
        fps: average frame rate in frames/s (29.97 is 30000/1001 as a float).
        frame_count: number of video frames.
        codec: ffmpeg codec name (``"h264"``, ``"hevc"``, ``"prores"``, ...).
        pix_fmt: ffmpeg pixel format (``"yuv420p"``, ``"yuv444p"``, ``"yuv420p10le"``, ...);
            ``""`` when it cannot be known (an end-indexed MP4 on a server without ranges).
        color_transfer: ffmpeg transfer name (``"bt709"``, ``"smpte2084"`` = PQ,
            ``"arib-std-b67"`` = HLG) or ``None`` when the file does not say.
        color_primaries, color_space: ffmpeg names (``"bt2020"``, ``"bt2020nc"``) or ``None``.
        bit_depth: bits per luma sample.
        has_audio: the container has at least one audio stream.
        container: ffmpeg demuxer name (``"mov,mp4,m4a,3gp,3g2,mj2"``, ``"matroska,webm"``).
        size_bytes: file size, ``None`` for URLs whose size is unknown.
        rotation: display rotation in degrees from the legacy ``rotate`` tag (0 if absent).
    """

    duration_s: float
    width: int
    height: int
    fps: float
    frame_count: int
    codec: str
    pix_fmt: str
    color_transfer: str | None
    color_primaries: str | None = None
    color_space: str | None = None
    bit_depth: int = 8
    has_audio: bool = False
    container: str = ""
    size_bytes: int | None = None
    rotation: int = 0


@dataclass(frozen=True)
class ExrZipSummary:
    """What a ZIP of EXR frames holds: frame count, size in pixels of the first frame, its
    pixel ``dtype`` (``"float16"`` for half float) and the largest finite sample value over
    all frames (linear light; > 1.0 means highlights above SDR white)."""

    frame_count: int
    width: int
    height: int
    dtype: str
    max_value: float


# ================================ Small helpers ==================================================


def even(n: float) -> int:
    """Nearest even integer ≥ 2: 4:2:0 chroma subsampling needs even widths and heights."""
    return max(2, int(round(n / 2.0)) * 2)


def fps_fraction(fps: float) -> Fraction:
    """Frame rate as an exact fraction; NTSC rates (23.976, 29.97, 59.94) become N·1000/1001."""
    fps = float(fps)
    if fps <= 0 or not math.isfinite(fps):
        raise MediaError(f"The frame rate {fps} is not usable. Choose a clip with a normal rate.")
    ntsc = fps * 1.001
    if abs(fps - round(fps)) > 1e-6 and abs(ntsc - round(ntsc)) < 2e-3:
        return Fraction(round(ntsc) * 1000, 1001)
    return Fraction(fps).limit_denominator(1001)


def _is_url(source: str | Path) -> bool:
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


def _label(source: str | Path) -> str:
    return str(source) if _is_url(source) else Path(source).name


def _color_name(table: dict[int, str], value: Any) -> str | None:
    try:
        return table.get(int(value))
    except (TypeError, ValueError):
        return None


def _sniff_kind(head: bytes) -> str | None:
    """Name the file type from its first bytes when it is clearly not a video."""
    signatures = [
        (b"\x89PNG\r\n\x1a\n", "a PNG image"),
        (b"\xff\xd8\xff", "a JPEG image"),
        (b"GIF8", "a GIF image"),
        (b"%PDF", "a PDF document"),
        (b"PK\x03\x04", "a ZIP archive"),
        (b"v/1\x01", "an OpenEXR image"),
        (b"BM", "a BMP image"),
    ]
    for magic, kind in signatures:
        if head.startswith(magic):
            return kind
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start < len(head) - 3:
            return None
        text = head[: err.start].decode("utf-8")  # a character cut by the 512-byte read
    if text and all(ch.isprintable() or ch in "\t\n\r" for ch in text):
        return "a text file"
    return None


def _looks_like_video_container(head: bytes) -> bool:
    """ISO BMFF (MP4/MOV) or Matroska/WebM magic: the file meant to be a video."""
    return head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip") or head.startswith(
        b"\x1a\x45\xdf\xa3"
    )


def _check_isobmff_boxes(path: Path, size: int) -> None:
    """Walk the top-level MP4/MOV boxes (ISO/IEC 14496-12 §4.2) to spot a cut-off file.

    Reads a few 16-byte headers only. Raises MediaError when a box runs past the end of the
    file or the index box ``moov`` is missing.
    """
    seen_moov = False
    with path.open("rb") as fh:
        pos = 0
        while pos + 8 <= size:
            fh.seek(pos)
            header = fh.read(16)
            box_size, box_type = struct.unpack(">I4s", header[:8])
            if box_size == 1 and len(header) >= 16:
                box_size = struct.unpack(">Q", header[8:16])[0]
            elif box_size == 0:  # "extends to end of file"
                box_size = size - pos
            if box_size < 8:
                break  # not a box structure we understand; let the demuxer judge
            if box_type == b"moov":
                seen_moov = True
            if pos + box_size > size:
                missing = pos + box_size - size
                raise MediaError(
                    f"The video looks truncated: the file '{path.name}' ends {missing:,} bytes "
                    f"before its '{box_type.decode('latin-1')}' section does, so the copy or "
                    "upload probably stopped early. Copy or export the clip again."
                )
            pos += box_size
    if not seen_moov:
        raise MediaError(
            f"The video looks truncated: '{path.name}' has no MP4 index (moov atom), which is "
            "written last, so the recording or copy probably stopped early. Export the clip "
            "again or choose another file."
        )


def open_video(source: str | Path) -> av.container.InputContainer:
    """Open a local path or http(s) URL for reading with PyAV; failures become MediaError.

    Local files are checked first (exists, not empty, not an image/text, not cut off), so the
    message can say what is wrong. URLs use :data:`URL_TIMEOUT_S`.
    """
    if _is_url(source):
        try:
            return av.open(str(source), mode="r", timeout=URL_TIMEOUT_S)
        except (av.error.FFmpegError, OSError) as err:
            raise MediaError(
                f"Could not read the video at {source} ({_short(err)}). Check that the link "
                "is public and still valid, or download the clip and choose the file."
            ) from err
    path = Path(source)
    if not path.exists():
        raise MediaError(f"The file '{path}' does not exist. Choose the clip again.")
    if not path.is_file():
        raise MediaError(f"'{path}' is a folder, not a video file. Choose an MP4, MOV or MKV clip.")
    size = path.stat().st_size
    if size == 0:
        raise MediaError(
            f"The file '{path.name}' is empty (0 bytes). The upload or copy failed; "
            "choose the clip again."
        )
    with path.open("rb") as fh:
        head = fh.read(512)
    kind = _sniff_kind(head)
    if kind:
        raise MediaError(
            f"The file '{path.name}' is not a video (it looks like {kind}). "
            "Choose an MP4, MOV or MKV clip."
        )
    if head[4:8] == b"ftyp":
        _check_isobmff_boxes(path, size)
    try:
        return av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError) as err:
        if _looks_like_video_container(head):
            raise MediaError(
                f"The video looks truncated or damaged: '{path.name}' starts like a video but "
                f"cannot be read ({_short(err)}). Copy or export the clip again."
            ) from err
        raise MediaError(
            f"The file '{path.name}' is not a video ({_short(err)}). "
            "Choose an MP4, MOV or MKV clip."
        ) from err


def _short(err: BaseException) -> str:
    text = getattr(err, "strerror", None) or str(err)
    return str(text).split(":")[0].strip().rstrip(".") or type(err).__name__


def _video_stream(container: Any, label: str) -> Any:
    fmt = container.format.name or ""
    video = container.streams.video
    if (
        fmt in _STILL_FORMATS
        or fmt.endswith("_pipe")
        or (video and video[0].codec_context.name in _STILL_CODECS)
    ):
        raise MediaError(
            f"The file '{label}' is not a video (it is a still image or text, format "
            f"'{fmt}'). Choose an MP4, MOV or MKV clip."
        )
    if not video:
        kinds = sorted({s.type for s in container.streams}) or ["nothing"]
        raise MediaError(
            f"The file '{label}' has no video track (it holds {', '.join(kinds)}). "
            "Choose a clip with picture."
        )
    return video[0]


# ================================ Probing ========================================================


def probe(source: str | Path) -> ClipInfo:
    """Describe a clip from its container and stream headers.

    ``source`` is a local path or an http(s) URL. Normally nothing is decoded: when the
    container does not state the frame count or duration (e.g. Matroska), packets are
    counted by demuxing without decoding; only when the headers lack the picture size or
    pixel format (an MP4 indexed at the end, streamed without range requests) is the first
    frame decoded. Raises MediaError for a missing, empty, truncated or non-video file, or
    one without a video track.
    """
    label = _label(source)
    with open_video(source) as container:
        # open_video has checked that a local file exists.
        size_bytes = None if _is_url(source) else Path(source).stat().st_size
        stream = _video_stream(container, label)
        cc = stream.codec_context
        width, height = int(cc.width or 0), int(cc.height or 0)
        pix_fmt = cc.pix_fmt or ""
        trc, primaries, space = cc.color_trc, cc.color_primaries, cc.colorspace
        if size_bytes is not None:
            _check_index_within_file(stream, size_bytes, label)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        duration_s = 0.0
        if stream.duration and stream.time_base:
            duration_s = float(stream.duration * stream.time_base)
        elif container.duration:
            duration_s = container.duration / av.time_base
        frame_count = int(stream.frames or 0)
        if frame_count <= 0 or duration_s <= 0:
            counted, last_end = _count_packets(container, stream)
            frame_count = frame_count if frame_count > 0 else counted
            if duration_s <= 0:
                duration_s = last_end
        if fps <= 0 and duration_s > 0:
            fps = frame_count / duration_s
        if duration_s <= 0 and fps > 0:
            duration_s = frame_count / fps
        if frame_count <= 0:
            raise MediaError(
                f"The video '{label}' contains no frames. It may be truncated; export it again."
            )
        codec, container_name = cc.name, container.format.name or ""
        has_audio = bool(container.streams.audio)
        rotation = _rotation(stream)
    if not pix_fmt or not width or not height:
        # The header alone did not say (e.g. an MP4 with its index at the end): decode the
        # first frame, and only that one.
        try:
            frame = _first_frame(source, label)
        except MediaError:
            # Streamed from a server without range requests, such a file cannot be decoded
            # at all; size and timing are still known, so report the pixel format as unknown.
            if not width or not height:
                raise
        else:
            width, height, pix_fmt = frame.width, frame.height, frame.format.name
            trc, primaries, space = frame.color_trc, frame.color_primaries, frame.colorspace
    return ClipInfo(
        duration_s=round(duration_s, 6),
        width=width,
        height=height,
        fps=fps,
        frame_count=frame_count,
        codec=codec,
        pix_fmt=pix_fmt,
        color_transfer=_color_name(_TRC_NAMES, trc),
        color_primaries=_color_name(_PRIMARIES_NAMES, primaries),
        color_space=_color_name(_SPACE_NAMES, space),
        bit_depth=_bit_depth(pix_fmt),
        has_audio=has_audio,
        container=container_name,
        size_bytes=size_bytes,
        rotation=rotation,
    )


def _first_frame(source: str | Path, label: str) -> Any:
    with open_video(source) as container:
        stream = _video_stream(container, label)
        for frame in iter_frames(container, stream, label=label):
            return frame
    raise MediaError(
        f"The video '{label}' has no decodable picture; it may be damaged. Export it again."
    )


def _bit_depth(pix_fmt: str) -> int:
    try:
        return int(av.VideoFormat(pix_fmt).components[0].bits)
    except (ValueError, TypeError, IndexError):
        return 8


def _rotation(stream: Any) -> int:
    # PyAV exposes the display matrix only on decoded frames; header-only probing can use
    # just the legacy tag older muxers wrote.
    try:
        return int(float(stream.metadata.get("rotate", 0))) % 360
    except (TypeError, ValueError):
        return 0


def _check_index_within_file(stream: Any, size_bytes: int, label: str) -> None:
    """MP4/MOV sample tables say where each frame sits; frames past EOF mean a cut file."""
    try:
        entries = stream.index_entries
        if not entries:
            return
        last = entries[len(entries) - 1]
        end = int(last.pos) + int(last.size)
    except (AttributeError, IndexError, TypeError, ValueError):
        return
    if end > size_bytes:
        raise MediaError(
            f"The video looks truncated: '{label}' should be at least {end:,} bytes but is "
            f"{size_bytes:,}. The copy or upload probably stopped early; copy the clip again."
        )


def _count_packets(container: Any, stream: Any) -> tuple[int, float]:
    """Count video packets by demuxing (no decoding); also return the end time in seconds."""
    count, end = 0, 0.0
    try:
        for packet in container.demux(stream):
            if packet.size == 0:  # the flush packet demux yields at the end
                continue
            count += 1
            if packet.pts is not None and packet.time_base is not None:
                t = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                end = max(end, t)
    except av.error.FFmpegError:
        pass  # a damaged tail: keep what was counted; decoding will report the damage
    return count, end


def is_hdr(clip: ClipInfo) -> bool:
    """True when the clip is tagged PQ (SMPTE ST 2084) or HLG (ARIB STD-B67)."""
    return (clip.color_transfer or "") in HDR_TRANSFERS


def browser_playable(clip: ClipInfo) -> bool:
    """True when every mainstream browser can play the clip in a ``<video>`` tag as is.

    That means H.264 with 8-bit 4:2:0 (``yuv420p``/``yuvj420p``) and SDR transfer; High
    4:4:4, 10-bit, HEVC and ProRes are not reliably decoded by browsers.
    """
    return clip.codec == "h264" and clip.pix_fmt in ("yuv420p", "yuvj420p") and not is_hdr(clip)


# ================================ Decoding / encoding helpers ====================================


def iter_frames(container: Any, stream: Any, *, label: str = "video") -> Iterator[Any]:
    """Decode ``stream`` frame by frame (threaded decoder); decode failures → MediaError."""
    stream.thread_type = "AUTO"
    index = 0
    try:
        for frame in container.decode(stream):
            yield frame
            index += 1
    except av.error.FFmpegError as err:
        raise MediaError(
            f"The video '{label}' could not be decoded after frame {index} ({_short(err)}); it "
            "looks truncated or damaged. Export it again."
        ) from err


class H264Writer:
    """Encode frames into an H.264 yuv420p MP4 with a constant frame rate.

    Frames get timestamps n/fps (time base 1/fps), so ``frame_count / fps`` is the duration.
    The MP4 index is written at the front (``movflags=+faststart``) so a browser can start
    playing before the download ends. Use as a context manager; :meth:`write` takes any
    PyAV VideoFrame (it is converted to yuv420p at the writer's size if needed).
    """

    def __init__(
        self,
        dst: str | Path,
        *,
        width: int,
        height: int,
        fps: float | Fraction,
        preset: str = "veryfast",
        crf: int = 20,
        color_primaries: int = 1,
        color_trc: int = 1,
        colorspace: int = 1,
    ):
        self.path = Path(dst)
        self.width, self.height = even(width), even(height)
        self.rate = fps if isinstance(fps, Fraction) else fps_fraction(fps)
        self.frames = 0
        # Typed Any: PyAV's stubs describe every stream kind; this one is always video.
        self.container: Any = av.open(str(self.path), mode="w", options={"movflags": "+faststart"})
        self.stream: Any = self.container.add_stream(
            "libx264",
            rate=self.rate,
            options={"crf": str(crf), "preset": preset, "x264-params": "log-level=error"},
        )
        self.stream.width, self.stream.height = self.width, self.height
        self.stream.pix_fmt = "yuv420p"
        cc = self.stream.codec_context
        # Tag BT.709 SDR (ITU-T H.273 code 1) by default: untagged streams leave players guessing.
        cc.color_primaries, cc.color_trc, cc.colorspace = color_primaries, color_trc, colorspace
        cc.color_range = int(ColorRange.MPEG)

    def write(self, frame: Any) -> None:
        """Encode one frame as the next output frame (timestamp = frames written so far)."""
        if (
            frame.width != self.width
            or frame.height != self.height
            or frame.format.name != ("yuv420p")
        ):
            frame = frame.reformat(
                width=self.width,
                height=self.height,
                format="yuv420p",
                interpolation=Interpolation.BICUBIC,
                # RGB input needs a matrix: use BT.709's. YUV input keeps its own matrix.
                dst_colorspace=Colorspace.ITU709 if frame.format.is_rgb else None,
                dst_color_range=ColorRange.MPEG if frame.format.is_rgb else None,
            )
        frame.pts = self.frames
        frame.time_base = Fraction(1) / self.rate
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.frames += 1

    def write_rgb(self, rgb8: np.ndarray) -> None:
        """Encode an (H, W, 3) uint8 BT.709 R'G'B' array as the next frame."""
        self.write(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb8), format="rgb24"))

    def close(self) -> None:
        """Flush the encoder and finish the file."""
        if self.container is None:
            return
        try:
            for packet in self.stream.encode():
                self.container.mux(packet)
        finally:
            self.container.close()
            self.container = None

    def abort(self) -> None:
        """Close without caring about the result and delete the partial file."""
        try:
            if self.container is not None:
                self.container.close()
        except av.error.FFmpegError:
            pass
        self.container = None
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> H264Writer:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _scaled_size(width: int, height: int, max_height: int | None) -> tuple[int, int]:
    """Even output size no taller than ``max_height``, keeping the aspect ratio."""
    if max_height and height > max_height:
        return even(width * max_height / height), even(max_height)
    return even(width), even(height)


# LUTs from 16-bit code values (rgb48le from swscale) to display nits / scene light, built
# lazily: one np.take per frame is several times faster than evaluating the PQ power laws.
_LUTS: dict[str, np.ndarray] = {}


def _lut(name: str) -> np.ndarray:
    if name not in _LUTS:
        codes = np.arange(65536, dtype=np.float32) / 65535.0
        if name == "pq":
            _LUTS[name] = transfer.pq_eotf(codes)
        elif name == "hlg":
            _LUTS[name] = transfer.hlg_inverse_oetf(codes)
        elif name == "srgb8":
            _LUTS[name] = transfer.srgb_decode(np.arange(256, dtype=np.float32) / 255.0)
        else:  # "bt1886_8": 8-bit BT.709 video code value → relative linear light
            _LUTS[name] = transfer.bt1886_eotf(np.arange(256, dtype=np.float32) / 255.0)
    return _LUTS[name]


def linear_from_rgb24(rgb8: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 BT.709 video R'G'B' → float32 relative linear light (ITU-R BT.1886)."""
    return np.take(_lut("bt1886_8"), rgb8)


def _encode_sdr8(linear: np.ndarray) -> np.ndarray:
    """Relative linear BT.709 light (0–1) → uint8 R'G'B' via the BT.1886 inverse EOTF."""
    return np.rint(transfer.bt1886_inverse_eotf(linear) * 255.0).astype(np.uint8)


def yuv_matrix(clip: ClipInfo) -> Colorspace:
    """The Y'CbCr matrix to decode ``clip`` with (for swscale's YUV → RGB).

    Tagged clips use their tag. Untagged clips follow the usual player convention
    (ITU-R BT.709 for HD, BT.601 for SD, i.e. below 720 lines), since swscale alone would
    assume BT.601 for everything.
    """
    space = clip.color_space or ""
    if space.startswith("bt2020"):
        return Colorspace.BT2020
    if space in ("bt470bg", "smpte170m"):
        return Colorspace.ITU601
    if space == "bt709" or (not space and clip.height >= 720):
        return Colorspace.ITU709
    return Colorspace.ITU601


class SdrConverter:
    """Turn decoded frames of one clip into SDR BT.709 frames of a given size.

    SDR sources are only rescaled/resampled by swscale (e.g. yuv444p → yuv420p). PQ and HLG
    BT.2020 sources are decoded to display light (SMPTE ST 2084 EOTF, or HLG inverse OETF +
    OOTF at 1000 nits per ITU-R BT.2100), tone mapped with :func:`transfer.tone_map_sdr`,
    converted BT.2020 → BT.709 (ITU-R BT.2087 inverse) and re-encoded with BT.1886.
    """

    def __init__(self, clip: ClipInfo, width: int, height: int):
        self.clip, self.width, self.height = clip, width, height
        self.hdr = is_hdr(clip)
        self.src_space = yuv_matrix(clip)
        self.wide_gamut = clip.color_primaries == "bt2020" or self.src_space == Colorspace.BT2020

    def rgb8(self, frame: Any) -> np.ndarray:
        """One frame → (height, width, 3) uint8 SDR BT.709 R'G'B'."""
        if not self.hdr:
            return frame.to_ndarray(
                format="rgb24",
                width=self.width,
                height=self.height,
                interpolation=Interpolation.BICUBIC,
                src_colorspace=self.src_space,
                dst_colorspace=self.src_space,
            )
        codes = frame.to_ndarray(
            format="rgb48le",
            width=self.width,
            height=self.height,
            interpolation=Interpolation.BICUBIC,
            src_colorspace=self.src_space,
            src_color_range=ColorRange.MPEG,
        )
        if self.clip.color_transfer == "smpte2084":
            nits = np.take(_lut("pq"), codes)
        else:
            nits = transfer.hlg_ootf(np.take(_lut("hlg"), codes), peak_nits=1000.0)
        sdr = transfer.tone_map_sdr(nits, source_peak_nits=1000.0)
        if self.wide_gamut:
            sdr = np.clip(transfer.apply_matrix(sdr, transfer.BT2020_TO_BT709), 0.0, 1.0)
        return _encode_sdr8(sdr)

    def frame(self, frame: Any) -> Any:
        """One frame → yuv420p VideoFrame (BT.709 matrix) at the target size."""
        if not self.hdr:
            return frame.reformat(
                width=self.width,
                height=self.height,
                format="yuv420p",
                interpolation=Interpolation.BICUBIC,
                src_colorspace=self.src_space,
                dst_colorspace=Colorspace.ITU709,
            )
        out = av.VideoFrame.from_ndarray(self.rgb8(frame), format="rgb24")
        return out.reformat(
            format="yuv420p", dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG
        )


# ================================ Thumbnails and previews ========================================


def thumbnail(source: str | Path, *, max_width: int = 480) -> bytes:
    """PNG bytes of the clip's first frame, at most ``max_width`` pixels wide.

    Decodes exactly one frame; HDR sources are tone mapped like :func:`make_sdr_preview`.
    Raises MediaError when the source cannot be read.
    """
    from PIL import Image  # Pillow comes with Streamlit; imported here to keep import cheap

    clip = probe(source)
    width, height = clip.width, clip.height
    if width > max_width:
        width, height = max_width, max(2, round(clip.height * max_width / clip.width))
    converter = SdrConverter(clip, width, height)
    with open_video(source) as container:
        stream = _video_stream(container, _label(source))
        for frame in iter_frames(container, stream, label=_label(source)):
            rgb = converter.rgb8(frame)
            break
        else:
            raise MediaError(
                f"The video '{_label(source)}' has no decodable frame; it looks damaged. "
                "Export it again."
            )
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def _transcode_h264(
    src: str | Path,
    dst: str | Path,
    *,
    max_height: int | None,
    max_frames: int | None,
    progress: Progress | None,
) -> Path:
    clip = probe(src)
    width, height = _scaled_size(clip.width, clip.height, max_height)
    total = min(clip.frame_count, max_frames) if max_frames else clip.frame_count
    converter = SdrConverter(clip, width, height)
    # SDR keeps the source's primaries and transfer (unknown → BT.709); HDR is tone mapped to
    # BT.709. The Y'CbCr matrix is always BT.709: SdrConverter converts to it.
    tags = (1, 1, 1)
    if not converter.hdr:
        tags = (
            _code(_PRIMARIES_NAMES, clip.color_primaries),
            _code(_TRC_NAMES, clip.color_transfer),
            1,
        )
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open_video(src) as container:
        stream = _video_stream(container, _label(src))
        # Keep the exact source rate (e.g. 45000/1499) so the duration matches to the tick.
        rate = stream.average_rate
        with H264Writer(
            dst,
            width=width,
            height=height,
            fps=Fraction(rate) if rate else fps_fraction(clip.fps),
            color_primaries=tags[0],
            color_trc=tags[1],
            colorspace=tags[2],
        ) as writer:
            for frame in iter_frames(container, stream, label=_label(src)):
                writer.write(converter.frame(frame))
                if progress:
                    progress(min(writer.frames / max(total, 1), 1.0))
                if max_frames and writer.frames >= max_frames:
                    break
            if writer.frames == 0:
                raise MediaError(
                    f"The video '{_label(src)}' has no decodable frames; it looks damaged."
                )
    if progress:
        progress(1.0)
    return dst


def _code(table: dict[int, str], name: str | None) -> int:
    for code, value in table.items():
        if value == name:
            return code
    return 1  # unknown → BT.709, what browsers assume for SDR anyway


def make_sdr_preview(
    src: str | Path,
    dst: str | Path,
    *,
    progress: Progress | None = None,
    max_height: int | None = 1080,
) -> Path:
    """Write a browser-playable copy of ``src``: H.264 yuv420p MP4, BT.709 SDR, faststart.

    HDR (PQ/HLG, BT.2020) is tone mapped to SDR (:class:`SdrConverter`); yuv444p, 10-bit,
    ProRes or HEVC SDR is resampled to 8-bit 4:2:0. The picture is scaled down to at most
    ``max_height`` pixels tall keeping the aspect ratio (even sizes). Same frame rate and
    frame count as the source; no audio. ``progress`` gets 0–1. Returns ``dst``.
    Raises MediaError when ``src`` is unreadable.
    """
    return _transcode_h264(src, dst, max_height=max_height, max_frames=None, progress=progress)


def trim_clip(
    src: str | Path, dst: str | Path, *, max_frames: int, progress: Progress | None = None
) -> Path:
    """Re-encode the first ``max_frames`` frames of ``src`` as an H.264 yuv420p MP4 at full size.

    Used to fit a clip under a model's frame cap (e.g. LTX direct's 181 frames). Same frame
    rate; HDR sources are tone mapped to SDR. Returns ``dst``. Raises MediaError.
    """
    if max_frames < 1:
        raise MediaError("Keep at least one frame when trimming a clip.")
    return _transcode_h264(src, dst, max_height=None, max_frames=max_frames, progress=progress)


# ================================ EXR frames =====================================================


def _decode_exr(source: str | IO[bytes], label: str) -> tuple[np.ndarray, str]:
    """Read one EXR from a path or binary stream → ((H, W, 3) float32, stored dtype name)."""
    try:
        with OpenEXR.File(source, header_only=True) as f:
            (x0, y0), (x1, y1) = f.header()["dataWindow"]
        width, height = int(x1) - int(x0) + 1, int(y1) - int(y0) + 1
        if not (0 < width <= MAX_EXR_SIDE and 0 < height <= MAX_EXR_SIDE):
            raise MediaError(
                f"The EXR file '{label}' claims a {width}×{height} picture, which is not "
                "plausible; it is damaged. Export the frame again."
            )
        if hasattr(source, "seek"):
            source.seek(0)
        with OpenEXR.File(source) as f:
            channels = f.channels()
            chosen = None
            for name in ("RGB", "RGBA"):
                if name in channels:
                    chosen = channels[name].pixels
                    break
            if chosen is None:
                for name, ch in channels.items():
                    if name.endswith((".RGB", ".RGBA")):
                        chosen = ch.pixels
                        break
            if chosen is None and "Y" in channels:
                grey = channels["Y"].pixels
                chosen = np.repeat(np.asarray(grey)[..., None], 3, axis=-1)
            if chosen is None:
                raise MediaError(
                    f"The EXR file '{label}' has no RGB or Y channels (it has "
                    f"{', '.join(sorted(channels)) or 'none'}). Export colour frames."
                )
            pixels = np.asarray(chosen)
            dtype = str(pixels.dtype)
            if pixels.ndim != 3 or pixels.shape[2] < 3:
                raise MediaError(f"The EXR file '{label}' has an unexpected pixel layout.")
            return np.ascontiguousarray(pixels[..., :3], dtype=np.float32), dtype
    except MediaError:
        raise
    except Exception as err:  # noqa: BLE001 — the bindings raise RuntimeError, ValueError,
        # UnicodeDecodeError... on damaged files; all of them mean "unreadable EXR".
        raise MediaError(
            f"The EXR file '{label}' is damaged or not an OpenEXR image "
            f"({type(err).__name__}: {str(err)[:120]}). Export the frame again."
        ) from err


def read_exr(path: str | Path) -> np.ndarray:
    """Read an OpenEXR image as an (H, W, 3) float32 array of linear light.

    RGB/RGBA images keep their RGB (alpha dropped); luminance-only ``Y`` images are repeated
    into three channels. NaN/Inf samples are returned as stored. Any failure on a damaged
    or non-EXR file raises MediaError, never a crash.
    """
    p = Path(path)
    if not p.is_file():
        raise MediaError(f"The EXR file '{p}' does not exist. Choose the frame again.")
    if p.stat().st_size == 0:
        raise MediaError(f"The EXR file '{p.name}' is empty (0 bytes). Export the frame again.")
    return _decode_exr(str(p), p.name)[0]


def _exr_members(zf: zipfile.ZipFile, label: str) -> list[str]:
    names = sorted(
        n
        for n in zf.namelist()
        if n.lower().endswith(".exr") and not n.endswith("/") and "__MACOSX" not in n
    )
    if not names:
        raise MediaError(f"The ZIP '{label}' contains no .exr frames. Choose the EXR frames ZIP.")
    return names


def _open_zip(zip_path: str | Path) -> zipfile.ZipFile:
    p = Path(zip_path)
    if not p.is_file():
        raise MediaError(f"The ZIP file '{p}' does not exist.")
    if p.stat().st_size == 0:
        raise MediaError(f"The ZIP file '{p.name}' is empty (0 bytes). Download it again.")
    try:
        return zipfile.ZipFile(p)
    except (zipfile.BadZipFile, OSError) as err:
        raise MediaError(
            f"The file '{p.name}' is not a readable ZIP archive ({err}). Download it again."
        ) from err


def _iter_zip_exrs(zip_path: str | Path) -> Iterator[tuple[str, np.ndarray, str]]:
    """Yield (member name, (H, W, 3) float32, stored dtype) one frame at a time."""
    label = Path(zip_path).name
    with _open_zip(zip_path) as zf:
        for name in _exr_members(zf, label):
            try:
                data = zf.read(name)
            except (zipfile.BadZipFile, OSError, EOFError) as err:
                raise MediaError(
                    f"The frame '{name}' in '{label}' cannot be extracted ({err}); the ZIP "
                    "looks truncated. Download it again."
                ) from err
            rgb, dtype = _decode_exr(io.BytesIO(data), f"{label}:{name}")
            yield name, rgb, dtype


def exr_zip_summary(zip_path: str | Path) -> ExrZipSummary:
    """Count and inspect the EXR frames in a ZIP, reading one frame at a time.

    Returns frame count, the first frame's width/height in pixels and stored dtype, and the
    largest finite value over all frames. Raises MediaError for a bad ZIP or a damaged frame.
    """
    count, width, height, dtype, peak = 0, 0, 0, "", -math.inf
    for _name, rgb, stored in _iter_zip_exrs(zip_path):
        if count == 0:
            height, width, dtype = rgb.shape[0], rgb.shape[1], stored
        finite = rgb[np.isfinite(rgb)]
        if finite.size:
            peak = max(peak, float(finite.max()))
        count += 1
    return ExrZipSummary(count, width, height, dtype, peak if count and peak > -math.inf else 0.0)


def _block_downscale(rgb: np.ndarray, factor: int) -> np.ndarray:
    """Average ``factor``×``factor`` blocks (box filter): cheap anti-aliased shrink in float."""
    h, w = (rgb.shape[0] // factor) * factor, (rgb.shape[1] // factor) * factor
    view = rgb[:h, :w].reshape(h // factor, factor, w // factor, factor, 3)
    return view.mean(axis=(1, 3), dtype=np.float32)


def make_exr_zip_preview(
    zip_path: str | Path,
    dst: str | Path,
    *,
    fps: float,
    progress: Progress | None = None,
    max_height: int | None = 1080,
) -> Path:
    """Turn a ZIP of linear EXR frames into a browser-playable H.264 yuv420p MP4.

    Frames are read one at a time in name order. Linear value 1.0 is taken as SDR diffuse
    white and placed at 203 nits (ITU-R BT.2408), tone mapped with
    :func:`transfer.tone_map_sdr` and sRGB encoded (IEC 61966-2-1); BT.709/sRGB primaries are
    assumed. ``fps`` in frames/s; output at most ``max_height`` pixels tall. Returns ``dst``.
    Raises MediaError for a bad ZIP or damaged frame.
    """
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with _open_zip(zip_path) as zf:
        total = len(_exr_members(zf, Path(zip_path).name))
    writer: H264Writer | None = None
    try:
        for index, (_name, rgb, _dtype) in enumerate(_iter_zip_exrs(zip_path)):
            if writer is None:
                width, height = _scaled_size(rgb.shape[1], rgb.shape[0], max_height)
                writer = H264Writer(dst, width=width, height=height, fps=fps)
            factor = rgb.shape[0] // writer.height
            if factor >= 2:
                rgb = _block_downscale(rgb, factor)
            rgb = np.nan_to_num(rgb, nan=0.0, posinf=1e4, neginf=0.0)
            sdr = transfer.tone_map_sdr(rgb * np.float32(EXR_WHITE_NITS), source_peak_nits=1000.0)
            rgb8 = np.rint(transfer.srgb_encode(sdr) * 255.0).astype(np.uint8)
            writer.write_rgb(rgb8)
            if progress:
                progress((index + 1) / total)
        if writer is None:
            raise MediaError(f"The ZIP '{Path(zip_path).name}' contains no EXR frames.")
        writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    return dst
