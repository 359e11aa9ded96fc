"""Test clips made from known code values, and an independent light-level reference.

The reference (:func:`independent_light_levels`) uses colour-science for every formula
(Y'CbCr → R'G'B', ST 2084 EOTF, BT.2100 HLG inverse OETF + OOTF) and PyAV only to decode,
so the code under test never produces an expected value.
"""

from __future__ import annotations

import warnings
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import colour  # noqa: E402  (colour-science warns about optional SciPy/Matplotlib)

colour.utilities.filter_warnings(colour_usage_warnings=True, python_warnings=True)

PQ, HLG = "smpte2084", "arib-std-b67"
BT2020_K = colour.WEIGHTS_YCBCR["ITU-R BT.2020"]


def pq_code(nits: float, bits: int) -> int:
    """Narrow-range luma code of a grey at ``nits`` (colour-science's ST 2084 inverse EOTF)."""
    e = float(colour.models.eotf_inverse_ST2084(nits))
    return int(round((219.0 * e + 16.0) * 2 ** (bits - 8)))


def hlg_code(nits: float, bits: int, peak: float = 1000.0) -> int:
    """Narrow-range luma code of a grey shown at ``nits`` through the HLG OOTF at ``peak``.

    For a grey, display Y = Lw·Ys^γ (BT.2100 Table 5), so Ys = (Y/Lw)^(1/γ); then the OETF.
    """
    gamma = 1.2 + 0.42 * np.log10(peak / 1000.0)
    with np.errstate(invalid="ignore"):  # colour evaluates both branches of the OETF
        e = float(colour.models.oetf_BT2100_HLG((nits / peak) ** (1.0 / gamma)))
    return int(round((219.0 * e + 16.0) * 2 ** (bits - 8)))


def code_nits(code: int, bits: int, trc: str, peak: float = 1000.0) -> float:
    """What a grey luma code really shows, by colour-science (the exact target of a patch)."""
    e = (code / 2 ** (bits - 8) - 16.0) / 219.0
    if trc == PQ:
        return float(colour.models.eotf_ST2084(e))
    scene = np.full(3, float(colour.models.oetf_inverse_BT2100_HLG(e)))
    return float(colour.models.ootf_BT2100_HLG(scene, L_B=0, L_W=peak)[0])


def write_code_clip(path: Path, planes: list[tuple[np.ndarray, np.ndarray, np.ndarray]], *,
                    trc: str, bits: int = 10, codec: str = "libx265", fps: int = 24) -> Path:
    """Encode frames given as (Y, Cb, Cr) code planes (4:2:0 for libx265, 4:4:4 for ffv1),
    losslessly, tagged BT.2020 / ``trc`` / BT.2020 NCL / limited range."""
    pix_fmt = {("libx265", 10): "yuv420p10le", ("ffv1", 16): "yuv444p16le",
               ("ffv1", 10): "yuv444p10le"}[(codec, bits)]
    options = {"x265-params": "lossless=1:log-level=error"} if codec == "libx265" else {}
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps, options=options)
        h, w = planes[0][0].shape
        stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
        cc = stream.codec_context
        cc.color_primaries, cc.colorspace, cc.color_range = 9, 9, 1
        cc.color_trc = 16 if trc == PQ else 18
        for i, (y, cb, cr) in enumerate(planes):
            frame = av.VideoFrame(w, h, pix_fmt)
            for plane, data in zip(frame.planes, (y, cb, cr), strict=True):
                view = np.frombuffer(memoryview(plane), dtype=np.uint16).reshape(
                    plane.height, plane.line_size // 2)
                view[:, : data.shape[1]] = data
            frame.pts, frame.time_base = i, Fraction(1, fps)
            frame.color_primaries, frame.colorspace, frame.color_range = 9, 9, 1
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def grey_patch_planes(codes: list[int], *, bits: int, patch: int = 32, chroma_sub: int = 2,
                      frames: int = 2) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """A row of square grey patches with the given luma codes (chroma at neutral)."""
    y = np.concatenate([np.full((patch, patch), c, np.uint16) for c in codes], axis=1)
    mid = 2 ** (bits - 1)
    shape = (patch // chroma_sub, y.shape[1] // chroma_sub)
    c = np.full(shape, mid, np.uint16)
    return [(y.copy(), c.copy(), c.copy()) for _ in range(frames)]


def _plane(plane) -> np.ndarray:
    view = np.frombuffer(memoryview(plane), dtype=np.uint16)
    return view.reshape(plane.height, plane.line_size // 2)[:, : plane.width]


def independent_light_levels(path: Path, trc: str, *, peak: float = 1000.0, bits: int = 10
                             ) -> tuple[list[float], list[float]]:
    """Per frame (max over pixels, mean over pixels) of max(R, G, B) in cd/m², per
    CTA-861.3-A Annex P, with colour-science doing every formula. Chroma is repeated to
    full size (each pixel takes its 4:2:0 chroma sample).

    Each distinct (Y', Cb, Cr) code triple of a frame goes through colour-science once and
    counts as often as it occurs, so the peak and the mean are exactly those of the
    per-pixel computation, at a fraction of its time on natural pictures."""
    peaks, means = [], []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            y, cb, cr = (_plane(p).astype(np.int64) for p in frame.planes)
            sy, sx = y.shape[0] // cb.shape[0], y.shape[1] // cb.shape[1]
            cb = np.repeat(np.repeat(cb, sy, axis=0), sx, axis=1)
            cr = np.repeat(np.repeat(cr, sy, axis=0), sx, axis=1)
            keys, counts = np.unique((y << 32) | (cb << 16) | cr, return_counts=True)
            ycbcr = np.stack([keys >> 32, (keys >> 16) & 0xFFFF, keys & 0xFFFF],
                             axis=-1).astype(np.float64)
            rgb = colour.YCbCr_to_RGB(ycbcr, K=BT2020_K, in_bits=bits, in_legal=True,
                                      in_int=True, clamp_int=False)
            rgb = np.clip(rgb, 0.0, 1.0)
            if trc == PQ:
                light = colour.models.eotf_ST2084(rgb)
            else:
                scene = colour.models.oetf_inverse_BT2100_HLG(rgb)
                light = colour.models.ootf_BT2100_HLG(scene, L_B=0, L_W=peak)
            top = light.max(axis=-1)
            peaks.append(float(top.max()))
            means.append(float(np.dot(counts, top) / counts.sum()))
    return peaks, means
