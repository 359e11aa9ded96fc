"""The sandbox's stand-in models: really process a clip the way each endpoint's output looks.

This module owns what the local sandbox does with a source clip for each model id, so the
dashboard sees files with the right size, frame rate, duration, codec and HDR tagging:

* Starlight / Rhea (upscalers): swscale resize to the tier, re-time to ``target_fps``
  (nearest frame, or a blend of the two neighbours with ``interpolate_frames``), H.264 MP4
  with the source's audio. Rhea also applies cheap versions of its look knobs
  (sharpen/soften, noise, grain).
* Hyperion (SDR → HDR): BT.1886 decode, inverse tone map, BT.709 → BT.2020, PQ or HLG,
  BT.2020 NCL Y'CbCr 10-bit; HEVC Main 10 MP4 or ProRes 422 MOV with the source's audio.
  The colour tags are in the container and in every frame: the HEVC VUI, and each ProRes
  frame header's primaries / transfer / matrix bytes (SMPTE RDD 36). PQ HEVC also carries
  HDR10 static metadata as SEI: mastering display (BT.2020 primaries, D65, 0.0001–1000
  cd/m²) and content light level (MaxCLL / MaxFALL measured on the output, CTA-861.3).
* LTX 2.3 on Oxen: centre-crop + resize to the output geometry, ``num_frames`` frames at
  ``frames_per_second``; half-float linear EXR frames in a ZIP plus an H.264 SDR preview,
  with an audio track unless ``generate_audio`` is false (:mod:`sandbox.audio`).
* LTX direct: half-float linear EXR frames at input size, one per input frame; no audio.

These four are :data:`PROCESSORS`, by key (``upscale``, ``hyperion``, ``ltx_oxen``,
``ltx_direct``); an endpoint added by a model file names the one that runs it
(:func:`assign`; Rhea's look knobs stay Rhea's).

Output size and timing always come from :func:`sandbox.models.output_geometry`, the rule the
sandbox also bills by (:mod:`sandbox.prices`). Work is frame by frame (one or two decoded
frames in memory). Decode/encode helpers and the colour math come through
:mod:`sandbox.codec`.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import OpenEXR
from av.video.reformatter import ColorPrimaries, ColorRange, Colorspace, ColorTrc, Interpolation

from sandbox import audio, codec, models
from sandbox.codec import MediaError, transfer

__all__ = ["Cancelled", "Output", "process"]

Progress = Callable[[float], None]

#: libx264 constant-rate factor for sandbox outputs (visually lossless-ish, small files).
H264_CRF = 20
#: libx265 CRF for the HDR outputs.
H265_CRF = 20
#: Oxen's ``output_profile`` names → prores_ks ``profile`` numbers (FFmpeg prores_ks docs:
#: 0 proxy, 1 lt, 2 standard, 3 hq).
PRORES_PROFILES = {"422 Proxy": 0, "422 LT": 1, "422 Std": 2, "422 HQ": 3}
#: HDR10 mastering display for x265's ``master-display``: BT.2020 primaries and D65 white in
#: units of 0.00002 (G, B, R, WP; ITU-R BT.2020 table 3: G 0.170/0.797, B 0.131/0.046,
#: R 0.708/0.292, D65 0.3127/0.3290) and luminance max/min in 0.0001 cd/m² (1000 cd/m², the
#: lift's peak; 0.0001 cd/m²). SMPTE ST 2086 carriage, as HEVC's mastering display SEI.
MASTERING_DISPLAY = "G(8500,39850)B(6550,2300)R(35400,14600)WP(15635,16450)L(10000000,1)"
#: BT.709 / sRGB chromaticities (R, G, B, white xy; ITU-R BT.709-6 item 1.3) for EXR headers.
BT709_CHROMATICITIES = (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290)
#: EXR linear 1.0 = SDR diffuse white = HDR reference white (ITU-R BT.2408): nits / 203.
EXR_WHITE_NITS = transfer.HDR_REFERENCE_WHITE_NITS


class Cancelled(Exception):
    """``should_cancel()`` turned true; processing stopped and partial files were removed."""


class UnknownModel(ValueError):
    """The sandbox has no processor for this model id."""


@dataclass(frozen=True)
class Output(models.Geometry):
    """What :func:`process` wrote: the output :class:`~sandbox.models.Geometry` actually
    written (pixels, frames/s, frames; ``duration_s``) plus its files.

    ``files`` maps a label to a path in ``out_dir``: ``"video"`` → output.mp4 / output.mov,
    ``"exr_frames"`` → frames_exr.zip. ``has_audio``: the video file has an audio track.
    """

    files: dict[str, Path]
    has_audio: bool = False


@dataclass
class _Job:
    model_id: str
    params: Mapping[str, Any]
    source: Path
    out_dir: Path
    clip: Any  # codec.ClipInfo
    geometry: models.Geometry
    preset: str
    should_cancel: Callable[[], bool]
    progress: Progress | None
    source_rate: Fraction | None

    def tick(self, done: int, total: int) -> None:
        """Check for cancellation, then report progress (0–1)."""
        if self.should_cancel():
            raise Cancelled()
        if self.progress:
            self.progress(min(done / max(total, 1), 1.0))

    def out_rate(self) -> Fraction:
        """The output frame rate as a fraction; the source's exact rate when unchanged."""
        fps = float(self.geometry.fps)
        if self.source_rate and abs(float(self.source_rate) - fps) < 1e-6:
            return self.source_rate
        return codec.fps_fraction(fps)


def process(
    model_id: str,
    params: Mapping[str, Any],
    source: Path,
    out_dir: Path,
    *,
    preset: str = codec.DEFAULT_PRESET,
    should_cancel: Callable[[], bool] = lambda: False,
    progress: Progress | None = None,
) -> Output:
    """Run the sandbox version of ``model_id`` on ``source``, writing into ``out_dir``.

    ``params`` are already validated with defaults filled (``models.with_defaults``).
    ``preset`` is the x264/x265 speed preset. ``should_cancel`` is polled before every
    frame; ``progress`` gets a fraction 0–1. Output size/fps/frame count follow
    :func:`sandbox.models.output_geometry`.

    Raises MediaError for an unreadable source, Cancelled when ``should_cancel()`` turns
    true (partial outputs are deleted), UnknownModel for a model id without a processor.
    """
    handler = PROCESSORS.get(_PROCESSOR_OF.get(model_id, ""))
    if handler is None:
        raise UnknownModel(f"the sandbox cannot run '{model_id}'")
    source, out_dir = Path(source), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clip = codec.probe(source)
    geometry = models.output_geometry(
        model_id,
        width=clip.width,
        height=clip.height,
        fps=clip.fps,
        frame_count=clip.frame_count,
        params=params,
    )
    with codec.open_video(source) as container:
        rate = container.streams.video[0].average_rate
    job = _Job(
        model_id=model_id,
        params=params,
        source=source,
        out_dir=out_dir,
        clip=clip,
        geometry=geometry,
        preset=preset,
        should_cancel=should_cancel,
        progress=progress,
        source_rate=Fraction(rate) if rate else None,
    )
    if should_cancel():
        raise Cancelled()
    output = handler(job)
    if progress:
        progress(1.0)
    return output


# ================================ Frame sources ==================================================


def _source_frames(job: _Job) -> Iterator[tuple[float, Any]]:
    """Decoded source frames with their time in seconds from the first frame."""
    label = job.source.name
    with codec.open_video(job.source) as container:
        stream = container.streams.video[0]
        first: float | None = None
        fallback_step = 1.0 / job.clip.fps if job.clip.fps else 0.0
        for index, frame in enumerate(codec.iter_frames(container, stream, label=label)):
            t = frame.time
            if t is None:
                t = index * fallback_step
            if first is None:
                first = t
            yield t - first, frame


@dataclass
class _Sample:
    """The source frames around an output time: ``a`` at or before it, ``b`` after it (or
    ``None`` past the end), ``weight`` of ``b`` (0–1) and the indices of both."""

    a: Any
    a_index: int
    b: Any | None
    b_index: int
    weight: float

    def nearest(self) -> tuple[int, Any]:
        if self.b is None or self.weight <= 0.5:
            return self.a_index, self.a
        return self.b_index, self.b


def _retime(job: _Job, out_fps: float, out_count: int) -> Iterator[_Sample]:
    """For output frames n = 0..out_count−1 at t = n / out_fps, the neighbouring source frames.

    Streams the source once; past its end the last frame is held. Times are compared with a
    1 µs tolerance so a source frame exactly at t (20 → 30 fps: every other output) is used
    as is rather than blended.
    """
    frames = _source_frames(job)
    try:
        a_time, a = next(frames)
    except StopIteration:
        raise MediaError(
            f"The video '{job.source.name}' has no decodable frames; it looks damaged."
        ) from None
    a_index = 0
    nxt = next(frames, None)
    for n in range(out_count):
        t = n / out_fps
        while nxt is not None and nxt[0] <= t + 1e-6:
            a_time, a = nxt
            a_index += 1
            nxt = next(frames, None)
        if nxt is None:
            yield _Sample(a, a_index, None, a_index + 1, 0.0)
            continue
        span = nxt[0] - a_time
        weight = (t - a_time) / span if span > 0 else 0.0
        yield _Sample(a, a_index, nxt[1], a_index + 1, min(max(weight, 0.0), 1.0))


class _FrameCache:
    """Remember the processed version of the last few source frames (by source index), so
    duplicated and blended output frames do not redo the resize or the colour math."""

    def __init__(self, make: Callable[[Any], Any], size: int = 3):
        self._make, self._size = make, size
        self._items: dict[int, Any] = {}

    def get(self, index: int, frame: Any) -> Any:
        if index not in self._items:
            if len(self._items) >= self._size:
                self._items.pop(next(iter(self._items)))
            self._items[index] = self._make(frame)
        return self._items[index]


# ================================ Starlight / Rhea ===============================================


def _upscale(job: _Job) -> Output:
    g = job.geometry
    interpolate = bool(job.params.get("interpolate_frames", False))
    look = _RheaLook(job.params, g.width, g.height) if job.model_id == models.RHEA else None
    src_matrix = codec.yuv_matrix(job.clip)

    def prepare(frame: Any) -> Any:
        # swscale bicubic resize straight to yuv420p. The output is HD (≥ 720 lines), so SD
        # sources move from the BT.601 to the BT.709 matrix here.
        out = frame.reformat(
            width=g.width,
            height=g.height,
            format="yuv420p",
            interpolation=Interpolation.BICUBIC,
            src_colorspace=src_matrix,
            dst_colorspace=Colorspace.ITU709,
        )
        if look is None or not look.active:
            return out
        # PyAV's yuv420p array is (H·3/2, W) uint8: the Y plane on top of U and V.
        return av.VideoFrame.from_ndarray(look.apply(out.to_ndarray()), format="yuv420p")

    cache = _FrameCache(prepare)
    path = job.out_dir / "output.mp4"
    with codec.H264Writer(
        _video_only(path), width=g.width, height=g.height, fps=job.out_rate(),
        preset=job.preset, crf=H264_CRF,
    ) as writer:
        for n, sample in enumerate(_retime(job, float(job.out_rate()), g.frame_count)):
            job.tick(n, g.frame_count)
            if interpolate and sample.b is not None and 0.0 < sample.weight < 1.0:
                planes = _blend(
                    cache.get(sample.a_index, sample.a).to_ndarray(),
                    cache.get(sample.b_index, sample.b).to_ndarray(),
                    sample.weight,
                )
                writer.write(av.VideoFrame.from_ndarray(planes, format="yuv420p"))
            else:
                # A repeated source frame is the same VideoFrame object: the encoder takes its
                # own reference when it is sent, so re-stamping pts for the copy is safe.
                writer.write(cache.get(*sample.nearest()))
        frames = writer.frames
    has_audio = _with_audio(job, writer.path, path, frames / float(job.out_rate()), "keep")
    return Output(writer.width, writer.height, float(g.fps), frames, {"video": path}, has_audio)


def _video_only(path: Path) -> Path:
    """Where the picture is written before :func:`sandbox.audio.finish` adds the sound."""
    return path.with_name(f".{path.stem}.video{path.suffix}")


def _with_audio(job: _Job, video_only: Path, dest: Path, duration_s: float, mode: str) -> bool:
    if job.should_cancel():
        video_only.unlink(missing_ok=True)
        raise Cancelled()
    return audio.finish(video_only, dest, source=job.source, duration_s=duration_s, audio=mode)


def _blend(a: np.ndarray, b: np.ndarray, weight: float) -> np.ndarray:
    """Weighted average of two uint8 frames in 8.8 fixed point: (1−w)·a + w·b."""
    wb = int(round(weight * 256))
    out = a.astype(np.uint16) * np.uint16(256 - wb)
    out += b.astype(np.uint16) * np.uint16(wb)
    out += np.uint16(128)
    return (out >> 8).astype(np.uint8)


class _RheaLook:
    """Cheap numpy imitations of Rhea's knobs, on the luma plane of yuv420p frames.

    ``details`` and ``blur`` (−1…1, higher = sharper) drive an unsharp mask (positive) or a
    soften (negative); ``noise`` > 0 adds fresh noise, < 0 smooths; ``grain`` (0–0.1) adds a
    film-grain texture (``silver_rich`` is coarser). ``compression`` and ``halo`` need real
    restoration models and are ignored. Grain comes from one pre-computed field sliced at a
    random offset per frame, so a 4K frame costs a few milliseconds rather than a full
    random draw.
    """

    MARGIN = 64

    def __init__(self, params: Mapping[str, Any], width: int, height: int):
        self.sharpen = float(
            np.clip(
                0.5 * (float(params.get("details", 0) or 0) + float(params.get("blur", 0) or 0)),
                -1.0,
                1.0,
            )
        )
        self.noise = float(params.get("noise", 0) or 0)
        self.grain = float(params.get("grain", 0) or 0)
        self.rng = np.random.default_rng(12345)
        self.field: np.ndarray | None = None
        self.height = height
        if self.grain > 0 or self.noise > 0:
            shape = (height + self.MARGIN, width + self.MARGIN)
            field = self.rng.standard_normal(shape, dtype=np.float32)
            if params.get("grain_type") == "silver_rich":
                field = _smooth(field) * np.float32(1.8)  # clumpier, similar strength
            self.field = field
        self.active = bool(self.sharpen or self.noise or self.grain)

    def apply(self, planes: np.ndarray) -> np.ndarray:
        if not self.active:
            return planes
        luma = planes[: self.height].astype(np.float32)
        if self.sharpen or self.noise < 0:
            soft = _smooth(luma)
            if self.sharpen > 0:
                luma += np.float32(1.5 * self.sharpen) * (luma - soft)
            elif self.sharpen < 0:
                luma += np.float32(-self.sharpen) * (soft - luma)
            if self.noise < 0:
                luma += np.float32(-self.noise) * (soft - luma)
        sigma = 60.0 * self.grain + (8.0 * self.noise if self.noise > 0 else 0.0)
        if sigma > 0 and self.field is not None:
            dy, dx = (int(v) for v in self.rng.integers(0, self.MARGIN, size=2))
            h, w = luma.shape
            luma += np.float32(sigma) * self.field[dy : dy + h, dx : dx + w]
        planes[: self.height] = np.clip(luma, 16, 235).astype(np.uint8)
        return planes


def _smooth(img: np.ndarray) -> np.ndarray:
    """Separable [1 2 1]/4 blur with edge replication (float32, same shape)."""
    out = img.copy()
    out[1:-1] = (img[:-2] + 2 * img[1:-1] + img[2:]) * np.float32(0.25)
    tmp = out.copy()
    out[:, 1:-1] = (tmp[:, :-2] + 2 * tmp[:, 1:-1] + tmp[:, 2:]) * np.float32(0.25)
    return out


# ================================ Hyperion (SDR → HDR) ===========================================


def _hyperion(job: _Job) -> Output:
    p = job.params
    g = job.geometry
    pq = str(p.get("transfer_function", "hlg")).lower() == "pq"
    prores = str(p.get("output_encoder", "H265")).lower() == "prores"
    width, height = g.width - g.width % 2, g.height - g.height % 2  # 4:2:x needs even sizes
    trc = ColorTrc.SMPTE2084 if pq else ColorTrc.ARIB_STD_B67
    trc_name = "smpte2084" if pq else "arib-std-b67"
    src_matrix = codec.yuv_matrix(job.clip)
    rate = job.out_rate()

    if prores:
        path = job.out_dir / "output.mov"
        pix_fmt, encoder = "yuv422p10le", "prores_ks"
        profile = PRORES_PROFILES.get(str(p.get("output_profile", "422 HQ")), 3)
        options = {"profile": str(profile), "vendor": "apl0"}
    else:
        path = job.out_dir / "output.mp4"
        pix_fmt, encoder = "yuv420p10le", "libx265"
        # The codec-context tags go into the container (colr box); x265-params also writes
        # them into the HEVC VUI so players that read only the bitstream agree.
        x265 = (f"log-level=error:colorprim=bt2020:transfer={trc_name}:colormatrix=bt2020nc"
                ":range=limited")
        if pq:  # HDR10: static metadata SEI with the first frame (CTA-861.3, SMPTE ST 2086)
            max_cll, max_fall = _light_levels(job, width, height, p)
            x265 += f":hdr10=1:master-display={MASTERING_DISPLAY}:max-cll={max_cll},{max_fall}"
        options = {"preset": job.preset, "crf": str(H265_CRF), "x265-params": x265}

    picture = _video_only(path)
    container = av.open(str(picture), mode="w", options={"movflags": "+faststart"})
    try:
        stream: Any = container.add_stream(encoder, rate=rate, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        cc = stream.codec_context
        cc.color_primaries = int(ColorPrimaries.BT2020)
        cc.color_trc = int(trc)
        cc.colorspace = 9  # bt2020nc (ITU-T H.273 MatrixCoefficients 9)
        cc.color_range = int(ColorRange.MPEG)
        if not prores:
            cc.codec_tag = "hvc1"  # Apple players need hvc1 (parameter sets in the sample entry)
        frame_count = 0
        for frame in _plain_frames(job):
            job.tick(frame_count, g.frame_count)
            rgb8 = frame.to_ndarray(
                format="rgb24",
                width=width,
                height=height,
                src_colorspace=src_matrix,
                dst_colorspace=src_matrix,
            )
            signal = _sdr_to_hdr_signal(rgb8, p, pq=pq)
            out = _yuv10_frame(signal, pix_fmt, trc=trc)
            out.pts = frame_count
            out.time_base = Fraction(1) / rate
            for packet in stream.encode(out):
                container.mux(packet)
            frame_count += 1
        for packet in stream.encode():
            container.mux(packet)
        container.close()
    except BaseException:
        container.close()
        picture.unlink(missing_ok=True)
        raise
    has_audio = _with_audio(job, picture, path, frame_count / float(rate), "keep")
    return Output(width, height, float(g.fps), frame_count, {"video": path}, has_audio)


def _plain_frames(job: _Job) -> Iterator[Any]:
    for _t, frame in _source_frames(job):
        yield frame


def _hdr_nits(rgb8: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
    """(H, W, 3) uint8 BT.709 R'G'B' → linear BT.2020 RGB display light in cd/m² (float32)."""
    nits = transfer.inverse_tone_map(
        codec.linear_from_rgb24(rgb8),
        adjust_exposure=float(params.get("adjust_exposure", 0.5)),
        boost_saturation=float(params.get("boost_saturation", 0.5)),
        highlight_threshold=float(params.get("highlight_threshold", 0.65)),
    )
    return np.maximum(transfer.apply_matrix(nits, transfer.BT709_TO_BT2020), 0.0)


def _light_levels(job: _Job, width: int, height: int,
                  params: Mapping[str, Any]) -> tuple[int, int]:
    """(MaxCLL, MaxFALL) in whole cd/m² of the HDR output, CTA-861.3 §A: the brightest
    max(R, G, B) of any pixel, and the brightest frame average of max(R, G, B).

    Measured before encoding (the SEI must precede the first frame) on every other pixel of
    every other row — a quarter of the work of the lift itself; averages are unaffected and
    an isolated one-pixel peak can be missed. Rounded up; at most the lift's 1000 cd/m² peak.
    """
    src_matrix = codec.yuv_matrix(job.clip)
    max_cll = max_fall = 0.0
    for frame in _plain_frames(job):
        if job.should_cancel():
            raise Cancelled()
        rgb8 = frame.to_ndarray(format="rgb24", width=width, height=height,
                                src_colorspace=src_matrix, dst_colorspace=src_matrix)
        brightest = _hdr_nits(rgb8[::2, ::2], params).max(axis=-1)
        max_cll = max(max_cll, float(brightest.max()))
        max_fall = max(max_fall, float(brightest.mean()))
    return math.ceil(max_cll), math.ceil(max_fall)


def _sdr_to_hdr_signal(rgb8: np.ndarray, params: Mapping[str, Any], *, pq: bool) -> np.ndarray:
    """(H, W, 3) uint8 BT.709 R'G'B' → BT.2020 PQ or HLG R'G'B' signal (float32 0–1)."""
    nits = _hdr_nits(rgb8, params)
    if pq:
        return transfer.pq_inverse_eotf(nits)
    return transfer.hlg_oetf(transfer.hlg_inverse_ootf(nits, peak_nits=1000.0))


def _yuv10_frame(signal: np.ndarray, pix_fmt: str, *, trc: ColorTrc) -> Any:
    """BT.2020 R'G'B' signal → a 10-bit yuv420p10le / yuv422p10le VideoFrame (NCL, narrow),
    tagged BT.2020 / ``trc`` / BT.2020 NCL / limited range.

    The frame's own tags matter: a ProRes encoder writes them into every frame header
    (prores_ks reads the frame, not the codec context), so an untagged frame would say
    "transfer unspecified" there whatever the container says. Chroma is subsampled by
    averaging 2×2 (4:2:0) or 2×1 (4:2:2) neighbours.
    """
    y, cb, cr = transfer.rgb_to_ycbcr_bt2020(signal, bits=10)
    h, w = y.shape
    if pix_fmt == "yuv420p10le":
        cb, cr = (
            ((c.reshape(h // 2, 2, w // 2, 2).sum(axis=(1, 3), dtype=np.uint32) + 2) >> 2)
            for c in (cb, cr)
        )
    else:
        cb, cr = (
            ((c.reshape(h, w // 2, 2).sum(axis=2, dtype=np.uint32) + 1) >> 1) for c in (cb, cr)
        )
    frame = av.VideoFrame(w, h, pix_fmt)
    for plane, data in zip(frame.planes, (y, cb, cr), strict=True):
        # Write through the plane's buffer; rows may be padded beyond the picture width.
        view = np.frombuffer(memoryview(plane), dtype=np.uint16).reshape(
            plane.height, plane.line_size // 2
        )
        view[:, : data.shape[1]] = data
    frame.color_primaries = int(ColorPrimaries.BT2020)
    frame.color_trc = int(trc)
    frame.colorspace = 9
    frame.color_range = int(ColorRange.MPEG)
    return frame


# ================================ LTX (EXR frames) ===============================================


def _ltx_oxen(job: _Job) -> Output:
    g = job.geometry
    src_matrix = codec.yuv_matrix(job.clip)
    out_aspect = g.width / g.height

    def prepare(frame: Any) -> np.ndarray:
        # Centre-crop to the output aspect, then resize: LTX presets are fixed shapes.
        rgb = frame.to_ndarray(format="rgb24", src_colorspace=src_matrix, dst_colorspace=src_matrix)
        h, w = rgb.shape[:2]
        if w / h > out_aspect:
            cw = max(1, round(h * out_aspect))
            x0 = (w - cw) // 2
            rgb = rgb[:, x0 : x0 + cw]
        else:
            ch = max(1, round(w / out_aspect))
            y0 = (h - ch) // 2
            rgb = rgb[y0 : y0 + ch]
        resized = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(
            width=g.width, height=g.height, interpolation=Interpolation.BICUBIC
        )
        return _hdr_linear(resized.to_ndarray())

    cache = _FrameCache(prepare, size=2)
    video = job.out_dir / "output.mp4"
    archive = job.out_dir / "frames_exr.zip"
    with (
        _ExrZipWriter(archive) as exrs,
        codec.H264Writer(
            _video_only(video),
            width=g.width,
            height=g.height,
            fps=job.out_rate(),
            preset=job.preset,
            crf=H264_CRF,
        ) as writer,
    ):
        for n, sample in enumerate(_retime(job, float(job.out_rate()), g.frame_count)):
            job.tick(n, g.frame_count)
            linear = cache.get(*sample.nearest())
            exrs.add(linear)
            writer.write_rgb(_sdr_preview_rgb8(linear))
        frames = writer.frames
    # generate_audio (default true): "false → MP4 without audio track" (model_params.md §2).
    mode = "make" if job.params.get("generate_audio", True) is not False else "none"
    try:
        has_audio = _with_audio(job, writer.path, video, frames / float(job.out_rate()), mode)
    except BaseException:
        archive.unlink(missing_ok=True)
        raise
    files = {"video": video, "exr_frames": archive}
    return Output(g.width, g.height, float(g.fps), frames, files, has_audio)


def _ltx_direct(job: _Job) -> Output:
    g = job.geometry
    src_matrix = codec.yuv_matrix(job.clip)
    archive = job.out_dir / "frames_exr.zip"
    with _ExrZipWriter(archive) as exrs:
        for frame in _plain_frames(job):
            job.tick(exrs.count, g.frame_count)
            rgb8 = frame.to_ndarray(
                format="rgb24",
                width=g.width,
                height=g.height,
                src_colorspace=src_matrix,
                dst_colorspace=src_matrix,
            )
            exrs.add(_hdr_linear(rgb8))
        count = exrs.count
    return Output(g.width, g.height, float(g.fps), count, {"exr_frames": archive})


def _hdr_linear(rgb8: np.ndarray) -> np.ndarray:
    """SDR BT.709 R'G'B' (uint8) → linear BT.709 light with expanded highlights, 1.0 = SDR
    diffuse white (inverse tone map with neutral settings, divided by 203 nits)."""
    nits = transfer.inverse_tone_map(codec.linear_from_rgb24(rgb8))
    return nits * np.float32(1.0 / EXR_WHITE_NITS)


def _sdr_preview_rgb8(linear: np.ndarray) -> np.ndarray:
    """Linear EXR light (1.0 = 203 nits) → tone-mapped BT.709 R'G'B' uint8 for the preview."""
    sdr = transfer.tone_map_sdr(linear * np.float32(EXR_WHITE_NITS), source_peak_nits=1000.0)
    return np.rint(transfer.bt1886_inverse_eotf(sdr) * 255.0).astype(np.uint8)


class _ExrZipWriter:
    """Append half-float RGB EXR frames (frame_000000.exr, …) to a ZIP, one at a time.

    Each frame goes to a temporary file beside the archive, into the ZIP and is deleted, so
    memory holds one frame. Entries are stored, not deflated: the EXRs are already
    ZIP-compressed inside (OpenEXR ``ZIP_COMPRESSION``, 16 scanlines per block).
    """

    def __init__(self, path: Path):
        self.path = path
        self.tmp = path.with_name(f".{path.stem}.frame.exr")
        self.count = 0
        self.zip = zipfile.ZipFile(path, mode="w", compression=zipfile.ZIP_STORED)

    def add(self, linear: np.ndarray) -> None:
        header = {
            "compression": OpenEXR.ZIP_COMPRESSION,
            "type": OpenEXR.scanlineimage,
            "chromaticities": BT709_CHROMATICITIES,
        }
        # Half float tops out at 65504; our values stay below 1000/203 ≈ 4.93 anyway.
        pixels = np.ascontiguousarray(linear, dtype=np.float16)
        with OpenEXR.File(header, {"RGB": pixels}) as exr:
            exr.write(str(self.tmp))
        self.zip.write(self.tmp, arcname=f"frame_{self.count:06d}.exr")
        self.tmp.unlink()
        self.count += 1

    def __enter__(self) -> _ExrZipWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.zip.close()
        self.tmp.unlink(missing_ok=True)
        if exc_type is not None:
            self.path.unlink(missing_ok=True)


#: The processors by key: the names a model unit's ``sandbox_processor`` and a model file's
#: ``processor`` use (README "Adding a model").
PROCESSORS: dict[str, Callable[[_Job], Output]] = {
    "upscale": _upscale,
    "hyperion": _hyperion,
    "ltx_oxen": _ltx_oxen,
    "ltx_direct": _ltx_direct,
}
#: Which processor runs each model id (endpoints from model files join through :func:`assign`).
_PROCESSOR_OF: dict[str, str] = {
    models.STARLIGHT: "upscale",
    models.RHEA: "upscale",
    models.HYPERION: "hyperion",
    models.LTX_OXEN: "ltx_oxen",
    models.LTX_DIRECT: "ltx_direct",
}


def processor_of(model_id: str) -> str | None:
    """The key in :data:`PROCESSORS` that runs ``model_id``; ``None`` when none does."""
    return _PROCESSOR_OF.get(model_id)


def assign(model_id: str, processor: str | None) -> None:
    """Run ``model_id`` with the processor ``processor`` (a key of :data:`PROCESSORS`);
    ``None`` removes an assignment made here. Raises ``KeyError`` for an unknown processor."""
    if processor is None:
        _PROCESSOR_OF.pop(model_id, None)
        return
    if processor not in PROCESSORS:
        raise KeyError(processor)
    _PROCESSOR_OF[model_id] = processor
