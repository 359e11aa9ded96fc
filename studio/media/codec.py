"""Codec helpers: decode frames, encode browser-playable H.264, and the reference SDR chain.

This module owns the small encode/decode pieces the previews and the sandbox's processing
share: :func:`iter_frames` (threaded decode, failures as MediaError), :class:`H264Writer`
(H.264 yuv420p MP4, constant rate, faststart, optional audio), :func:`yuv_matrix` (which
Y'CbCr matrix to decode a clip with), and :class:`SdrConverter`, today's per-pixel HDR → SDR
chain (PQ EOTF or HLG OOTF → ITU-R BT.2390 tone map → BT.2087 primaries → BT.1886). The
fast previews in :mod:`studio.media.previews` are held to :class:`SdrConverter` by tests.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np
from av.video.reformatter import ColorRange, Colorspace, Interpolation

from studio.errors import MediaError
from studio.media import transfer
from studio.media.probe import ClipInfo, is_hdr, short_error

_short = short_error

#: Audio codecs copied into preview MP4s as they are (browsers play both in MP4).
COPYABLE_AUDIO = frozenset({"aac", "mp3"})

#: x264's (and x265's) speed presets, fastest first (``x264 --help``: "--preset").
ENCODER_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                   "slower", "veryslow", "placebo")


def encoder_preset(env_var: str, default: str = "veryfast") -> str:
    """The x264/x265 speed preset named by the environment variable ``env_var`` (one of
    :data:`ENCODER_PRESETS`, any case), else ``default``. A faster preset encodes in less
    CPU time and makes larger files at the same CRF; pictures and timing are otherwise the
    same. Raises ValueError naming the valid presets for any other value."""
    value = (os.environ.get(env_var) or default).strip().lower()
    if value not in ENCODER_PRESETS:
        raise ValueError(f"{env_var}={value!r} is not an x264 speed preset; use one of "
                         + ", ".join(ENCODER_PRESETS) + ".")
    return value


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

    ``audio_from`` is an input audio stream whose sound the file keeps: AAC and MP3 packets
    are copied as they are (:meth:`mux_audio`), anything else (PCM, Opus, AC-3…) is decoded
    and re-encoded to AAC-LC, which every browser plays in MP4.
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
        audio_from: Any | None = None,
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
        self.audio: Any = None
        self._audio_copy = False
        self._audio_fifo: Any = None
        self._resampler: Any = None
        if audio_from is not None:
            self._add_audio(audio_from)

    # -- audio -------------------------------------------------------------------------------
    def _add_audio(self, template: Any) -> None:
        name = template.codec_context.name
        if name in COPYABLE_AUDIO:
            self.audio = self.container.add_stream_from_template(template)
            self._audio_copy = True
            return
        rate = int(template.codec_context.sample_rate or 48000)
        if rate not in (44100, 48000):
            rate = 48000
        self.audio = self.container.add_stream("aac", rate=rate)
        self.audio.codec_context.layout = "stereo"
        self._resampler = av.AudioResampler(format="fltp", layout="stereo", rate=rate)
        self._audio_fifo = av.AudioFifo()

    def mux_audio(self, packet: Any, *, offset_s: float = 0.0, end_s: float | None = None) -> None:
        """Copy (or re-encode) one audio packet of the ``audio_from`` stream into the file.

        ``offset_s`` seconds are taken off its time (the source's first video frame time, so
        sound and picture stay in sync); packets starting at or after ``end_s`` are dropped.
        """
        if self.audio is None or packet.dts is None or packet.pts is None:
            return
        tb = packet.time_base
        start = float(packet.pts * tb) - offset_s
        if start < -1e-6 and packet.duration and start + float(packet.duration * tb) <= 0:
            return  # wholly before the first picture
        if end_s is not None and start >= end_s - 1e-6:
            return
        if self._audio_copy:
            shift = int(round(offset_s / tb)) if tb else 0
            packet.pts -= shift
            packet.dts -= shift
            packet.stream = self.audio
            self.container.mux(packet)
            return
        for frame in packet.decode():
            frame.pts = None
            for out in self._resampler.resample(frame):
                self._audio_fifo.write(out)
            self._drain_audio(final=False)

    def _drain_audio(self, *, final: bool) -> None:
        size = self.audio.codec_context.frame_size or 1024
        while self._audio_fifo.samples >= size or (final and self._audio_fifo.samples):
            frame = self._audio_fifo.read(min(size, self._audio_fifo.samples))
            if frame is None:
                break
            for packet in self.audio.encode(frame):
                self.container.mux(packet)
        if final:
            for packet in self.audio.encode(None):
                self.container.mux(packet)

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
            if self._audio_fifo is not None:
                self._drain_audio(final=True)
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



def scaled_size(width: int, height: int, max_height: int | None) -> tuple[int, int]:
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


#: Nominal peak of the HDR masters the previews assume (cd/m²): the HLG OOTF's display peak
#: (ITU-R BT.2100 Table 5, Lw) and the BT.2390 tone map's source peak.
PREVIEW_SOURCE_PEAK_NITS = 1000.0


def sdr_from_hdr_signal(
    signal: np.ndarray,
    transfer_name: str,
    *,
    wide_gamut: bool = True,
    peak_nits: float = PREVIEW_SOURCE_PEAK_NITS,
    exposure_stops: float = 0.0,
) -> np.ndarray:
    """Today's reference HDR → SDR chain on R'G'B' signals: (..., 3) in 0–1 → SDR linear 0–1.

    PQ (``"smpte2084"``): SMPTE ST 2084 EOTF to cd/m². HLG (``"arib-std-b67"``): ITU-R
    BT.2100 inverse OETF, then the OOTF at ``peak_nits``. Then ``exposure_stops`` (light
    × 2^stops), the ITU-R BT.2390 EETF tone map from ``peak_nits`` with HDR reference white
    (203 cd/m², BT.2408) at SDR 100 % (:func:`transfer.tone_map_sdr`), and with
    ``wide_gamut`` the BT.2020 → BT.709 matrix (ITU-R BT.2087), clipped to 0–1. Encode the
    result with :func:`transfer.bt1886_inverse_eotf`.
    """
    if transfer_name == "smpte2084":
        nits = transfer.pq_eotf(signal)
        nits = np.broadcast_to(nits, np.shape(signal))
    else:
        nits = transfer.hlg_ootf(transfer.hlg_inverse_oetf(signal), peak_nits=peak_nits)
    if exposure_stops:
        nits = nits * np.float32(2.0**exposure_stops)
    sdr = transfer.tone_map_sdr(nits, source_peak_nits=peak_nits)
    if wide_gamut:
        sdr = np.clip(transfer.apply_matrix(sdr, transfer.BT2020_TO_BT709), 0.0, 1.0)
    return sdr.astype(np.float32)


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
    if space == "bt709" or (not space and (clip.coded_height or clip.height) >= 720):
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

