"""Frame-exact segments of a clip, cut once: what the sampler sends instead of the whole clip.

A segment is the frames ``[first, first + count)`` of the source's video stream, counted in
presentation order (frame 0 is the first frame shown). :func:`cut_segment` writes it as an
MP4 and decides how:

- **stream copy** (no quality loss, milliseconds) when the cut needs no decoding: the first
  frame is a keyframe and the segment's packets are one unbroken run in decode order — no
  frame of the segment is decoded after a frame outside it, so nothing inside refers to
  anything outside (checked from the packets' own timestamps, not assumed from the codec);
- **re-encode** (H.264 at a high quality, the source's frame rate, chroma format and colour
  tags) otherwise, e.g. when the segment starts between keyframes or B-frames straddle its
  end.

Audio packets whose time falls inside the segment are copied either way. Files are named by
the source's content hash and the frame range, so the same segment is cut once. PyAV only;
nothing is decoded to plan a cut.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from studio.checksums import file_sha256
from studio.errors import MediaError

Progress = Callable[[float], None]

MIN_LENGTH_S = 1.0  # the sampler's segment bounds (issue 7 §3: "length 1–5 s")
MAX_LENGTH_S = 5.0
# Re-encoded segments stand in for the source in front of a paid model: keep them close to
# visually lossless (x264 CRF 12) rather than small.
SEGMENT_CRF = 12
_ENCODABLE = ("yuv420p", "yuvj420p", "yuv422p", "yuv444p")


@dataclass(frozen=True)
class Segment:
    """A cut segment: ``path`` (MP4), frames ``first_frame`` … ``first_frame + frame_count``
    of the source at ``fps`` frames/s; ``start_s`` / ``duration_s`` in seconds of the source
    timeline; ``copied`` True when stream-copied, False when re-encoded."""

    path: Path
    first_frame: int
    frame_count: int
    fps: float
    copied: bool

    @property
    def start_s(self) -> float:
        return self.first_frame / self.fps

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps


def frame_range(fps: float, total_frames: int, start_s: float, length_s: float
                ) -> tuple[int, int]:
    """``(first_frame, frame_count)`` for a segment starting at ``start_s`` seconds and
    lasting ``length_s`` seconds of a clip of ``total_frames`` frames at ``fps`` frames/s.

    The start is rounded to the nearest frame and the length to whole frames. Raises
    ``MediaError`` when the length is outside 1–5 s or the segment does not fit in the clip
    (a sentence says how long the clip is)."""
    if not math.isfinite(start_s) or not math.isfinite(length_s) or fps <= 0:
        raise MediaError("The segment needs a finite start and length.")
    if not MIN_LENGTH_S <= length_s <= MAX_LENGTH_S:
        raise MediaError(f"A segment lasts {MIN_LENGTH_S:g}–{MAX_LENGTH_S:g} s "
                         f"(got {length_s:g} s).")
    first = max(0, round(start_s * fps))
    count = max(1, round(length_s * fps))
    if first + count > total_frames:
        raise MediaError(
            f"A {length_s:g} s segment starting at {start_s:g} s runs past the end of the clip "
            f"({total_frames} frames, {total_frames / fps:.2f} s): start it at "
            f"{max(0.0, (total_frames - count) / fps):.2f} s or earlier.")
    return first, count


def segment_path(src: Path, cache_dir: Path, first_frame: int, frame_count: int) -> Path:
    """Where the segment of ``src`` is cached: named by content hash and frame range."""
    return Path(cache_dir) / f"{file_sha256(src)[:20]}-f{first_frame}-n{frame_count}.mp4"


def cut_segment(src: str | Path, cache_dir: str | Path, *, start_s: float, length_s: float,
                progress: Progress | None = None) -> Segment:
    """Cut ``length_s`` seconds of ``src`` from ``start_s`` (see :func:`frame_range`) into
    ``cache_dir``, once: an existing cut of the same content and frames is reused.

    Returns the :class:`Segment`. Raises ``MediaError`` for an unreadable source or a
    segment outside the clip; a failed cut leaves no file behind."""
    src = Path(src)
    with _open(src) as container:
        stream = _video(container, src)
        rate = Fraction(stream.average_rate or stream.guessed_rate or 0)
        if rate <= 0:
            raise MediaError(f"The clip '{src.name}' does not say its frame rate.")
        packets = _video_packets(container, stream)
    fps = float(rate)
    first, count = frame_range(fps, len(packets), start_s, length_s)
    dest = segment_path(src, Path(cache_dir), first, count)
    copy = can_copy(packets, first, count)
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        try:
            if copy:
                _copy(src, part, packets, first, count)
                # A keyframe flag and a clean decode order are necessary, not sufficient (a
                # stream may still refer across them): keep the copy only when every frame
                # decodes to exactly the source's pixels.
                copy = _same_frames(src, part, first, count, progress)
            if not copy:
                _reencode(src, part, first, count, rate, progress)
            part.replace(dest)
        except av.error.FFmpegError as exc:
            part.unlink(missing_ok=True)
            raise MediaError(f"The segment of '{src.name}' could not be written "
                             f"({type(exc).__name__}: {exc}).") from exc
        except BaseException:
            part.unlink(missing_ok=True)
            raise
    else:
        copy = _is_copy(dest)
    if progress:
        progress(1.0)
    return Segment(dest, first, count, fps, copy)


# -- planning -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Packet:
    pts: int
    dts: int | None
    key: bool  # decoding can start here: an IDR / IRAP picture, or any frame of intra codecs
    order: int  # position in decode order


def _open(src: Path) -> Any:
    try:
        return av.open(str(src))
    except (av.error.FFmpegError, OSError) as exc:
        raise MediaError(f"The clip '{src.name}' cannot be read ({exc}).") from exc


def _video(container: Any, src: Path) -> Any:
    if not container.streams.video:
        raise MediaError(f"The file '{src.name}' has no video stream.")
    return container.streams.video[0]


def _video_packets(container: Any, stream: Any) -> list[_Packet]:
    """Every video packet with a timestamp, sorted by presentation time (index = frame)."""
    codec = stream.codec_context.name
    length_size = _nal_length_size(stream.codec_context.extradata, codec)
    out = []
    for order, packet in enumerate(p for p in container.demux(stream) if p.pts is not None):
        key = bool(packet.is_keyframe) and _starts_clean(bytes(packet), codec, length_size)
        out.append(_Packet(int(packet.pts), packet.dts, key, order))
    if not out:
        raise MediaError("The clip has no video frames.")
    return sorted(out, key=lambda p: p.pts)


# A container's "keyframe" flag is not enough for H.264/HEVC: an open-GOP I picture is
# flagged too, yet the pictures after it may refer to pictures before it. Decoding starts
# cleanly only at an IDR (H.264 nal_unit_type 5, ITU-T H.264 Table 7-1) or an IRAP picture
# (HEVC nal_unit_type 16-23, ITU-T H.265 Table 7-1; the leading pictures of a CRA are caught
# by the decode-order check in can_copy).
_H264_IDR = 5
_HEVC_IRAP = range(16, 24)


def _nal_length_size(extradata: bytes | None, codec: str) -> int:
    """Bytes of each NAL length prefix in avcC/hvcC-framed packets (4 unless said)."""
    if not extradata:
        return 4
    if codec == "h264" and len(extradata) > 4 and extradata[0] == 1:
        return (extradata[4] & 3) + 1
    if codec == "hevc" and len(extradata) > 21 and extradata[0] == 1:
        return (extradata[21] & 3) + 1
    return 4


def _nal_types(data: bytes, codec: str, length_size: int) -> list[int]:
    """The nal_unit_type of each NAL unit in one packet (Annex B or length-prefixed)."""
    headers: list[int] = []
    if data[:4] == b"\0\0\0\1" or data[:3] == b"\0\0\1":
        i = 0
        while True:
            i = data.find(b"\0\0\1", i)
            if i < 0 or i + 3 >= len(data):
                break
            headers.append(data[i + 3])
            i += 3
    else:
        i = 0
        while i + length_size < len(data):
            size = int.from_bytes(data[i:i + length_size], "big")
            if size <= 0:
                break
            headers.append(data[i + length_size])
            i += length_size + size
    if codec == "hevc":
        return [(h >> 1) & 0x3F for h in headers]
    return [h & 0x1F for h in headers]


def _starts_clean(data: bytes, codec: str, length_size: int) -> bool:
    """Whether decoding can start at this (container-flagged key) packet."""
    if codec == "h264":
        return _H264_IDR in _nal_types(data, codec, length_size)
    if codec == "hevc":
        return any(t in _HEVC_IRAP for t in _nal_types(data, codec, length_size))
    return True  # intra-only and other codecs: the container's flag is the codec's


def can_copy(packets: list[_Packet], first: int, count: int) -> bool:
    """True when frames ``[first, first + count)`` can be stream-copied: the first frame is
    a keyframe that is also the first of them in decode order, and the segment's packets are
    consecutive in decode order (no outside frame decodes between them, so none of them can
    refer to one)."""
    inside = packets[first:first + count]
    orders = sorted(p.order for p in inside)
    if not inside[0].key or orders[0] != inside[0].order:
        return False
    return orders[-1] - orders[0] + 1 == len(orders)


# -- writing --------------------------------------------------------------------------------
def _copy(src: Path, dest: Path, packets: list[_Packet], first: int, count: int) -> None:
    wanted = {p.pts for p in packets[first:first + count]}
    start_pts = packets[first].pts
    with av.open(str(src)) as inp, av.open(str(dest), "w", format="mp4",
                                          options={"movflags": "+faststart"}) as out:
        vin: Any = inp.streams.video[0]
        vout = out.add_stream_from_template(vin)
        audio = _audio_plan(inp, out, vin, start_pts, count / float(vin.average_rate))
        shift = start_pts  # the segment's first frame is shown at 0
        for packet in inp.demux(vin, *[a for a, _, _ in audio]):
            if packet.stream is vin:
                if packet.pts is None or packet.pts not in wanted:
                    continue
                packet.pts -= shift
                if packet.dts is not None:
                    packet.dts -= shift
                packet.stream = vout
                out.mux(packet)
            else:
                _mux_audio(out, packet, audio)


def _reencode(src: Path, dest: Path, first: int, count: int, rate: Fraction,
              progress: Progress | None) -> None:
    dest.unlink(missing_ok=True)
    with av.open(str(src)) as inp, av.open(str(dest), "w", format="mp4",
                                          options={"movflags": "+faststart"}) as out:
        out.metadata["comment"] = "segment:reencoded"
        vin: Any = inp.streams.video[0]
        vin.thread_type = "AUTO"
        cc_in = vin.codec_context
        pix_fmt = cc_in.pix_fmt if cc_in.pix_fmt in _ENCODABLE else "yuv420p"
        vout: Any = out.add_stream("libx264", rate=rate, options={
            "crf": str(SEGMENT_CRF), "preset": "veryfast", "x264-params": "log-level=error"})
        vout.width, vout.height, vout.pix_fmt = cc_in.width, cc_in.height, pix_fmt
        cc = vout.codec_context
        for name in ("color_primaries", "color_trc", "colorspace", "color_range"):
            value = getattr(cc_in, name, None)
            if value is not None:
                setattr(cc, name, value)
        start_time = first / float(rate)
        start_pts = _seconds_to_pts(start_time, vin.time_base)
        audio = _audio_plan(inp, out, vin, start_pts, count / float(rate))
        written = 0
        index = 0
        # Decode from the start: sources are short (the sampler's are clips of minutes), and
        # counting frames from the first one is what makes the cut frame-exact.
        for packet in inp.demux(vin, *[a for a, _, _ in audio]):
            if packet.stream is not vin:
                _mux_audio(out, packet, audio)
                continue
            decoded: Any
            for decoded in packet.decode():
                frame = decoded
                if first <= index < first + count:
                    if frame.format.name != pix_fmt:
                        frame = frame.reformat(format=pix_fmt)
                    frame.pts = written
                    frame.time_base = Fraction(1) / rate
                    for encoded in vout.encode(frame):
                        out.mux(encoded)
                    written += 1
                    if progress:
                        progress(min(0.99, written / count))
                index += 1
            if written >= count and not audio:
                break
        for encoded in vout.encode():
            out.mux(encoded)
        if written != count:
            raise MediaError(f"Only {written} of the segment's {count} frames could be "
                             f"decoded from '{src.name}'; the clip looks damaged.")


def _decoded(path: Path) -> Any:
    """Frames of ``path``'s first video stream in presentation order (a generator)."""
    container = av.open(str(path))
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        yield from container.decode(stream)
    finally:
        container.close()


def _same_frames(src: Path, cut: Path, first: int, count: int,
                 progress: Progress | None) -> bool:
    """True when ``cut`` decodes to exactly frames ``[first, first + count)`` of ``src``,
    plane by plane (both decoded from their first frame)."""
    import numpy as np

    theirs, ours = _decoded(cut), _decoded(src)
    matched = 0
    try:
        for index, frame in enumerate(ours):
            if index < first:
                continue
            if index >= first + count:
                break
            other = next(theirs, None)
            if other is None or other.format.name != frame.format.name or \
                    (other.width, other.height) != (frame.width, frame.height):
                return False
            for a, b in zip(frame.planes, other.planes, strict=True):
                if not np.array_equal(np.frombuffer(a, np.uint8), np.frombuffer(b, np.uint8)):
                    return False
            matched += 1
            if progress:
                progress(min(0.99, matched / count / 2))
        return matched == count and next(theirs, None) is None
    finally:
        theirs.close()
        ours.close()


def _is_copy(path: Path) -> bool:
    """Whether a cached segment was stream-copied (re-encodes carry our encoder's tag)."""
    with av.open(str(path)) as container:
        return "segment:reencoded" not in (container.metadata.get("comment") or "")


def _seconds_to_pts(seconds: float, time_base: Fraction) -> int:
    return round(Fraction(seconds).limit_denominator(10**6) / time_base)


def _audio_plan(inp: Any, out: Any, vin: Any, start_pts: int, length_s: float
                ) -> list[tuple[Any, Any, tuple[int, int]]]:
    """``(input stream, output stream, (first pts, end pts))`` per audio stream to copy."""
    plan = []
    start_s = float((start_pts - (vin.start_time or 0)) * vin.time_base)
    for a in inp.streams.audio[:1]:  # one track is what previews and models use
        if a.time_base is None:
            continue
        try:
            aout = out.add_stream_from_template(a)
        except (ValueError, av.error.FFmpegError):
            continue  # a codec MP4 cannot hold: leave the audio out rather than fail
        base = a.start_time or 0
        lo = base + _seconds_to_pts(start_s, a.time_base)
        hi = base + _seconds_to_pts(start_s + length_s, a.time_base)
        plan.append((a, aout, (lo, hi)))
    return plan


def _mux_audio(out: Any, packet: Any, plan: list[tuple[Any, Any, tuple[int, int]]]) -> None:
    for ain, aout, (lo, hi) in plan:
        if packet.stream is not ain or packet.pts is None or not lo <= packet.pts < hi:
            continue
        packet.pts -= lo
        if packet.dts is not None:
            packet.dts -= lo
        packet.stream = aout
        out.mux(packet)


__all__ = ["MAX_LENGTH_S", "MIN_LENGTH_S", "Segment", "can_copy", "cut_segment",
           "frame_range", "segment_path"]
