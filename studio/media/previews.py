"""Browser-playable previews at the speed of ffmpeg: HDR, 4:4:4, 10-bit, ProRes and EXR.

This module owns what turns a file a browser cannot play into one it can: an H.264 yuv420p
MP4, BT.709 SDR, faststart, with the source's sound.

* HDR (PQ, HLG) video: swscale to 16-bit R'G'B' (the reference chain's own call), then an
  FFmpeg filter graph (PyAV): ``lut3d`` with a 3D LUT **baked from today's per-pixel chain**
  (:func:`studio.media.codec.sdr_from_hdr_signal`: EOTF or HLG OOTF → BT.2390 tone map →
  BT.2087 matrix → BT.1886), tetrahedral interpolation, then swscale to yuv420p. The LUT is
  built once per transfer function and kept on disk. Tests hold it to the reference chain
  (mean CIEDE2000 ≤ 1).
* SDR sources that browsers cannot decode (4:4:4, 10-bit, ProRes, HEVC) are only resampled.
* A display-matrix rotation is applied (``transpose``), so previews play upright.
* EXR sequences: half-float frames are tone mapped with lookup tables indexed by the half
  float's 16-bit pattern (same formula as before: 1.0 = 203 cd/m², BT.2390, sRGB).
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np
from av.video.reformatter import ColorRange, Colorspace, Interpolation, VideoReformatter

from studio.errors import MediaError
from studio.media import transfer
from studio.media.codec import (
    PREVIEW_SOURCE_PEAK_NITS,
    H264Writer,
    SdrConverter,
    encoder_preset,
    fps_fraction,
    iter_frames,
    scaled_size,
    sdr_from_hdr_signal,
    yuv_matrix,
)
from studio.media.probe import (
    PRIMARIES_NAMES,
    TRC_NAMES,
    ClipInfo,
    code_for,
    is_hdr,
    label_of,
    open_video,
    probe,
    short_error,
    video_stream,
)

Progress = Callable[[float], None]

#: Points per axis of the HDR → SDR 3D LUT (65³ ≈ 275 k entries, tetrahedral interpolation).
LUT_SIZE = 65
#: Bump when the reference chain changes, so cached LUT files are rebuilt.
LUT_VERSION = 1
#: x264 speed preset and quality of previews (the bench compares at the same preset).
#: ``STUDIO_PREVIEW_PRESET`` chooses another preset (e.g. ``ultrafast`` on a slow machine).
PREVIEW_PRESET = encoder_preset("STUDIO_PREVIEW_PRESET")
PREVIEW_CRF = 20
#: Linear EXR value 1.0 is SDR diffuse white, shown at HDR reference white (ITU-R BT.2408).
EXR_WHITE_NITS = transfer.HDR_REFERENCE_WHITE_NITS

_SWS_MATRIX = {1: "bt709", 5: "bt601", 6: "bt601", 9: "bt2020", 10: "bt2020"}
_PLANAR_RGB = "gbrp16le"  # 16-bit R'G'B' as three planes: what the HDR preview graph works on
_TRANSPOSE = {90: ["transpose=clock"], 180: ["hflip", "vflip"], 270: ["transpose=cclock"]}


# ================================ The 3D LUT =====================================================


def sdr_lut_table(transfer_name: str, *, size: int = LUT_SIZE, exposure_stops: float = 0.0
                  ) -> np.ndarray:
    """The HDR → SDR 3D LUT as a (size³, 3) float32 array, red varying fastest (.cube order).

    Input grid: BT.2020 R'G'B' signal (PQ or HLG) from 0 to 1 on each axis. Output: BT.709
    R'G'B' for a BT.1886 display, 0–1, i.e. :func:`~studio.media.codec.sdr_from_hdr_signal`
    followed by :func:`transfer.bt1886_inverse_eotf`; ``exposure_stops`` scales the light
    by 2^stops before the tone map.
    """
    axis = np.linspace(0.0, 1.0, size, dtype=np.float32)
    b, g, r = np.meshgrid(axis, axis, axis, indexing="ij")
    signal = np.stack([r, g, b], axis=-1).reshape(-1, 3)
    sdr = sdr_from_hdr_signal(signal, transfer_name, wide_gamut=True,
                              exposure_stops=exposure_stops)
    return transfer.bt1886_inverse_eotf(sdr).astype(np.float32)


def lut_dir() -> Path:
    """Where baked LUT files are kept: ``$STUDIO_LUT_DIR`` or the system temp folder."""
    return Path(os.environ.get("STUDIO_LUT_DIR") or Path(tempfile.gettempdir()) / "vestudio-luts")


def sdr_lut_file(transfer_name: str, *, size: int = LUT_SIZE, exposure_stops: float = 0.0
                 ) -> Path:
    """The Adobe/Resolve ``.cube`` file of :func:`sdr_lut_table`, written once and reused."""
    stops = round(float(exposure_stops), 2)
    key = f"{transfer_name}-{size}-{stops:+.2f}-{LUT_VERSION}"
    tag = hashlib.sha256(key.encode()).hexdigest()[:12]
    path = lut_dir() / f"sdr-{transfer_name}-{size}-{tag}.cube"
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    table = sdr_lut_table(transfer_name, size=size, exposure_stops=stops)
    buf = io.StringIO()
    buf.write(f"TITLE \"{transfer_name} BT.2020 to SDR BT.709 (BT.2390)\"\nLUT_3D_SIZE {size}\n")
    np.savetxt(buf, table, fmt="%.6f")
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(buf.getvalue(), encoding="ascii")
    os.replace(tmp, path)  # atomic: a concurrent preview never reads half a file
    return path


def _escape(value: str) -> str:
    """Escape a value for an FFmpeg filter option (``\\``, ``:`` and ``'`` are special)."""
    return value.replace("\\", "\\\\").replace(":", "\\:").replace("'", "\\'")


# ================================ Frame pipeline =================================================


class FramePipeline:
    """Decoded source frames → yuv420p BT.709 SDR frames of ``width`` × ``height``, upright.

    One FFmpeg filter graph per clip (PyAV): ``transpose`` for a display rotation, swscale
    (bicubic) to the size, and for HDR sources the baked ``lut3d``. ``run`` takes a decoded
    frame and returns the frames ready to encode (usually one).
    """

    def __init__(self, clip: ClipInfo, template: Any, width: int, height: int):
        self.clip, self.width, self.height = clip, width, height
        self.hdr = is_hdr(clip)
        turned = clip.rotation in (90, 270)
        # HDR: Y'CbCr → 16-bit R'G'B' with the reference chain's swscale call (PyAV reformat,
        # threaded), so the two differ only by the LUT; the graph does the rest. Planar
        # (gbrp16le) rather than the reference's packed rgb48le: the same values, and
        # FFmpeg's lut3d and swscale run twice as fast on planes (bench/sdr_preview_speed.py).
        self.rgb_size = (height, width) if turned else (width, height)
        self._reformatter = VideoReformatter()  # keeps one swscale context for the clip
        graph = av.filter.Graph()
        graph.threads = 0  # automatic: lut3d and swscale slices use every core
        if self.hdr:
            w0, h0 = self.rgb_size
            tb = template.time_base or Fraction(1, 1000)
            chain: list[Any] = [graph.add_buffer(
                width=w0, height=h0, format=av.VideoFormat(_PLANAR_RGB), time_base=tb)]
        else:
            chain = [graph.add_buffer(template=template)]
        src_matrix = "bt2020" if self.hdr else _SWS_MATRIX.get(int(yuv_matrix(clip)), "bt709")
        steps = list(_TRANSPOSE.get(clip.rotation, []))
        if self.hdr:
            lut = sdr_lut_file(clip.color_transfer or "smpte2084")
            steps += [
                f"lut3d=file='{_escape(str(lut))}':interp=tetrahedral",
                "scale=out_color_matrix=bt709:out_range=tv:in_range=pc",
            ]
        else:
            steps += [
                f"scale=w={width}:h={height}:flags=bicubic:in_color_matrix={src_matrix}"
                ":out_color_matrix=bt709"
            ]
        steps.append("format=yuv420p")
        for step in steps:
            name, _, args = step.partition("=")
            chain.append(graph.add(name, args or None))
        chain.append(graph.add("buffersink"))
        for a, b in zip(chain, chain[1:], strict=False):
            a.link_to(b)
        graph.configure()
        self.graph = graph

    def _rgb16(self, frame: Any) -> Any:
        w0, h0 = self.rgb_size
        out = self._reformatter.reformat(
            frame, width=w0, height=h0, format=_PLANAR_RGB, interpolation=Interpolation.BICUBIC,
            src_colorspace=Colorspace.BT2020, src_color_range=ColorRange.MPEG, threads=0,
        )  # fmt: skip
        out.pts, out.time_base = frame.pts, frame.time_base
        return out

    def run(self, frame: Any | None) -> list[Any]:
        """Push one decoded frame (``None`` at the end) and return what comes out."""
        self.graph.vpush(self._rgb16(frame) if (self.hdr and frame is not None) else frame)
        out = []
        while True:
            try:
                out.append(self.graph.vpull())
            except (av.error.BlockingIOError, av.error.EOFError):
                return out


class SdrView:
    """One HDR frame → an (H, W, 3) uint8 BT.709 SDR picture through the baked LUT.

    The same chain as the previews (and the same swscale call as the reference), at
    ``exposure_stops`` (light × 2^stops before the tone map); for the inspector's SDR view.
    """

    def __init__(self, clip: ClipInfo, width: int, height: int, *, exposure_stops: float = 0.0):
        if not is_hdr(clip):
            raise MediaError("The SDR view is for PQ or HLG clips.")
        self.width, self.height = width, height
        self.graph = av.filter.Graph()
        src = self.graph.add_buffer(width=width, height=height, format=av.VideoFormat("rgb48le"),
                                    time_base=Fraction(1, 1000))
        lut = sdr_lut_file(clip.color_transfer or "smpte2084", exposure_stops=exposure_stops)
        f = self.graph.add("lut3d", f"file='{_escape(str(lut))}':interp=tetrahedral")
        sink = self.graph.add("buffersink")
        self._reformatter = VideoReformatter()
        src.link_to(f)
        f.link_to(sink)
        self.graph.configure()

    def rgb8(self, frame: Any) -> np.ndarray:
        rgb = self._reformatter.reformat(
            frame, width=self.width, height=self.height, format="rgb48le",
            interpolation=Interpolation.BICUBIC, src_colorspace=Colorspace.BT2020,
            src_color_range=ColorRange.MPEG, threads=0,
        )  # fmt: skip
        rgb.pts, rgb.time_base = 0, Fraction(1, 1000)
        self.graph.vpush(rgb)
        out = self.graph.vpull().to_ndarray(format="rgb48le")
        return ((out.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


# ================================ Previews =======================================================


def _transcode_h264(
    src: str | Path,
    dst: str | Path,
    *,
    max_height: int | None,
    max_frames: int | None,
    progress: Progress | None,
    keep_audio: bool = True,
    preset: str = PREVIEW_PRESET,
) -> Path:
    clip = probe(src)
    width, height = scaled_size(clip.width, clip.height, max_height)
    total = min(clip.frame_count, max_frames) if max_frames else clip.frame_count
    # SDR keeps the source's primaries and transfer (unknown → BT.709); HDR is tone mapped to
    # BT.709. The Y'CbCr matrix is always BT.709: the pipeline converts to it.
    tags = (1, 1, 1)
    if not is_hdr(clip):
        tags = (
            code_for(PRIMARIES_NAMES, clip.color_primaries),
            code_for(TRC_NAMES, clip.color_transfer),
            1,
        )
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    label = label_of(src)
    with open_video(src) as container:
        stream = video_stream(container, label)
        stream.thread_type = "AUTO"
        audio = container.streams.audio[0] if keep_audio and container.streams.audio else None
        # Keep the exact source rate (e.g. 45000/1499) so the duration matches to the tick.
        rate = stream.average_rate
        fps = Fraction(rate) if rate else fps_fraction(clip.fps)
        start_s = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
        end_s = float(max_frames / fps) if max_frames else None
        pipeline = FramePipeline(clip, stream, width, height)
        with H264Writer(
            dst, width=width, height=height, fps=fps, preset=preset, crf=PREVIEW_CRF,
            color_primaries=tags[0], color_trc=tags[1], colorspace=tags[2], audio_from=audio,
        ) as writer:  # fmt: skip
            done = False
            for packet in container.demux(*(s for s in (stream, audio) if s is not None)):
                if packet.stream.type == "audio":
                    writer.mux_audio(packet, offset_s=start_s, end_s=end_s)
                    if done and packet.pts is not None and end_s is not None and float(
                        packet.pts * packet.time_base
                    ) - start_s > end_s:
                        break
                    continue
                if done:
                    continue
                for frame in _decode(packet, label, writer.frames):
                    for out in pipeline.run(frame):
                        if max_frames and writer.frames >= max_frames:
                            break
                        writer.write(out)
                    if progress:
                        progress(min(writer.frames / max(total, 1), 1.0))
                    if max_frames and writer.frames >= max_frames:
                        done = True
                        break
                if done and audio is None:
                    break
            if not done:
                for out in pipeline.run(None):
                    if not max_frames or writer.frames < max_frames:
                        writer.write(out)
            if writer.frames == 0:
                raise MediaError(f"The video '{label}' has no decodable frames; it looks damaged.")
    if progress:
        progress(1.0)
    return dst


def _decode(packet: Any, label: str, index: int) -> Iterator[Any]:
    try:
        yield from packet.decode()
    except av.error.FFmpegError as err:
        raise MediaError(
            f"The video '{label}' could not be decoded after frame {index} ({short_error(err)}); "
            "it looks truncated or damaged. Export it again."
        ) from err


def make_sdr_preview(
    src: str | Path,
    dst: str | Path,
    *,
    progress: Progress | None = None,
    max_height: int | None = 1080,
    keep_audio: bool = True,
    preset: str = PREVIEW_PRESET,
) -> Path:
    """Write a browser-playable copy of ``src``: H.264 yuv420p MP4, BT.709 SDR, faststart.

    HDR (PQ/HLG, BT.2020) is tone mapped to SDR through the baked 3D LUT (see the module
    docstring); yuv444p, 10-bit, ProRes or HEVC SDR is resampled to 8-bit 4:2:0. A display
    rotation is applied. The picture is scaled down to at most ``max_height`` pixels tall
    keeping the aspect ratio (even sizes). Same frame rate and frame count as the source;
    with ``keep_audio`` the first audio track is kept (AAC/MP3 copied, others → AAC).
    ``progress`` gets 0–1. Returns ``dst``. Raises MediaError when ``src`` is unreadable.
    """
    return _transcode_h264(
        src, dst, max_height=max_height, max_frames=None, progress=progress,
        keep_audio=keep_audio, preset=preset,
    )  # fmt: skip


def trim_clip(
    src: str | Path, dst: str | Path, *, max_frames: int, progress: Progress | None = None
) -> Path:
    """Re-encode the first ``max_frames`` frames of ``src`` as an H.264 yuv420p MP4 at full size.

    Used to fit a clip under a model's frame cap (e.g. LTX direct's 181 frames). Same frame
    rate, sound kept up to the cut; HDR sources are tone mapped to SDR. Returns ``dst``.
    Raises MediaError.
    """
    if max_frames < 1:
        raise MediaError("Keep at least one frame when trimming a clip.")
    return _transcode_h264(src, dst, max_height=None, max_frames=max_frames, progress=progress)


def thumbnail(source: str | Path, *, max_width: int = 480) -> bytes:
    """PNG bytes of the clip's first frame, upright, at most ``max_width`` pixels wide.

    Decodes exactly one frame; HDR sources go through the reference tone-mapping chain
    (:class:`~studio.media.codec.SdrConverter`). Raises MediaError when unreadable.
    """
    from PIL import Image  # Pillow comes with Streamlit; imported here to keep import cheap

    clip = probe(source)
    width, height = clip.width, clip.height
    if width > max_width:
        width, height = max_width, max(2, round(clip.height * max_width / clip.width))
    turned = clip.rotation in (90, 270)
    converter = SdrConverter(clip, *((height, width) if turned else (width, height)))
    label = label_of(source)
    with open_video(source) as container:
        stream = video_stream(container, label)
        for frame in iter_frames(container, stream, label=label):
            rgb = converter.rgb8(frame)
            break
        else:
            raise MediaError(
                f"The video '{label}' has no decodable frame; it looks damaged. Export it again."
            )
    if clip.rotation:
        rgb = np.ascontiguousarray(np.rot90(rgb, k=-(clip.rotation // 90)))
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


# ================================ EXR sequence previews ==========================================


class ExrToneMapper:
    """Linear EXR RGB → 8-bit sRGB for screens and previews, with tables, not power laws.

    Formula (the reference, as :func:`transfer.tone_map_sdr` + :func:`transfer.srgb_encode`):
    light in cd/m² = value × ``white_nits`` × 2^``exposure_stops``; the ITU-R BT.2390 EETF on
    max(R, G, B) from ``peak_nits`` (hue kept), HDR reference white at SDR 100 %; sRGB
    (IEC 61966-2-1). NaN counts as 0 and +Inf as the brightest value. For half floats the
    per-pixel gain is one table lookup on the 16-bit pattern of max(R, G, B).
    """

    def __init__(
        self,
        *,
        white_nits: float = EXR_WHITE_NITS,
        exposure_stops: float = 0.0,
        peak_nits: float = PREVIEW_SOURCE_PEAK_NITS,
    ):
        self.white_nits, self.exposure_stops, self.peak_nits = white_nits, exposure_stops, peak_nits
        self.scale = float(white_nits * 2.0**exposure_stops)
        halves = np.arange(65536, dtype=np.uint16).view(np.float16).astype(np.float32)
        halves = np.nan_to_num(halves, nan=0.0, posinf=65504.0, neginf=0.0)
        self.gain = self._gain(np.maximum(halves, 0.0))  # indexed by the half's bit pattern
        self.srgb = np.rint(
            transfer.srgb_encode(np.linspace(0.0, 1.0, 4096, dtype=np.float32)) * 255.0
        ).astype(np.uint8)

    def _gain(self, m: np.ndarray) -> np.ndarray:
        """SDR linear output of max(R,G,B) divided by max(R,G,B): the per-pixel RGB gain."""
        rgb = np.repeat(m[:, None], 3, axis=1) * np.float32(self.scale)
        out = transfer.tone_map_sdr(rgb, source_peak_nits=self.peak_nits)[:, 0]
        return np.where(m > 0, out / np.maximum(m, np.float32(1e-30)), 0.0).astype(np.float32)

    def rgb8(self, rgb: np.ndarray) -> np.ndarray:
        """(H, W, 3) linear RGB (float16 or float32) → (H, W, 3) uint8 sRGB."""
        if rgb.dtype == np.float16:
            m = np.fmax(np.fmax(rgb[..., 0], rgb[..., 1]), rgb[..., 2])
            gain = np.take(self.gain, m.view(np.uint16))
        else:
            clean = np.nan_to_num(rgb.astype(np.float32, copy=False), nan=0.0, posinf=1e4)
            m = np.maximum(np.maximum(clean[..., 0], clean[..., 1]), clean[..., 2])
            gain = self._gain(np.maximum(m.ravel(), 0.0)).reshape(m.shape)
            rgb = clean
        lin = rgb * gain[..., None]  # float32
        np.nan_to_num(lin, copy=False, nan=0.0, posinf=1.0, neginf=0.0)
        idx = np.clip(lin, 0.0, 1.0, out=lin)
        idx *= 4095.0
        idx += 0.5
        return np.take(self.srgb, idx.astype(np.uint16))


def make_exr_zip_preview(
    zip_path: str | Path,
    dst: str | Path,
    *,
    fps: float,
    progress: Progress | None = None,
    max_height: int | None = 1080,
    on_damaged: Callable[[int, str], None] | None = None,
) -> Path:
    """Turn a ZIP of linear EXR frames into a browser-playable H.264 yuv420p MP4.

    Frames are read one at a time in name order, within the EXR pixel budget
    (:mod:`studio.media.exr`), placed in their display window. Linear 1.0 is SDR diffuse
    white at 203 cd/m² (ITU-R BT.2408), tone mapped with the BT.2390 EETF and sRGB encoded
    (:class:`ExrToneMapper`); BT.709/sRGB primaries are assumed. ``fps`` in frames/s;
    output at most ``max_height`` pixels tall. A damaged frame shows the previous good one
    and is reported to ``on_damaged(index, sentence)``. Returns ``dst``. Raises MediaError
    for a bad ZIP, or when no frame can be read.
    """
    from studio.media.exr import ExrSequence

    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    mapper = ExrToneMapper()
    writer: H264Writer | None = None
    try:
        with ExrSequence(zip_path) as seq:
            total = seq.frame_count
            held: np.ndarray | None = None
            pending = 0  # damaged frames before the first good one
            first_error: str | None = None
            for index in range(total):
                try:
                    frame = seq.frame(index, max_height=max_height)
                except MediaError as err:
                    first_error = first_error or str(err)
                    if on_damaged:
                        on_damaged(index, str(err))
                    if held is None:
                        pending += 1
                    elif writer is not None:
                        writer.write_rgb(held)
                    continue
                rgb8 = mapper.rgb8(frame.rgb)
                if writer is None:
                    w, h = scaled_size(rgb8.shape[1], rgb8.shape[0], max_height)
                    writer = H264Writer(dst, width=w, height=h, fps=fps)
                for _ in range(pending):
                    writer.write_rgb(rgb8)
                pending = 0
                held = rgb8
                writer.write_rgb(rgb8)
                if progress:
                    progress((index + 1) / total)
            if writer is None:
                raise MediaError(
                    f"No frame of '{Path(zip_path).name}' could be read: {first_error}"
                    if first_error
                    else f"The ZIP '{Path(zip_path).name}' contains no EXR frames."
                )
            writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    return dst
