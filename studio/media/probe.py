"""Probing clips: what a file or http(s) URL holds, read from its headers.

This module owns :class:`ClipInfo` and :func:`probe`, plus the checks that turn a file a
person picked by mistake (empty, an image, text, cut off, no video track, a Matroska file
whose frames stop short of its stated duration) into a sentence. URLs are read through a
bounded reader: an overall deadline and a byte cap, so an endless live stream gets a sentence
and stops being read. Rotation comes from the MP4/MOV track header's display matrix
(ISO/IEC 14496-12 §8.3.2), so width and height are what a player shows.
"""

from __future__ import annotations

import io
import math
import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import av
import av.error
import requests

from studio.errors import MediaError

#: Seconds PyAV waits to connect to, then to read from, an http(s) source before giving up.
URL_TIMEOUT_S = (15.0, 30.0)
#: Overall seconds a URL probe may take, however the server trickles bytes.
URL_DEADLINE_S = 30.0
#: Bytes a URL probe may read in all (header, index, packet counting).
URL_MAX_BYTES = 64 * 1024 * 1024
#: Transfer characteristics that mean HDR (ffmpeg names; ITU-T H.273 values 16 and 18).
HDR_TRANSFERS = frozenset({"smpte2084", "arib-std-b67"})
#: A Matroska/WebM whose last frame ends this many seconds (and 5 %) before its stated
#: duration is flagged as truncated.
TRUNCATION_SLACK_S = 1.0

# ITU-T H.273 code points → the names ffmpeg/ffprobe print (libavutil/pixdesc.c tables).
TRC_NAMES = {
    1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "linear",
    9: "log100", 10: "log316", 11: "iec61966-2-4", 12: "bt1361e", 13: "iec61966-2-1",
    14: "bt2020-10", 15: "bt2020-12", 16: "smpte2084", 17: "smpte428", 18: "arib-std-b67",
}  # fmt: skip
PRIMARIES_NAMES = {
    1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "film",
    9: "bt2020", 10: "smpte428", 11: "smpte431", 12: "smpte432", 22: "ebu3213",
}  # fmt: skip
SPACE_NAMES = {
    0: "gbr", 1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "ycgco",
    9: "bt2020nc", 10: "bt2020c", 11: "smpte2085", 12: "chroma-derived-nc",
    13: "chroma-derived-c", 14: "ictcp",
}  # fmt: skip
RANGE_NAMES = {1: "tv", 2: "pc"}  # AVColorRange: MPEG (limited) / JPEG (full)
# Demuxers ffmpeg uses for still images and text; they "open" but are not videos.
_STILL_FORMATS = ("image2", "tty", "gif", "apng", "webp_pipe")
_STILL_CODECS = frozenset({"png", "bmp", "tiff", "webp", "ansi", "bintext", "xbin", "idf"})


# ================================ Data types =====================================================


@dataclass(frozen=True)
class ClipInfo:
    """What the headers say about a video clip.

    Attributes:
        duration_s: length in seconds (for a truncated Matroska file: what its frames cover).
        width, height: picture size in pixels **as displayed**, i.e. after the display
            matrix's rotation (a portrait phone clip stored 1920×1080 with a 90° matrix is
            1080×1920 here). Output geometry and pricing use these.
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
        rotation: degrees (0, 90, 180, 270) the stored picture is turned **clockwise** for
            display, from the track's display matrix (or the legacy ``rotate`` tag).
        coded_width, coded_height: the stored picture size in pixels (before rotation).
        color_range: ``"tv"`` (limited/narrow), ``"pc"`` (full) or ``None`` if unstated.
        chroma_subsampling: ``"4:2:0"``, ``"4:2:2"``, ``"4:4:4"`` or ``""`` if unknown.
        stated_duration_s: the duration the container header states, when it differs from
            ``duration_s`` (a truncated file), else ``None``.
        truncated: the frames stop well short of the stated duration (see ``notes``).
        notes: sentences a person should read about this clip (truncation, estimates).
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
    coded_width: int = 0
    coded_height: int = 0
    color_range: str | None = None
    chroma_subsampling: str = ""
    stated_duration_s: float | None = None
    truncated: bool = False
    notes: tuple[str, ...] = ()


# ================================ Small helpers ==================================================


def is_url(source: str | Path) -> bool:
    """True for an ``http://`` or ``https://`` string (the only URLs probes fetch)."""
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


def label_of(source: str | Path) -> str:
    """What to call ``source`` in a sentence: the URL, or the file's name (never its folder)."""
    return str(source) if is_url(source) else Path(source).name


def _color_name(table: dict[int, str], value: Any) -> str | None:
    try:
        return table.get(int(value))
    except (TypeError, ValueError):
        return None


def code_for(table: dict[int, str], name: str | None, default: int = 1) -> int:
    """ITU-T H.273 code point for an ffmpeg colour name; ``default`` (BT.709) when unknown."""
    for code, value in table.items():
        if value == name:
            return code
    return default


def short_error(err: BaseException) -> str:
    """The first clause of an exception's text, for a sentence (no paths or tracebacks)."""
    text = getattr(err, "strerror", None) or str(err)
    return str(text).split(":")[0].strip().rstrip(".") or type(err).__name__


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


# ================================ Display matrix (ISO/IEC 14496-12 tkhd) =========================


def _boxes(fh: IO[bytes] | io.RawIOBase, start: int, end: int) -> Any:
    """Yield (type, payload start, box end) for the boxes in [start, end) of an ISO BMFF file."""
    pos = start
    while pos + 8 <= end:
        fh.seek(pos)
        header = fh.read(16)
        if len(header) < 8:
            return
        size, kind = struct.unpack(">I4s", header[:8])
        body = pos + 8
        if size == 1 and len(header) >= 16:
            size, body = struct.unpack(">Q", header[8:16])[0], pos + 16
        elif size == 0:
            size = end - pos
        if size < 8:
            return
        yield kind, body, min(pos + size, end)
        pos += size


def isobmff_rotation(fh: IO[bytes] | io.RawIOBase, size: int) -> int | None:
    """Clockwise display rotation (0/90/180/270) of the first video track of an MP4/MOV.

    Reads the ``tkhd`` matrix (ISO/IEC 14496-12 §8.3.2: a, b, u, c, d, v, x, y, w with a,
    b, c, d in 16.16 fixed point) of the track whose ``hdlr`` is ``vide``. The clockwise
    angle is atan2(b, a), the rule ffmpeg's ``autorotate`` applies. ``None`` when the file
    has no such track. Reads a few hundred bytes through ``fh`` (seek + read).
    """
    moov = next(((b, e) for k, b, e in _boxes(fh, 0, size) if k == b"moov"), None)
    if moov is None:
        return None
    for kind, body, end in _boxes(fh, *moov):
        if kind != b"trak":
            continue
        matrix = None
        is_video = False
        for sub, sbody, send in _boxes(fh, body, end):
            if sub == b"tkhd":
                fh.seek(sbody)
                version = fh.read(1)[:1]
                skip = 4 + (32 if version == b"\x01" else 20) + 8  # times, ids, duration
                fh.seek(sbody + skip + 8)  # + layer, group, volume, reserved
                raw = fh.read(36)
                if len(raw) == 36:
                    matrix = struct.unpack(">9i", raw)
            elif sub == b"mdia":
                for leaf, lbody, _lend in _boxes(fh, sbody, send):
                    if leaf == b"hdlr":
                        fh.seek(lbody + 8)  # version/flags, pre_defined
                        is_video = fh.read(4) == b"vide"
        if is_video and matrix is not None:
            a, b = matrix[0] / 65536.0, matrix[1] / 65536.0
            if a == 0 and b == 0:
                return 0
            return int(round(math.degrees(math.atan2(b, a)) / 90.0)) * 90 % 360
    return None


# ================================ Bounded URL reading ============================================


class ProbeLimitError(MediaError):
    """A URL probe hit its overall deadline or byte cap (an endless or huge stream)."""


class BoundedHttpReader(io.RawIOBase):
    """A seekable, read-only file over an http(s) URL with an overall deadline and byte cap.

    PyAV reads through it (``av.open(reader)``). Seeks become ``Range`` requests when the
    server supports them; otherwise a forward seek skips and a backward one starts again,
    all counted against ``max_bytes``. Every read checks the deadline first, and sockets
    wait at most the time left, so a server that trickles bytes cannot hold a probe past
    ``deadline_s`` (plus one connect). Raises :class:`ProbeLimitError` with a sentence.
    """

    CHUNK = 64 * 1024

    def __init__(
        self,
        url: str,
        *,
        deadline_s: float = URL_DEADLINE_S,
        max_bytes: int = URL_MAX_BYTES,
        timeout: tuple[float, float] = URL_TIMEOUT_S,
    ):
        super().__init__()
        self.url = url
        self.deadline = time.monotonic() + deadline_s
        self.deadline_s, self.max_bytes, self.timeout = deadline_s, max_bytes, timeout
        self.total = 0
        self.size: int | None = None
        self.ranges = False
        self._pos = 0  # logical position
        self._stream_pos = 0  # where the open response body is
        self._resp: requests.Response | None = None
        self._session = requests.Session()
        self._open(0)

    # -- requests ------------------------------------------------------------------------
    def _left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ProbeLimitError(
                f"Stopped reading {self.url} after {self.deadline_s:.0f} s ({self.total:,} bytes): "
                "it looks like a live or endless stream, or the server is very slow. Use a "
                "link to a finished video file, or download the clip and choose the file."
            )
        return left

    def _open(self, start: int) -> None:
        self._close_resp()
        left = self._left()
        try:
            resp = self._session.get(
                self.url,
                headers={"Range": f"bytes={start}-", "Accept-Encoding": "identity"},
                stream=True,
                timeout=(min(self.timeout[0], left), min(self.timeout[1], left)),
                allow_redirects=True,
            )
        except requests.RequestException as err:
            raise MediaError(
                f"Could not read the video at {self.url} ({short_error(err)}). Check that the "
                "link is public and still valid, or download the clip and choose the file."
            ) from err
        if resp.status_code not in (200, 206):
            resp.close()
            raise MediaError(
                f"Could not read the video at {self.url} (the server answered HTTP "
                f"{resp.status_code}). Check that the link is public and still valid."
            )
        self._resp = resp
        if resp.status_code == 206:
            self.ranges = True
            total = resp.headers.get("Content-Range", "").rpartition("/")[2]
            self.size = int(total) if total.isdigit() else self.size
            self._stream_pos = start
        else:
            length = resp.headers.get("Content-Length", "")
            self.size = int(length) if length.isdigit() else self.size
            self._stream_pos = 0

    def _close_resp(self) -> None:
        if self._resp is not None:
            self._resp.close()
            self._resp = None

    def _raw_read(self, n: int) -> bytes:
        assert self._resp is not None
        self._left()
        raw = self._resp.raw
        try:
            data = raw.read1(n) if hasattr(raw, "read1") else raw.read(n)
        except Exception as err:  # noqa: BLE001 — urllib3/socket errors all mean "cut off"
            raise MediaError(
                f"The connection to {self.url} dropped while reading the video "
                f"({short_error(err)}). Try again, or download the clip and choose the file."
            ) from err
        self.total += len(data)
        self._stream_pos += len(data)
        if self.total > self.max_bytes:
            raise ProbeLimitError(
                f"Stopped reading {self.url} after {self.total / 1e6:.0f} MB without finding "
                "what a probe needs: it looks like a live or endless stream, or a very large "
                "file whose index is at the end. Use a link to a finished, web-optimised "
                "video file, or download the clip and choose the file."
            )
        return data

    # -- io.RawIOBase ----------------------------------------------------------------------
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        # A body of unknown size without range support (a live stream) can only be read on.
        return self.ranges or self.size is not None

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            target = offset
        elif whence == os.SEEK_CUR:
            target = self._pos + offset
        else:
            if self.size is None:
                raise OSError("size unknown")
            target = self.size + offset
        self._pos = max(0, target)
        return self._pos

    def read(self, size: int = -1) -> bytes:
        n = self.CHUNK if size is None or size < 0 else min(size, self.CHUNK)
        if self.size is not None and self._pos >= self.size:
            return b""
        if self._pos != self._stream_pos or self._resp is None:
            gap = self._pos - self._stream_pos
            if self._resp is not None and 0 < gap <= 256 * 1024:
                while self._stream_pos < self._pos:  # a short forward skip: read through
                    if not self._raw_read(min(self.CHUNK, self._pos - self._stream_pos)):
                        return b""
            elif self.ranges or self._pos == 0:
                self._open(self._pos)
            else:
                if gap < 0 or self._resp is None:
                    self._open(0)
                while self._stream_pos < self._pos:
                    if not self._raw_read(min(self.CHUNK, self._pos - self._stream_pos)):
                        return b""
            if self._pos != self._stream_pos:  # the server ignored Range on a later request
                self._open(0)
                while self._stream_pos < self._pos:
                    if not self._raw_read(min(self.CHUNK, self._pos - self._stream_pos)):
                        return b""
        data = self._raw_read(n)
        self._pos += len(data)
        return data

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._close_resp()
        self._session.close()
        super().close()


# ================================ Opening ========================================================


def open_video(source: str | Path, *, reader: BoundedHttpReader | None = None) -> Any:
    """Open a local path or http(s) URL for reading with PyAV; failures become MediaError.

    Local files are checked first (exists, not empty, not an image/text, not cut off), so the
    message can say what is wrong. URLs are read through a :class:`BoundedHttpReader`
    (``reader``, or a new one with :data:`URL_DEADLINE_S` and :data:`URL_MAX_BYTES`); the
    container owns it and closes it. Returns a PyAV input container (a context manager).
    """
    if is_url(source):
        reader = reader or BoundedHttpReader(str(source))
        try:
            container = av.open(reader, mode="r")
        except MediaError:
            reader.close()
            raise
        except (av.error.FFmpegError, OSError) as err:
            reader.close()
            raise MediaError(
                f"Could not read the video at {source} ({short_error(err)}). Check that the "
                "link is public and still valid, or download the clip and choose the file."
            ) from err
        return container
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
                f"cannot be read ({short_error(err)}). Copy or export the clip again."
            ) from err
        raise MediaError(
            f"The file '{path.name}' is not a video ({short_error(err)}). "
            "Choose an MP4, MOV or MKV clip."
        ) from err


def video_stream(container: Any, label: str) -> Any:
    """The first video stream of ``container``; MediaError for stills, text or audio-only."""
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


def probe(
    source: str | Path, *, deadline_s: float = URL_DEADLINE_S, max_bytes: int = URL_MAX_BYTES
) -> ClipInfo:
    """Describe a clip from its container and stream headers.

    ``source`` is a local path or an http(s) URL. Normally nothing is decoded: when the
    container does not state the frame count or duration (e.g. Matroska), packets are
    counted by demuxing without decoding; only when the headers lack the picture size or
    pixel format (an MP4 indexed at the end, streamed without range requests) is the first
    frame decoded. A URL probe reads at most ``max_bytes`` bytes and takes at most
    ``deadline_s`` seconds in all. Rotation comes from the display matrix.

    Raises MediaError for a missing, empty, truncated or non-video file, or one without a
    video track; :class:`ProbeLimitError` (a MediaError) when a URL probe hits its limits
    before the clip could be measured (a live stream has no duration to fall back on).
    """
    label = label_of(source)
    url = is_url(source)
    reader = BoundedHttpReader(str(source), deadline_s=deadline_s, max_bytes=max_bytes) if url \
        else None
    notes: list[str] = []
    truncated = False
    stated: float | None = None
    with open_video(source, reader=reader) as container:
        size_bytes = None if url else Path(source).stat().st_size
        stream = video_stream(container, label)
        cc = stream.codec_context
        width, height = int(cc.width or 0), int(cc.height or 0)
        pix_fmt = cc.pix_fmt or ""
        trc, primaries, space = cc.color_trc, cc.color_primaries, cc.colorspace
        crange = cc.color_range
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
            try:
                counted, last_end, start = _count_packets(container, stream)
            except ProbeLimitError:
                if duration_s <= 0 or fps <= 0:
                    raise
                counted, last_end, start = 0, 0.0, 0.0
                notes.append(
                    f"The frame count of {label} is estimated from its stated duration and "
                    "frame rate: the file is too large to count its frames over the network."
                )
            if counted and duration_s > 0 and (container.format.name or "").startswith(
                "matroska"
            ):
                covered = max(last_end - start, 0.0)
                if duration_s - covered > max(TRUNCATION_SLACK_S, 0.05 * duration_s):
                    truncated, stated = True, round(duration_s, 6)
                    notes.append(
                        f"The video looks truncated: '{label}' says it lasts "
                        f"{duration_s:.1f} s but its frames stop at {covered:.1f} s, so the "
                        "copy or recording probably stopped early. Only the first "
                        f"{covered:.1f} s can be used; export or copy the clip again for all "
                        "of it."
                    )
                    duration_s = covered
            frame_count = frame_count if frame_count > 0 else (
                counted or int(round(duration_s * fps))
            )
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
        rotation = _legacy_rotation(stream)
    if not pix_fmt or not width or not height:
        # The header alone did not say (e.g. an MP4 with its index at the end): decode the
        # first frame, and only that one.
        try:
            frame = _first_frame(source, label, deadline_s=deadline_s, max_bytes=max_bytes)
        except MediaError:
            # Streamed from a server without range requests, such a file cannot be decoded
            # at all; size and timing are still known, so report the pixel format as unknown.
            if not width or not height:
                raise
        else:
            width, height, pix_fmt = frame.width, frame.height, frame.format.name
            trc, primaries, space = frame.color_trc, frame.color_primaries, frame.colorspace
            crange = frame.color_range
            rotation = (-int(frame.rotation or 0)) % 360 or rotation
    matrix_rotation = _matrix_rotation(source, container_name, deadline_s, max_bytes)
    if matrix_rotation is not None:
        rotation = matrix_rotation
    shown_w, shown_h = (height, width) if rotation in (90, 270) else (width, height)
    return ClipInfo(
        duration_s=round(duration_s, 6),
        width=shown_w,
        height=shown_h,
        fps=fps,
        frame_count=frame_count,
        codec=codec,
        pix_fmt=pix_fmt,
        color_transfer=_color_name(TRC_NAMES, trc),
        color_primaries=_color_name(PRIMARIES_NAMES, primaries),
        color_space=_color_name(SPACE_NAMES, space),
        bit_depth=bit_depth(pix_fmt),
        has_audio=has_audio,
        container=container_name,
        size_bytes=size_bytes,
        rotation=rotation,
        coded_width=width,
        coded_height=height,
        color_range=_color_name(RANGE_NAMES, crange),
        chroma_subsampling=chroma_subsampling(pix_fmt),
        stated_duration_s=stated,
        truncated=truncated,
        notes=tuple(notes),
    )


def _matrix_rotation(
    source: str | Path, container_name: str, deadline_s: float, max_bytes: int
) -> int | None:
    if not container_name.startswith("mov"):
        return None
    try:
        if is_url(source):
            with BoundedHttpReader(str(source), deadline_s=deadline_s,
                                   max_bytes=max_bytes) as fh:
                if fh.size is None:
                    return None
                return isobmff_rotation(fh, fh.size)
        path = Path(source)
        with path.open("rb") as fh:
            return isobmff_rotation(fh, path.stat().st_size)
    except (OSError, struct.error, MediaError):
        return None


def _first_frame(source: str | Path, label: str, **limits: Any) -> Any:
    from studio.media.codec import iter_frames

    reader = BoundedHttpReader(str(source), **limits) if is_url(source) else None
    with open_video(source, reader=reader) as container:
        stream = video_stream(container, label)
        for frame in iter_frames(container, stream, label=label):
            return frame
    raise MediaError(
        f"The video '{label}' has no decodable picture; it may be damaged. Export it again."
    )


def bit_depth(pix_fmt: str) -> int:
    """Bits per luma sample of an ffmpeg pixel format (8 when unknown)."""
    try:
        return int(av.VideoFormat(pix_fmt).components[0].bits)
    except (ValueError, TypeError, IndexError):
        return 8


def chroma_subsampling(pix_fmt: str) -> str:
    """``"4:2:0"``, ``"4:2:2"``, ``"4:4:4"`` (RGB counts as 4:4:4), ``"4:1:1"`` or ``""`` for
    an ffmpeg pixel format name."""
    name = pix_fmt or ""
    for prefix, value in (
        ("yuv420", "4:2:0"), ("yuvj420", "4:2:0"), ("yuva420", "4:2:0"), ("nv12", "4:2:0"),
        ("nv21", "4:2:0"), ("p010", "4:2:0"), ("p016", "4:2:0"), ("yuv422", "4:2:2"),
        ("yuvj422", "4:2:2"), ("yuva422", "4:2:2"), ("nv16", "4:2:2"), ("p210", "4:2:2"),
        ("y210", "4:2:2"), ("uyvy", "4:2:2"), ("yuyv", "4:2:2"), ("yuv444", "4:4:4"),
        ("yuvj444", "4:4:4"), ("yuva444", "4:4:4"), ("p410", "4:4:4"), ("yuv411", "4:1:1"),
        ("gbr", "4:4:4"), ("rgb", "4:4:4"), ("bgr", "4:4:4"),
    ):  # fmt: skip
        if name.startswith(prefix):
            return value
    return ""


def _legacy_rotation(stream: Any) -> int:
    # Older muxers wrote a "rotate" tag (clockwise degrees); the display matrix wins.
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


def _count_packets(container: Any, stream: Any) -> tuple[int, float, float]:
    """Count video packets by demuxing (no decoding).

    Returns (count, end time of the last packet in seconds, start time of the first).
    """
    count, end, start = 0, 0.0, math.inf
    try:
        for packet in container.demux(stream):
            if packet.size == 0:  # the flush packet demux yields at the end
                continue
            count += 1
            if packet.pts is not None and packet.time_base is not None:
                t0 = float(packet.pts * packet.time_base)
                t = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                end = max(end, t)
                start = min(start, t0)
    except av.error.FFmpegError:
        pass  # a damaged tail: keep what was counted; decoding will report the damage
    return count, end, (0.0 if start == math.inf else start)


def is_hdr(clip: ClipInfo) -> bool:
    """True when the clip is tagged PQ (SMPTE ST 2084) or HLG (ARIB STD-B67)."""
    return (clip.color_transfer or "") in HDR_TRANSFERS


def browser_playable(clip: ClipInfo) -> bool:
    """True when every mainstream browser can play the clip in a ``<video>`` tag as is.

    That means H.264 with 8-bit 4:2:0 (``yuv420p``/``yuvj420p``) and SDR transfer; High
    4:4:4, 10-bit, HEVC and ProRes are not reliably decoded by browsers.
    """
    return clip.codec == "h264" and clip.pix_fmt in ("yuv420p", "yuvj420p") and not is_hdr(clip)
