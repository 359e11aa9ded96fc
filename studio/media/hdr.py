"""HDR as a colourist sees it: light in cd/m², scopes, false colour, gamut, MaxCLL/MaxFALL.

This module owns the HDR inspector's measurements (no Streamlit, no figures):

* **Light from code values.** Decoded Y'CbCr samples become R'G'B' signals with the
  clip's matrix (ITU-R BT.2020 Table 4 / BT.709 item 3.2, narrow or full range per
  ITU-T H.273), then display light in cd/m²: the SMPTE ST 2084 EOTF for PQ; for HLG the
  ITU-R BT.2100 inverse OETF and OOTF at a stated nominal peak Lw (default 1000 cd/m²).
  Luminance Y = 0.2627 R + 0.6780 G + 0.0593 B (BT.2100 Table 6).
* **Per frame** (:func:`frame_scopes`): a log-nits histogram, a waveform (x against
  0.1–10,000 cd/m²), false colour with :data:`FALSE_COLOUR_BANDS`, pixels outside BT.709
  and P3 for BT.2020 sources, the SDR view's exposure and tone-map operator, and the
  frame's peak and average light level.
* **Per clip** (:func:`analyse_clip`): MaxCLL and MaxFALL exactly as CTA-861.3-A Annex P
  defines them — per pixel max(R, G, B) in cd/m²; a frame's average light level is the
  mean of that over the frame; MaxFALL is the largest frame average, MaxCLL the largest
  pixel — with a per-frame peak/average series, cached as JSON in a data dir.
* **Metadata** (:func:`read_hdr_metadata`): codec, bit depth, chroma subsampling, range,
  primaries, transfer, matrix, and mastering-display (SMPTE ST 2086) and content-light-level
  (CTA-861.3) side data when the file carries them.

Chroma is upsampled by repeating samples (each decoded pixel uses its 4:2:0/4:2:2 chroma
sample), the convention the measurements and their tests share. Scopes are computed on the
chroma grid (2×2 luma averaged for 4:2:0; a 3840×2160 frame is measured at 1920×1080);
per-frame peaks and averages use every pixel.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from studio.errors import MediaError
from studio.media import transfer
from studio.media.probe import ClipInfo, is_hdr, label_of, open_video, probe, video_stream

Progress = Callable[[float], None]

#: Nominal peak display luminance for HLG (ITU-R BT.2100 Table 5 Lw), cd/m².
HLG_NOMINAL_PEAK_NITS = 1000.0
#: The waveform's and histogram's range, cd/m² (log axis).
SCOPE_MIN_NITS, SCOPE_MAX_NITS = 0.1, 10000.0
#: Reference lines on the waveform: SDR white, HDR reference white (BT.2408), 1000, 4000.
WAVEFORM_LINES_NITS = (100.0, 203.0, 1000.0, 4000.0)
#: Bump when the measurements change, so cached clip analyses are recomputed.
ANALYSIS_VERSION = 1
#: Matrix coefficients (Kr, Kb) per ffmpeg colour-space name (ITU-T H.273 Table 4).
_KRKB = {
    "bt2020nc": (0.2627, 0.0593), "bt2020c": (0.2627, 0.0593), "bt709": (0.2126, 0.0722),
    "bt470bg": (0.299, 0.114), "smpte170m": (0.299, 0.114),
}  # fmt: skip


@dataclass(frozen=True)
class Band:
    """One false-colour band: luminance from ``low`` (exclusive, except the first) to
    ``high`` (inclusive) in cd/m², drawn in ``colour`` (hex); ``None`` colour = the picture
    in grey."""

    label: str
    low: float
    high: float
    colour: str | None


#: False-colour bands (cd/m²): below 0.1; SDR up to 100; 100–203; 203–1000; 1000–4000; above.
FALSE_COLOUR_BANDS = (
    Band("below 0.1 cd/m² (crushed black)", 0.0, 0.1, "#2b3a8c"),
    Band("0.1–100 cd/m² (SDR range)", 0.1, 100.0, None),
    Band("100–203 cd/m² (up to HDR reference white)", 100.0, 203.0, "#2ecc40"),
    Band("203–1000 cd/m² (highlights)", 203.0, 1000.0, "#ffdc00"),
    Band("1000–4000 cd/m² (bright highlights)", 1000.0, 4000.0, "#ff851b"),
    Band("above 4000 cd/m² (extreme)", 4000.0, 10000.0, "#f012be"),
)
_BAND_RGB = np.array(
    [[int(b.colour[i : i + 2], 16) for i in (1, 3, 5)] if b.colour else [0, 0, 0]
     for b in FALSE_COLOUR_BANDS], dtype=np.uint8)  # fmt: skip

# Linear BT.2020 → linear P3-D65 (SMPTE EG 432-1 primaries, D65), from the xy chromaticities.
_P3_PRIMARIES = (0.680, 0.320, 0.265, 0.690, 0.150, 0.060)
BT2020_TO_P3 = (
    np.linalg.inv(transfer._rgb_to_xyz(_P3_PRIMARIES, transfer._D65))
    @ transfer._rgb_to_xyz(transfer._BT2020_PRIMARIES, transfer._D65)
).astype(np.float32)
#: A colour is outside a gamut when a component, converted there, is below −tolerance × the
#: pixel's peak component (absorbs rounding of 10-bit codes and 4:2:0 chroma).
GAMUT_TOLERANCE = 0.01


def false_colour_bands(nits: np.ndarray) -> np.ndarray:
    """Band index (0–5, :data:`FALSE_COLOUR_BANDS`) per luminance value in cd/m² (uint8).

    Below 0.1 → 0; ≤ 100 → 1; ≤ 203 → 2; ≤ 1000 → 3; ≤ 4000 → 4; above → 5. NaN → 0.
    """
    nits = np.asarray(nits, dtype=np.float32)
    band = (nits >= np.float32(0.1)).view(np.uint8).copy()  # NaN compares false → 0
    for edge in (100.0, 203.0, 1000.0, 4000.0):
        band += (nits > np.float32(edge)).view(np.uint8)
    return band


def false_colour_image(nits: np.ndarray, bands: np.ndarray | None = None) -> np.ndarray:
    """(H, W) luminance in cd/m² → (H, W, 3) uint8 false-colour picture.

    Bands per :data:`FALSE_COLOUR_BANDS`; the SDR band shows the picture in grey (sRGB of
    Y/100), so the scene stays readable around the coloured areas. ``bands`` may pass
    :func:`false_colour_bands` already computed.
    """
    nits = np.asarray(nits, dtype=np.float32)
    band = false_colour_bands(nits) if bands is None else bands
    grey = np.minimum(np.nan_to_num(nits, nan=0.0) * np.float32(40.95), np.float32(4095.0))
    code = np.where(band == 1, grey.astype(np.int32) + 6, band.astype(np.int32))
    return _PALETTE32[code].view(np.uint8).reshape(*nits.shape, 4)[..., :3]


# Grey level of the SDR band: sRGB of Y/100 (IEC 61966-2-1), squeezed into 30–230.
_GREY_LUT = np.rint(transfer.srgb_encode(np.linspace(0, 1, 4096, dtype=np.float32)) * 200.0
                    + 30.0).astype(np.uint8)
# Entries 0–5: the bands' colours; 6 + i: grey level i of the SDR band. RGBA packed in uint32.
_PALETTE = np.concatenate([_BAND_RGB, np.repeat(_GREY_LUT[:, None], 3, axis=1)])
_PALETTE32 = np.concatenate([_PALETTE, np.full((len(_PALETTE), 1), 255, np.uint8)],
                            axis=1).copy().view(np.uint32).ravel()


def _log_nits(nits: np.ndarray) -> np.ndarray:
    """log10 of luminance (cd/m²), with 0 and negatives at log10(1e-6); NaN stays NaN."""
    return np.log10(np.maximum(np.asarray(nits, dtype=np.float32), np.float32(1e-6)))


def log_nits_histogram(nits: np.ndarray, *, bins: int = 200, logs: np.ndarray | None = None
                       ) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Histogram of luminance on a log axis, 0.1–10,000 cd/m².

    Returns (counts (bins,), bin edges in cd/m² (bins + 1,), pixels below 0.1, pixels above
    10,000). Non-finite values are left out (count them with :mod:`studio.media.exr`).
    ``logs`` may pass log10(nits) already computed.
    """
    logs = _log_nits(nits) if logs is None else logs
    lo, hi = math.log10(SCOPE_MIN_NITS), math.log10(SCOPE_MAX_NITS)
    flat = logs.ravel()
    finite = np.isfinite(flat)
    below = int(np.count_nonzero(flat < lo))  # NaN compares false: not counted
    above = int(np.count_nonzero(flat > hi) + np.count_nonzero(np.isposinf(flat)))
    idx = ((flat - np.float32(lo)) * np.float32(bins / (hi - lo)))
    keep = finite & (flat >= lo) & (flat <= hi)
    counts = np.bincount(np.minimum(idx[keep].astype(np.int32), bins - 1), minlength=bins)
    edges = np.power(10.0, np.linspace(lo, hi, bins + 1))
    return counts, edges, below, above


def waveform(nits: np.ndarray, *, columns: int = 320, rows: int = 200,
             logs: np.ndarray | None = None) -> np.ndarray:
    """Waveform density: (rows, columns) counts of pixels per (x position, log luminance).

    Row 0 is 0.1 cd/m², the last row 10,000 cd/m² (log spacing); values outside are put
    in the first/last row. ``columns`` bins the picture's width left to right.
    """
    img = np.asarray(nits, dtype=np.float32)
    h, w = img.shape
    columns = max(1, min(columns, w))
    lo, hi = math.log10(SCOPE_MIN_NITS), math.log10(SCOPE_MAX_NITS)
    logs = _log_nits(img) if logs is None else logs
    scaled = (np.nan_to_num(logs, nan=-6.0) - np.float32(lo)) * np.float32(rows / (hi - lo))
    r = np.minimum(np.maximum(scaled, 0).astype(np.int32), rows - 1)
    c = (np.arange(w, dtype=np.int32) * columns // w)[None, :]
    flat = (r * columns + c).ravel()
    return np.bincount(flat, minlength=rows * columns).reshape(rows, columns)


# ================================ Code values → light ============================================


def _krkb(clip: ClipInfo) -> tuple[float, float]:
    return _KRKB.get(clip.color_space or "", _KRKB["bt2020nc"] if is_hdr(clip) else
                     _KRKB["bt709"])


def _plane(plane: Any, dtype: Any) -> np.ndarray:
    item = np.dtype(dtype).itemsize
    view = np.frombuffer(memoryview(plane), dtype=dtype)
    return view.reshape(plane.height, plane.line_size // item)[:, : plane.width]


def _code4_to_signal(code4: np.ndarray, bits: int, full_range: bool) -> np.ndarray:
    """Quarter luma codes (one ``bits``-bit code = 4) → signal 0–1 (ITU-T H.273 narrow or
    full range; unclipped)."""
    if full_range:
        return np.asarray(code4, np.float32) / np.float32(4.0 * ((1 << bits) - 1))
    scale = float(1 << (bits - 8))
    return (np.asarray(code4, np.float32) / np.float32(4.0 * scale) - 16.0) / 219.0


@dataclass
class _RawPlanes:
    """A decoded frame's Y', Cb, Cr sample planes as they are (views, no copy) and the
    constants that turn a chroma sample into quarter-code R'−Y', G'−Y', B'−Y' offsets."""

    y: np.ndarray  # (H, W) uint8/uint16, trimmed to whole chroma samples
    cb: np.ndarray  # (h, w)
    cr: np.ndarray  # (h, w)
    sub: tuple[int, int]  # (rows, cols) of luma per chroma sample
    bits: int
    full_range: bool
    centre: float  # the chroma code of zero colour difference
    coefficients: tuple[float, float, float, float]  # Cr→R', Cr→G', Cb→G', Cb→B' (float32)
    per: float  # chroma code → quarter luma codes

    def kernel_constants(self) -> tuple:
        """``centre, c_r, c_gr, c_gb, c_b, per`` as float32, the order the kernels of
        :mod:`studio.media._light_kernels` take them (float32 arithmetic throughout)."""
        return (np.float32(self.centre), *(np.float32(c) for c in self.coefficients),
                np.float32(self.per))


@dataclass
class _Planes:
    """Y' at full size and the R'−Y', G'−Y', B'−Y' offsets at chroma size, in luma code
    units ×4 (so one 10-bit code is 4 units), made from the frame's ``raw`` planes."""

    y4: np.ndarray  # (H, W) int32, luma code × 4
    offsets4: np.ndarray  # (3, h, w) float32, channel − luma in code × 4 units
    raw: _RawPlanes

    @property
    def sub(self) -> tuple[int, int]:  # (rows, cols) per chroma sample
        return self.raw.sub

    def code4_to_signal(self, code4: np.ndarray) -> np.ndarray:
        return _code4_to_signal(code4, self.raw.bits, self.raw.full_range)


def _frame_raw(frame: Any, clip: ClipInfo) -> _RawPlanes:
    fmt = frame.format
    name = fmt.name
    ok = name.startswith(("yuv420p", "yuv422p", "yuv444p", "yuvj")) and len(frame.planes) == 3
    if not ok:  # semi-planar, RGB or packed: let swscale lay it out as planar 16-bit 4:4:4
        frame = frame.reformat(format="yuv444p16le")
        fmt, name = frame.format, frame.format.name
    bits = int(fmt.components[0].bits)
    dtype = np.uint16 if bits > 8 else np.uint8
    y = _plane(frame.planes[0], dtype)
    cb = _plane(frame.planes[1], dtype)
    cr = _plane(frame.planes[2], dtype)
    sub = (y.shape[0] // cb.shape[0], y.shape[1] // cb.shape[1])
    y = y[: cb.shape[0] * sub[0], : cb.shape[1] * sub[1]]
    full = (frame.color_range == 2) or name.startswith("yuvj") or clip.color_range == "pc"
    kr, kb = _krkb(clip)
    kg = 1.0 - kr - kb
    if full:
        # ITU-T H.273 full range: chroma centred on 2^(n−1); luma 0–(2^n − 1). One luma code
        # is 1/(2^n − 1); chroma codes share that step.
        centre, per = float(1 << (bits - 1)), 4.0
    else:
        # Narrow range: Y' step = 1/(219·2^(n−8)), C' step = 1/(224·2^(n−8)) (BT.2020 Table 5).
        centre, per = float(128 * (1 << (bits - 8))), float(np.float32(4.0 * 219.0 / 224.0))
    c_r, c_gr, c_gb, c_b = (float(np.float32(c)) for c in (
        2 * (1 - kr), 2 * kr * (1 - kr) / kg, 2 * kb * (1 - kb) / kg, 2 * (1 - kb)))
    return _RawPlanes(y, cb, cr, sub, bits, full, centre, (c_r, c_gr, c_gb, c_b), per)


def _frame_planes(frame: Any, clip: ClipInfo) -> _Planes:
    from studio.media import _light_kernels  # numba: imported on first use (0.3 s)

    raw = _frame_raw(frame, clip)
    offsets = _light_kernels.chroma_offsets(raw.cb, raw.cr, *raw.kernel_constants())
    return _Planes(raw.y.astype(np.int32) * 4, offsets, raw)


class LightModel:
    """Signal → display light for one clip: PQ (SMPTE ST 2084) or HLG (BT.2100) at ``peak``.

    ``channel_nits(signal)`` maps R'G'B' signals (any shape, 0–1) to per-channel display
    light; for HLG the OOTF needs all three channels, so use ``rgb_nits`` with (..., 3).
    """

    def __init__(self, transfer_name: str, *, hlg_peak_nits: float = HLG_NOMINAL_PEAK_NITS):
        if transfer_name not in ("smpte2084", "arib-std-b67"):
            raise MediaError(
                f"Light levels in cd/m² need a PQ or HLG clip; this one is tagged "
                f"'{transfer_name or 'unspecified'}'."
            )
        self.transfer = transfer_name
        self.pq = transfer_name == "smpte2084"
        self.peak = float(hlg_peak_nits)
        self.gamma = transfer.hlg_system_gamma(self.peak)
        grid = np.linspace(0.0, 1.0, 65536, dtype=np.float32)
        # Per-channel table over 16-bit signal steps: PQ display nits, or HLG scene light.
        self.table = transfer.pq_eotf(grid) if self.pq else transfer.hlg_inverse_oetf(grid)
        self._code_tables: dict[tuple[int, bool], tuple[np.ndarray, int]] = {}
        self._pq_tables: dict[tuple[int, bool], np.ndarray] = {}
        self._gain: np.ndarray | None = None

    def code_table(self, planes: _RawPlanes) -> tuple[np.ndarray, int]:
        """Per quarter-code level 0…top: PQ nits or HLG scene light (float32), and top."""
        key = (planes.bits, planes.full_range)
        cached = self._code_tables.get(key)
        if cached is None:
            top = 4 * ((1 << planes.bits) - 1)
            signal = np.clip(_code4_to_signal(np.arange(top + 1, dtype=np.float32), planes.bits,
                                              planes.full_range), 0, 1)
            cached = self._code_tables[key] = (self._lookup(signal), top)
        return cached

    def pq_level_table(self, bits: int, full_range: bool) -> np.ndarray:
        """PQ light (cd/m², float64) per quarter-code level 0 … 8·2^bits − 1: twice the code
        range, so luma + chroma offsets past the top still index it; the signal is clipped
        to 1 (10,000 cd/m²) long before its end (SMPTE ST 2084 EOTF)."""
        table = self._pq_tables.get((bits, full_range))
        if table is None:
            levels = np.arange(8 << bits, dtype=np.float32)
            signal = np.clip(_code4_to_signal(levels, bits, full_range), 0.0, 1.0)
            table = self._pq_tables[(bits, full_range)] = transfer.pq_eotf(signal).astype(
                np.float64)
        return table

    def gain_table(self) -> np.ndarray:
        """HLG OOTF gain Lw·Ys^(γ−1) for Ys = (i/65535)², i = 0…65535 (BT.2100 Table 5)."""
        if self._gain is None:
            s = np.linspace(0.0, 1.0, 65536, dtype=np.float64)
            with np.errstate(divide="ignore"):
                g = self.peak * np.power(np.maximum(s * s, 1e-12), self.gamma - 1.0)
            self._gain = g.astype(np.float32)
        return self._gain

    def describe(self) -> str:
        if self.pq:
            return "PQ: SMPTE ST 2084 EOTF (absolute, 0–10,000 cd/m²)"
        return (f"HLG: ITU-R BT.2100 inverse OETF + OOTF, nominal peak Lw = {self.peak:g} "
                f"cd/m², system gamma {self.gamma:.3f}")

    def _lookup(self, signal: np.ndarray) -> np.ndarray:
        idx = signal * np.float32(65535.0) + np.float32(0.5)
        np.maximum(idx, 0.0, out=idx)
        np.minimum(idx, 65535.0, out=idx)
        return np.take(self.table, idx.astype(np.int32))

    def rgb_nits(self, signal_rgb: np.ndarray) -> np.ndarray:
        """(..., 3) R'G'B' signal → (..., 3) display light in cd/m² (BT.2020 primaries)."""
        lin = self._lookup(signal_rgb)
        if self.pq:
            return lin
        ys = transfer.luminance(lin, transfer.LUMA_BT2020)
        gain = np.float32(self.peak) * np.power(np.maximum(ys, np.float32(1e-12)),
                                                np.float32(self.gamma - 1.0))
        return lin * gain[..., None]


@dataclass(frozen=True)
class LightLevel:
    """A frame's light level per CTA-861.3-A Annex P: ``peak_nits`` = the largest per-pixel
    max(R, G, B) in cd/m², ``average_nits`` = its mean over the frame (the frame-average
    light level, FALL)."""

    peak_nits: float
    average_nits: float


def frame_light_level(frame: Any, clip: ClipInfo, model: LightModel,
                      planes: _Planes | None = None) -> LightLevel:
    """Peak and frame-average of max(R, G, B) in cd/m² over every pixel of a decoded frame
    (CTA-861.3-A Annex P), in one compiled pass over its planes
    (:mod:`studio.media._light_kernels`).

    PQ: SMPTE ST 2084's EOTF is the same increasing curve on each channel, so max(R, G, B) in
    light is the EOTF of max(R', G', B'), and max(R', G', B') − Y' depends on chroma only.
    HLG: the BT.2100 OOTF gain depends on the scene luminance of all three channels: scene
    light E per quarter-code level (inverse OETF) and the gain Lw·Ys^(γ−1) indexed by √Ys.
    """
    from studio.media import _light_kernels  # numba: imported on first use (0.3 s)

    raw = planes.raw if planes is not None else _frame_raw(frame, clip)
    consts = (raw.sub[0], raw.sub[1], *raw.kernel_constants())
    if model.pq:
        table = model.pq_level_table(raw.bits, raw.full_range)
        peak, total, n = _light_kernels.pq_light(raw.y, raw.cb, raw.cr, *consts, table)
    else:
        scene, _top = model.code_table(raw)
        peak, total, n = _light_kernels.hlg_light(raw.y, raw.cb, raw.cr, *consts, scene,
                                                   model.gain_table())
    return LightLevel(float(peak), float(total) / max(int(n), 1))


# ================================ One frame: scopes ==============================================


@dataclass
class FrameScopes:
    """What the inspector shows for one frame (arrays at the analysis size h × w).

    ``nits``: (h, w) luminance in cd/m²; ``histogram`` (counts, edges in cd/m², below,
    above); ``waveform``: (rows, columns) counts; ``false_colour``: (h, w, 3) uint8;
    ``band_fractions``: share of pixels per :data:`FALSE_COLOUR_BANDS`; ``outside_bt709`` /
    ``outside_p3``: share of pixels outside those gamuts (``None`` unless BT.2020);
    ``gamut_overlay``: (h, w, 3) uint8 with out-of-P3 pixels magenta and out-of-709 cyan;
    ``sdr_view``: (h, w, 3) uint8 BT.709 picture; ``light``: full-resolution peak and
    average of max(R, G, B); ``exposure_stops``, ``tone_map`` and ``light_model`` describe
    the formulas used; ``scale``: full-size pixels per analysis pixel (x, y).
    """

    time_s: float
    frame_index: int
    nits: np.ndarray
    histogram: tuple[np.ndarray, np.ndarray, int, int]
    waveform: np.ndarray
    false_colour: np.ndarray
    band_fractions: tuple[float, ...]
    outside_bt709: float | None
    outside_p3: float | None
    gamut_overlay: np.ndarray | None
    sdr_view: np.ndarray
    light: LightLevel
    exposure_stops: float
    tone_map: str
    light_model: str
    scale: tuple[float, float] = (1.0, 1.0)

    def nits_at(self, x: int, y: int) -> float:
        """Luminance in cd/m² at full-size display pixel (x, y)."""
        sx, sy = self.scale
        h, w = self.nits.shape
        return float(self.nits[min(int(y / sy), h - 1), min(int(x / sx), w - 1)])


_VIEWS: dict[tuple[Any, ...], Any] = {}
_VIEWS_LOCK = threading.Lock()


def _sdr_view(clip: ClipInfo, w: int, h: int, stops: float, peak: float) -> Any:
    """A cached :class:`studio.media.previews.SdrView` (the baked-LUT tone map) for a size."""
    from studio.media.previews import SdrView

    if peak != HLG_NOMINAL_PEAK_NITS and clip.color_transfer == "arib-std-b67":
        return _ReferenceSdrView(clip, w, h, stops, peak)
    key = (clip.color_transfer, w, h, round(stops, 2))
    with _VIEWS_LOCK:
        view = _VIEWS.get(key)
        if view is None:
            if len(_VIEWS) > 8:
                _VIEWS.clear()
            view = _VIEWS[key] = SdrView(clip, w, h, exposure_stops=stops)
        return view


class _ReferenceSdrView:
    """The per-pixel chain for an HLG nominal peak other than the previews' 1000 cd/m²."""

    def __init__(self, clip: ClipInfo, w: int, h: int, stops: float, peak: float):
        self.clip, self.w, self.h, self.stops, self.peak = clip, w, h, stops, peak

    def rgb8(self, frame: Any) -> np.ndarray:
        from av.video.reformatter import ColorRange, Colorspace, Interpolation

        from studio.media.codec import sdr_from_hdr_signal

        codes = frame.to_ndarray(format="rgb48le", width=self.w, height=self.h,
                                 interpolation=Interpolation.BICUBIC,
                                 src_colorspace=Colorspace.BT2020,
                                 src_color_range=ColorRange.MPEG)
        sdr = sdr_from_hdr_signal(codes.astype(np.float32) / 65535.0, self.clip.color_transfer
                                  or "", peak_nits=self.peak, exposure_stops=self.stops)
        return np.rint(transfer.bt1886_inverse_eotf(sdr) * 255.0).astype(np.uint8)


def tone_map_description(exposure_stops: float, peak_nits: float = 1000.0) -> str:
    """The SDR view's operator in words (what :func:`studio.media.codec.sdr_from_hdr_signal`
    does), for the screen."""
    return (
        f"ITU-R BT.2390 EETF on max(R,G,B), {peak_nits:g} → 100 cd/m², HDR reference white "
        f"203 cd/m² → SDR 100 % (BT.2408), BT.2020 → BT.709 (BT.2087), BT.1886 encode; "
        f"exposure {exposure_stops:+.1f} stops"
    )


def frame_scopes(
    frame: Any,
    clip: ClipInfo,
    *,
    hlg_peak_nits: float = HLG_NOMINAL_PEAK_NITS,
    exposure_stops: float = 0.0,
    columns: int = 320,
    frame_index: int = 0,
) -> FrameScopes:
    """Measure one decoded HDR frame (PyAV VideoFrame of a PQ or HLG clip).

    Luminance and scopes are computed on the chroma grid (see the module docstring); the
    peak and average light levels on every pixel. ``exposure_stops`` scales the light
    (× 2^stops) before the SDR view's tone map. Raises MediaError for a non-HDR clip.
    """
    model = LightModel(clip.color_transfer or "", hlg_peak_nits=hlg_peak_nits)
    planes = _frame_planes(frame, clip)
    sy, sx = planes.sub
    h, w = planes.offsets4.shape[1:]
    y_low = np.zeros((h, w), np.float32)
    for dy in range(sy):
        for dx in range(sx):
            y_low += planes.y4[dy::sy, dx::sx]
    y_low *= np.float32(1.0 / (sy * sx))
    signal = np.empty((h, w, 3), np.float32)
    for c in range(3):
        signal[..., c] = planes.code4_to_signal(y_low + planes.offsets4[c])
    rgb = model.rgb_nits(signal)
    nits = transfer.luminance(rgb, transfer.LUMA_BT2020)
    light = frame_light_level(frame, clip, model, planes)
    sdr8 = _sdr_view(clip, w, h, exposure_stops, hlg_peak_nits).rgb8(frame)
    out709 = outp3 = None
    overlay = None
    if clip.color_primaries == "bt2020" or (clip.color_space or "").startswith("bt2020"):
        peak_c = np.maximum(np.maximum(rgb[..., 0], rgb[..., 1]), rgb[..., 2])
        tol = np.float32(-GAMUT_TOLERANCE) * peak_c

        def outside(matrix: np.ndarray) -> np.ndarray:
            m = transfer.apply_matrix(rgb, matrix)
            return (m[..., 0] < tol) | (m[..., 1] < tol) | (m[..., 2] < tol)

        bad709, badp3 = outside(transfer.BT2020_TO_BT709), outside(BT2020_TO_P3)
        lit = peak_c > np.float32(0.01)  # ignore black, where chroma noise means nothing
        bad709 &= lit
        badp3 &= lit
        out709 = float(bad709.mean())
        outp3 = float(badp3.mean())
        overlay = (sdr8 // 3).astype(np.uint8)
        overlay[bad709] = (0, 220, 220)
        overlay[badp3] = (240, 0, 200)
    rot = clip.rotation
    if rot:
        k = -(rot // 90)
        nits, sdr8 = np.rot90(nits, k), np.rot90(sdr8, k)
        overlay = None if overlay is None else np.rot90(overlay, k)
    nits = np.ascontiguousarray(nits)
    logs = _log_nits(nits)
    bands = false_colour_bands(nits)
    fractions = tuple(float(f) for f in np.bincount(bands.ravel(), minlength=6) / bands.size)
    full_w, full_h = clip.width, clip.height
    return FrameScopes(
        time_s=float(frame.time or 0.0),
        frame_index=frame_index,
        nits=nits,
        histogram=log_nits_histogram(nits, logs=logs),
        waveform=waveform(nits, columns=columns, logs=logs),
        false_colour=np.ascontiguousarray(false_colour_image(nits, bands)),
        band_fractions=fractions,
        outside_bt709=out709,
        outside_p3=outp3,
        gamut_overlay=None if overlay is None else np.ascontiguousarray(overlay),
        sdr_view=np.ascontiguousarray(sdr8),
        light=light,
        exposure_stops=exposure_stops,
        tone_map=tone_map_description(exposure_stops, hlg_peak_nits),
        light_model=model.describe(),
        scale=(full_w / nits.shape[1], full_h / nits.shape[0]),
    )


def read_frame_at(source: str | Path, time_s: float) -> tuple[Any, int]:
    """Decode the frame shown at ``time_s`` seconds (the last one starting at or before it).

    Seeks to the key frame before, then decodes forward. Returns (PyAV VideoFrame, its
    index counted from the clip's first frame by time × frame rate). Raises MediaError.
    """
    label = label_of(source)
    with open_video(source) as container:
        stream = video_stream(container, label)
        stream.thread_type = "AUTO"
        tb = stream.time_base
        start = float(stream.start_time * tb) if stream.start_time is not None else 0.0
        rate = float(stream.average_rate or 24)
        target = start + max(0.0, float(time_s))
        if time_s > 0:
            container.seek(int(target / tb), stream=stream, backward=True, any_frame=False)
        chosen = None
        try:
            for frame in container.decode(stream):
                if frame.time is not None and frame.time > target + 0.5 / rate and chosen:
                    break
                chosen = frame
        except av.error.FFmpegError as err:
            if chosen is None:
                raise MediaError(f"The video '{label}' could not be decoded at {time_s:.2f} s; "
                                 "it looks damaged.") from err
        if chosen is None:
            raise MediaError(f"The video '{label}' has no frame at {time_s:.2f} s.")
        index = int(round(((chosen.time or start) - start) * rate))
        return chosen, index


# ================================ Metadata =======================================================


@dataclass(frozen=True)
class HdrMetadata:
    """The metadata readout. Colour names are ffmpeg's (ITU-T H.273 code points).

    ``mastering_display``: SMPTE ST 2086 values when present — ``primaries`` ((x, y) for
    R, G, B), ``white_point`` (x, y), ``min_nits``, ``max_nits``. ``content_light``:
    CTA-861.3 ``max_cll`` and ``max_fall`` in cd/m² when present.
    """

    codec: str
    bit_depth: int
    chroma_subsampling: str
    color_range: str | None
    color_primaries: str | None
    color_transfer: str | None
    color_space: str | None
    width: int
    height: int
    fps: float
    duration_s: float
    rotation: int
    mastering_display: dict[str, Any] | None = None
    content_light: dict[str, int] | None = None

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs in the field's words, for a table."""
        names = {"smpte2084": "PQ (SMPTE ST 2084)", "arib-std-b67": "HLG (ARIB STD-B67)"}
        ranges = {"tv": "limited (narrow, 64–940 at 10 bits)", "pc": "full"}
        rows = [
            ("codec", self.codec), ("bit depth", f"{self.bit_depth} bits"),
            ("chroma subsampling", self.chroma_subsampling or "unknown"),
            ("range", ranges.get(self.color_range or "", "unspecified")),
            ("primaries", self.color_primaries or "unspecified"),
            ("transfer", names.get(self.color_transfer or "", self.color_transfer or
                                   "unspecified")),
            ("matrix", self.color_space or "unspecified"),
            # A rate as people write it: 20, 23.976, 29.97 — never "20.000" (issue 10 item 20)
            ("picture", f"{self.width}×{self.height}, "
                        f"{f'{self.fps:.3f}'.rstrip('0').rstrip('.')} frames/s, "
                        f"{self.duration_s:.2f} s" + (f", rotated {self.rotation}°"
                                                       if self.rotation else "")),
        ]  # fmt: skip
        md = self.mastering_display
        if md:
            prim = " ".join(f"{c}({x:.4f}, {y:.4f})" for c, (x, y) in zip("RGB", md["primaries"],
                                                                       strict=False))
            rows.append(("mastering display (ST 2086)",
                         f"{prim}; white ({md['white_point'][0]:.4f}, {md['white_point'][1]:.4f});"
                         f" {md['min_nits']:g}–{md['max_nits']:g} cd/m²"))
        else:
            rows.append(("mastering display (ST 2086)", "not in the file"))
        cl = self.content_light
        rows.append(("content light level (CTA-861.3)",
                     f"MaxCLL {cl['max_cll']} cd/m², MaxFALL {cl['max_fall']} cd/m²" if cl
                     else "not in the file"))
        return rows


def _rational(num: int, den: int) -> float:
    return num / den if den else 0.0


def parse_mastering_display(raw: bytes) -> dict[str, Any] | None:
    """FFmpeg's AVMasteringDisplayMetadata (libavutil/mastering_display_metadata.h: ten
    AVRational {int num, den}, then has_primaries, has_luminance) → plain numbers."""
    if len(raw) < 88:
        return None
    v = struct.unpack("<22i", raw[:88])
    rat = [_rational(v[i], v[i + 1]) for i in range(0, 20, 2)]
    has_primaries, has_luminance = v[20], v[21]
    if not (has_primaries or has_luminance):
        return None
    return {
        "primaries": [(rat[0], rat[1]), (rat[2], rat[3]), (rat[4], rat[5])],
        "white_point": (rat[6], rat[7]),
        "min_nits": rat[8],
        "max_nits": rat[9],
    }


def parse_content_light(raw: bytes) -> dict[str, int] | None:
    """FFmpeg's AVContentLightMetadata (two unsigned ints: MaxCLL, MaxFALL in cd/m²)."""
    if len(raw) < 8:
        return None
    max_cll, max_fall = struct.unpack("<2I", raw[:8])
    return {"max_cll": int(max_cll), "max_fall": int(max_fall)}


def read_hdr_metadata(source: str | Path, clip: ClipInfo | None = None) -> HdrMetadata:
    """The metadata readout of a clip: its headers plus the first frame's HDR side data.

    Decodes one frame (FFmpeg attaches container ``mdcv``/``clli`` boxes and HEVC SEI
    messages to decoded frames as side data). Raises MediaError when unreadable.
    """
    clip = clip or probe(source)
    md = cl = None
    label = label_of(source)
    with open_video(source) as container:
        stream = video_stream(container, label)
        try:
            for frame in container.decode(stream):
                for sd in frame.side_data:
                    kind = getattr(sd.type, "name", str(sd.type))
                    if kind == "MASTERING_DISPLAY_METADATA":
                        md = parse_mastering_display(bytes(sd))
                    elif kind == "CONTENT_LIGHT_LEVEL":
                        cl = parse_content_light(bytes(sd))
                break
        except av.error.FFmpegError:
            pass  # the headers alone still make a readout
    return HdrMetadata(
        codec=clip.codec, bit_depth=clip.bit_depth, chroma_subsampling=clip.chroma_subsampling,
        color_range=clip.color_range, color_primaries=clip.color_primaries,
        color_transfer=clip.color_transfer, color_space=clip.color_space,
        width=clip.width, height=clip.height, fps=clip.fps, duration_s=clip.duration_s,
        rotation=clip.rotation, mastering_display=md, content_light=cl,
    )  # fmt: skip


# ================================ The whole clip: MaxCLL / MaxFALL ===============================


@dataclass
class ClipAnalysis:
    """MaxCLL/MaxFALL of a clip (CTA-861.3-A Annex P) and its per-frame series.

    ``max_cll`` / ``max_fall`` in cd/m² with the frame index each occurs at; ``times_s``,
    ``peak_nits`` and ``average_nits`` have one entry per decoded frame (the frame's
    largest max(R, G, B) and its frame-average light level). ``seconds`` is how long the
    analysis took; ``light_model`` names the formulas.
    """

    source_name: str
    transfer: str
    hlg_peak_nits: float
    frame_count: int
    fps: float
    max_cll: float
    max_fall: float
    max_cll_frame: int
    max_fall_frame: int
    times_s: list[float] = field(default_factory=list)
    peak_nits: list[float] = field(default_factory=list)
    average_nits: list[float] = field(default_factory=list)
    light_model: str = ""
    standard: str = "CTA-861.3-A Annex P: max(R,G,B) per pixel in cd/m²"
    seconds: float = 0.0
    version: int = ANALYSIS_VERSION


def _cache_path(source: Path, cache_dir: Path, hlg_peak_nits: float) -> Path:
    st = source.stat()
    key = f"{source.resolve()}|{st.st_size}|{st.st_mtime_ns}|{hlg_peak_nits:g}|{ANALYSIS_VERSION}"
    return Path(cache_dir) / f"light-{hashlib.sha256(key.encode()).hexdigest()[:24]}.json"


def load_clip_analysis(
    source: str | Path, cache_dir: str | Path, *, hlg_peak_nits: float = HLG_NOMINAL_PEAK_NITS
) -> ClipAnalysis | None:
    """The cached :class:`ClipAnalysis` of ``source`` (same file size and mtime), or ``None``."""
    try:
        path = _cache_path(Path(source), Path(cache_dir), hlg_peak_nits)
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != ANALYSIS_VERSION:
            return None
        return ClipAnalysis(**data)
    except (OSError, ValueError, TypeError):
        return None


def analyse_clip(
    source: str | Path,
    cache_dir: str | Path,
    *,
    progress: Progress | None = None,
    hlg_peak_nits: float = HLG_NOMINAL_PEAK_NITS,
    should_cancel: Callable[[], bool] | None = None,
) -> ClipAnalysis:
    """Compute (or load from ``cache_dir``) MaxCLL, MaxFALL and the per-frame series.

    Decodes every frame once (threaded decoder) and measures each with
    :func:`frame_light_level` on a second thread, one frame behind the decoder. The result
    is written to ``cache_dir`` as JSON (atomic replace) keyed by the file's path, size and
    modification time. ``progress`` gets 0–1;
    ``should_cancel`` is polled per frame (then MediaError). Raises MediaError for a clip
    that is not PQ/HLG or cannot be decoded. A work queue can run this as one task.
    """
    src = Path(source)
    cached = load_clip_analysis(src, cache_dir, hlg_peak_nits=hlg_peak_nits)
    if cached is not None:
        if progress:
            progress(1.0)
        return cached
    clip = probe(src)
    if not is_hdr(clip):
        raise MediaError(
            f"'{src.name}' is not tagged PQ or HLG, so it has no light levels in cd/m² to "
            "measure."
        )
    model = LightModel(clip.color_transfer or "", hlg_peak_nits=hlg_peak_nits)
    started = time.perf_counter()
    times: list[float] = []
    peaks: list[float] = []
    averages: list[float] = []
    # Frame i is measured on a second thread (the compiled loop releases the GIL) while the
    # decoder works on frame i + 1; at most two frames wait, so memory stays bounded.
    pending: deque[tuple[float, Future[LightLevel]]] = deque()

    def collect() -> None:
        t, level = pending.popleft()
        result_level = level.result()
        times.append(t)
        peaks.append(result_level.peak_nits)
        averages.append(result_level.average_nits)

    with open_video(src) as container, ThreadPoolExecutor(1, "light-level") as pool:
        stream = video_stream(container, src.name)
        stream.thread_type = "AUTO"
        tb = stream.time_base or Fraction(1, 1)
        start = float(stream.start_time * tb) if stream.start_time is not None else 0.0
        try:
            for index, frame in enumerate(container.decode(stream)):
                if should_cancel and should_cancel():
                    raise MediaError("The light-level analysis was cancelled.")
                t = (frame.time - start) if frame.time is not None else index / (clip.fps or 24)
                pending.append((round(float(t), 6),
                                pool.submit(frame_light_level, frame, clip, model)))
                while len(pending) > 2:
                    collect()
                if progress and (index % 4 == 0):
                    progress(min((index + 1) / max(clip.frame_count, 1), 0.99))
            while pending:
                collect()
        except av.error.FFmpegError as err:
            raise MediaError(
                f"'{src.name}' could not be decoded after frame {len(times)}; it looks "
                "truncated or damaged."
            ) from err
        finally:
            for _t, level in pending:
                level.cancel()
    if not peaks:
        raise MediaError(f"'{src.name}' has no decodable frames.")
    cll_i = int(np.argmax(peaks))
    fall_i = int(np.argmax(averages))
    result = ClipAnalysis(
        source_name=src.name, transfer=clip.color_transfer or "", hlg_peak_nits=hlg_peak_nits,
        frame_count=len(peaks), fps=clip.fps, max_cll=peaks[cll_i], max_fall=averages[fall_i],
        max_cll_frame=cll_i, max_fall_frame=fall_i, times_s=times, peak_nits=peaks,
        average_nits=averages, light_model=model.describe(),
        seconds=round(time.perf_counter() - started, 3),
    )  # fmt: skip
    out = _cache_path(src, Path(cache_dir), hlg_peak_nits)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(asdict(result)), encoding="utf-8")
    tmp.replace(out)
    if progress:
        progress(1.0)
    return result


@dataclass
class AnalysisTask:
    """A background :func:`analyse_clip` run: ``progress`` 0–1, then ``result`` or ``error``."""

    progress: float = 0.0
    result: ClipAnalysis | None = None
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)


_TASKS: dict[str, AnalysisTask] = {}
_TASKS_LOCK = threading.Lock()


def analyse_in_background(
    source: str | Path, cache_dir: str | Path, *, hlg_peak_nits: float = HLG_NOMINAL_PEAK_NITS
) -> AnalysisTask:
    """Start (or join) one background thread running :func:`analyse_clip` for ``source``.

    One task per file and peak per process, so every browser tab watching the same result
    shares it. For a process-wide work queue, run :func:`analyse_clip` there instead.
    """
    key = f"{Path(source).resolve()}|{hlg_peak_nits:g}|{Path(cache_dir).resolve()}"
    with _TASKS_LOCK:
        task = _TASKS.get(key)
        if task is not None and not (task.done.is_set() and task.error):
            return task
        task = AnalysisTask()
        _TASKS[key] = task

    def run() -> None:
        def report(frac: float) -> None:
            task.progress = frac

        try:
            task.result = analyse_clip(source, cache_dir, progress=report,
                                       hlg_peak_nits=hlg_peak_nits)
        except MediaError as err:
            task.error = str(err)
        except Exception as err:  # noqa: BLE001 — a background thread must record, not die
            task.error = f"The light-level analysis failed ({type(err).__name__})."
        finally:
            task.done.set()

    threading.Thread(target=run, name="clip-light-analysis", daemon=True).start()
    return task


__all__ = [
    "ANALYSIS_VERSION",
    "BT2020_TO_P3",
    "FALSE_COLOUR_BANDS",
    "HLG_NOMINAL_PEAK_NITS",
    "WAVEFORM_LINES_NITS",
    "AnalysisTask",
    "Band",
    "ClipAnalysis",
    "FrameScopes",
    "HdrMetadata",
    "LightLevel",
    "LightModel",
    "analyse_clip",
    "analyse_in_background",
    "false_colour_bands",
    "false_colour_image",
    "frame_light_level",
    "frame_scopes",
    "load_clip_analysis",
    "log_nits_histogram",
    "read_frame_at",
    "read_hdr_metadata",
    "tone_map_description",
    "waveform",
]
