"""Colour math for HDR/SDR conversion: transfer functions, primaries, Y'CbCr and tone mapping.

This module owns the pure numpy formulas the media helpers and the sandbox use to turn pixels
into light and back. Nothing here touches files or codecs: every function takes and returns
numpy arrays (any shape; RGB arrays have the colour channels on the last axis) and works in
``float32`` unless stated otherwise.

Units and conventions:

* "signal" is a non-linear code value normalised to 0–1 (E' in the ITU texts).
* "nits" is absolute display luminance in cd/m² (PQ, display-referred HDR).
* "relative linear" is linear light where 1.0 is the SDR peak white (BT.1886 / sRGB decode).
* HDR reference (diffuse) white is 203 nits, per ITU-R BT.2408 §2.2.

Sources are named in each docstring: SMPTE ST 2084 (PQ), ARIB STD-B67 and ITU-R BT.2100 (HLG),
ITU-R BT.1886, IEC 61966-2-1 (sRGB), ITU-R BT.709, BT.2020, BT.2087 (primaries conversion),
BT.2390 (EETF) and BT.2408 (reference white).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "BT709_TO_BT2020",
    "BT2020_TO_BT709",
    "HDR_REFERENCE_WHITE_NITS",
    "LUMA_BT709",
    "LUMA_BT2020",
    "PQ_MAX_NITS",
    "apply_matrix",
    "bt1886_eotf",
    "bt1886_inverse_eotf",
    "eetf_bt2390",
    "hlg_inverse_ootf",
    "hlg_inverse_oetf",
    "hlg_ootf",
    "hlg_oetf",
    "hlg_system_gamma",
    "inverse_tone_map",
    "luminance",
    "pq_eotf",
    "pq_inverse_eotf",
    "rgb_to_ycbcr_bt2020",
    "srgb_decode",
    "srgb_encode",
    "tone_map_sdr",
    "ycbcr_to_rgb_bt2020",
]

F32 = np.float32

#: HDR reference white in nits (ITU-R BT.2408-7 §2.2: "HDR Reference White" = 203 cd/m²).
HDR_REFERENCE_WHITE_NITS = 203.0
#: Peak luminance representable by PQ (SMPTE ST 2084: 10 000 cd/m²).
PQ_MAX_NITS = 10000.0

# --- SMPTE ST 2084 (PQ) constants, exactly as rational numbers in the standard. -----------------
_PQ_M1 = 2610.0 / 16384.0
_PQ_M2 = 2523.0 / 4096.0 * 128.0
_PQ_C1 = 3424.0 / 4096.0
_PQ_C2 = 2413.0 / 4096.0 * 32.0
_PQ_C3 = 2392.0 / 4096.0 * 32.0

# --- ARIB STD-B67 / ITU-R BT.2100 Table 5 (HLG) constants. --------------------------------------
_HLG_A = 0.17883277
_HLG_B = 1.0 - 4.0 * _HLG_A  # 0.28466892
_HLG_C = 0.5 - _HLG_A * np.log(4.0 * _HLG_A)  # 0.55991073

#: Luma coefficients (Kr, Kg, Kb) of ITU-R BT.709-6 item 3.2 (also the sRGB luminance weights).
LUMA_BT709 = np.array([0.2126, 0.7152, 0.0722], dtype=F32)
#: Luma coefficients (Kr, Kg, Kb) of ITU-R BT.2020-2 Table 4 / BT.2100 Table 6.
LUMA_BT2020 = np.array([0.2627, 0.6780, 0.0593], dtype=F32)


def _f32(x: np.ndarray | float) -> np.ndarray:
    return np.asarray(x, dtype=F32)


# ================================ PQ (SMPTE ST 2084) =============================================


def pq_eotf(signal: np.ndarray | float) -> np.ndarray:
    """PQ signal (0–1) → display luminance in nits (0–10 000).

    SMPTE ST 2084:2014 eq. 4.1 (also ITU-R BT.2100 Table 4, "EOTF"). Values outside 0–1 are
    clipped first, because a signal above 1 has no defined luminance.
    """
    e = np.clip(_f32(signal), 0.0, 1.0)
    p = np.power(e, F32(1.0 / _PQ_M2))
    num = np.maximum(p - F32(_PQ_C1), 0.0)
    den = F32(_PQ_C2) - F32(_PQ_C3) * p
    return (np.power(num / den, F32(1.0 / _PQ_M1)) * F32(PQ_MAX_NITS)).astype(F32)


def pq_inverse_eotf(nits: np.ndarray | float) -> np.ndarray:
    """Display luminance in nits (0–10 000) → PQ signal (0–1).

    SMPTE ST 2084:2014 eq. 5.2 (ITU-R BT.2100 Table 4, "inverse EOTF"). Reference values:
    100 nits → 0.5081, 1000 nits → 0.7518, 10 000 nits → 1.0. Negative input is clipped to 0.
    """
    y = np.clip(_f32(nits) / F32(PQ_MAX_NITS), 0.0, 1.0)
    ym = np.power(y, F32(_PQ_M1))
    return np.power(
        (F32(_PQ_C1) + F32(_PQ_C2) * ym) / (F32(1.0) + F32(_PQ_C3) * ym), F32(_PQ_M2)
    ).astype(F32)


# ================================ HLG (ARIB STD-B67 / BT.2100) ===================================


def hlg_oetf(scene: np.ndarray | float) -> np.ndarray:
    """Normalised scene linear light E (0–1) → HLG signal E' (0–1).

    ARIB STD-B67 / ITU-R BT.2100-2 Table 5 "OETF": E' = sqrt(3E) for E ≤ 1/12, otherwise
    a·ln(12E − b) + c. Reference values: E = 1/12 → 0.5, E = 1 → 1.0.
    """
    e = np.clip(_f32(scene), 0.0, 1.0)
    low = np.sqrt(F32(3.0) * e)
    # np.maximum keeps the log argument positive on the branch that np.where discards.
    high = F32(_HLG_A) * np.log(np.maximum(F32(12.0) * e - F32(_HLG_B), F32(1e-6))) + F32(_HLG_C)
    return np.where(e <= F32(1.0 / 12.0), low, high).astype(F32)


def hlg_inverse_oetf(signal: np.ndarray | float) -> np.ndarray:
    """HLG signal E' (0–1) → normalised scene linear light E (0–1).

    ITU-R BT.2100-2 Table 5 "inverse OETF": E = E'²/3 for E' ≤ 1/2, otherwise
    (exp((E' − c)/a) + b)/12.
    """
    e = np.clip(_f32(signal), 0.0, 1.0)
    low = e * e / F32(3.0)
    high = (np.exp((e - F32(_HLG_C)) / F32(_HLG_A)) + F32(_HLG_B)) / F32(12.0)
    return np.where(e <= F32(0.5), low, high).astype(F32)


def hlg_system_gamma(peak_nits: float = 1000.0) -> float:
    """HLG system gamma for a display of nominal peak ``peak_nits``.

    ITU-R BT.2100-2 Table 5 note 5f: γ = 1.2 + 0.42·log10(Lw / 1000); 1.2 at 1000 nits.
    """
    return 1.2 + 0.42 * float(np.log10(peak_nits / 1000.0))


def hlg_ootf(scene_rgb: np.ndarray, *, peak_nits: float = 1000.0) -> np.ndarray:
    """Scene linear BT.2020 RGB (0–1, shape (..., 3)) → display light in nits.

    ITU-R BT.2100-2 Table 5 "OOTF": F_D = α·Y_S^(γ−1)·E with α = Lw (black level 0),
    Y_S = 0.2627 R + 0.6780 G + 0.0593 B and γ from :func:`hlg_system_gamma`.
    """
    rgb = np.maximum(_f32(scene_rgb), 0.0)
    gamma = hlg_system_gamma(peak_nits)
    ys = luminance(rgb, LUMA_BT2020)
    gain = F32(peak_nits) * np.power(np.maximum(ys, F32(1e-12)), F32(gamma - 1.0))
    return (rgb * gain[..., None]).astype(F32)


def hlg_inverse_ootf(display_rgb_nits: np.ndarray, *, peak_nits: float = 1000.0) -> np.ndarray:
    """Display light BT.2020 RGB in nits (shape (..., 3)) → scene linear RGB (0–1).

    Inverse of ITU-R BT.2100-2 Table 5 OOTF (BT.2390 §6.2): Y_S = (Y_D/α)^(1/γ),
    E = (F_D/α)·Y_S^(1−γ). With γ = 1.2 and α = 1000 nits, HDR reference white (203 nits)
    lands at HLG signal 0.75, as BT.2408 Table 1 expects.
    """
    rgb = np.maximum(_f32(display_rgb_nits), 0.0) / F32(peak_nits)
    gamma = hlg_system_gamma(peak_nits)
    yd = np.maximum(luminance(rgb, LUMA_BT2020), F32(1e-12))
    # Y_S^(1-γ) = (Y_D)^((1-γ)/γ), folded into one power for speed.
    gain = np.power(yd, F32((1.0 - gamma) / gamma))
    return np.clip(rgb * gain[..., None], 0.0, 1.0).astype(F32)


# ================================ SDR transfer functions ========================================


def bt1886_eotf(
    signal: np.ndarray | float, *, white: float = 1.0, black: float = 0.0, gamma: float = 2.4
) -> np.ndarray:
    """BT.709 video signal V (0–1) → display light (relative, 1.0 = ``white``).

    ITU-R BT.1886 Annex 1: L = a·max(V + b, 0)^γ with a = (Lw^(1/γ) − Lb^(1/γ))^γ,
    b = Lb^(1/γ)/(Lw^(1/γ) − Lb^(1/γ)), γ = 2.4. With the default zero black level this is
    L = V^2.4, the reference decoding of SDR BT.709 video.
    """
    v = np.clip(_f32(signal), 0.0, 1.0)
    lw, lb = white ** (1.0 / gamma), black ** (1.0 / gamma)
    a = (lw - lb) ** gamma
    b = lb / (lw - lb)
    return (F32(a) * np.power(np.maximum(v + F32(b), 0.0), F32(gamma))).astype(F32)


def bt1886_inverse_eotf(
    light: np.ndarray | float, *, white: float = 1.0, black: float = 0.0, gamma: float = 2.4
) -> np.ndarray:
    """Display light (relative, 1.0 = ``white``) → BT.709 video signal V (0–1).

    Inverse of ITU-R BT.1886 Annex 1 (see :func:`bt1886_eotf`). Input is clipped to
    [black, white] because SDR cannot carry light outside that range.
    """
    lw, lb = white ** (1.0 / gamma), black ** (1.0 / gamma)
    a = (lw - lb) ** gamma
    b = lb / (lw - lb)
    light_c = np.clip(_f32(light), black, white)
    return np.clip(np.power(light_c / F32(a), F32(1.0 / gamma)) - F32(b), 0.0, 1.0).astype(F32)


def srgb_decode(signal: np.ndarray | float) -> np.ndarray:
    """sRGB-encoded value (0–1) → linear light (0–1).

    IEC 61966-2-1:1999 §5.2: V/12.92 for V ≤ 0.04045, else ((V + 0.055)/1.055)^2.4.
    """
    v = np.clip(_f32(signal), 0.0, 1.0)
    return np.where(
        v <= F32(0.04045), v / F32(12.92), np.power((v + F32(0.055)) / F32(1.055), F32(2.4))
    ).astype(F32)


def srgb_encode(linear: np.ndarray | float) -> np.ndarray:
    """Linear light (0–1, clipped) → sRGB-encoded value (0–1).

    IEC 61966-2-1:1999 §5.3: 12.92·L for L ≤ 0.0031308, else 1.055·L^(1/2.4) − 0.055.
    """
    x = np.clip(_f32(linear), 0.0, 1.0)
    return np.where(
        x <= F32(0.0031308),
        x * F32(12.92),
        F32(1.055) * np.power(x, F32(1.0 / 2.4)) - F32(0.055),
    ).astype(F32)


# ================================ Primaries and Y'CbCr ==========================================


def _rgb_to_xyz(primaries: tuple[float, ...], white: tuple[float, float]) -> np.ndarray:
    """Normalised primary matrix from xy chromaticities (SMPTE RP 177 §3.3)."""
    xr, yr, xg, yg, xb, yb = primaries
    xw, yw = white
    m = np.array(
        [
            [xr / yr, xg / yg, xb / yb],
            [1.0, 1.0, 1.0],
            [(1 - xr - yr) / yr, (1 - xg - yg) / yg, (1 - xb - yb) / yb],
        ]
    )
    w = np.array([xw / yw, 1.0, (1 - xw - yw) / yw])
    return m * np.linalg.solve(m, w)


_D65 = (0.3127, 0.3290)
_BT709_PRIMARIES = (0.640, 0.330, 0.300, 0.600, 0.150, 0.060)  # ITU-R BT.709-6 item 1.3
_BT2020_PRIMARIES = (0.708, 0.292, 0.170, 0.797, 0.131, 0.046)  # ITU-R BT.2020-2 Table 3

#: Linear BT.709 RGB → linear BT.2020 RGB (ITU-R BT.2087-0 eq. 4; rows ≈ 0.6274 0.3293 0.0433 …).
BT709_TO_BT2020 = (
    np.linalg.inv(_rgb_to_xyz(_BT2020_PRIMARIES, _D65)) @ _rgb_to_xyz(_BT709_PRIMARIES, _D65)
).astype(F32)
#: Linear BT.2020 RGB → linear BT.709 RGB (inverse of ITU-R BT.2087 eq. 4; rows ≈ 1.6605 …).
#: Colours outside the BT.709 gamut come out negative; callers clip.
BT2020_TO_BT709 = np.linalg.inv(BT709_TO_BT2020.astype(np.float64)).astype(F32)


def apply_matrix(rgb: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Multiply every RGB triple (last axis, shape (..., 3)) by a 3×3 ``matrix``: out = M·rgb."""
    return np.matmul(_f32(rgb), np.asarray(matrix, dtype=F32).T)


def luminance(rgb: np.ndarray, weights: np.ndarray = LUMA_BT709) -> np.ndarray:
    """Weighted sum of the RGB channels (shape (..., 3) → (...)): linear luminance Y.

    Use :data:`LUMA_BT709` for BT.709/sRGB primaries, :data:`LUMA_BT2020` for BT.2020.
    """
    return np.matmul(_f32(rgb), np.asarray(weights, dtype=F32))


def rgb_to_ycbcr_bt2020(
    rgb_signal: np.ndarray, *, bits: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Non-linear BT.2020 R'G'B' signal (0–1, shape (..., 3)) → narrow-range digital Y', Cb, Cr.

    ITU-R BT.2020-2 Table 4 (non-constant luminance): Y' = 0.2627R' + 0.6780G' + 0.0593B',
    C'b = (B' − Y')/1.8814, C'r = (R' − Y')/1.4746. Quantisation per Table 5 / BT.2100 Table 9:
    D_Y = round((219·Y' + 16)·2^(n−8)), D_C = round((224·C' + 128)·2^(n−8)), so 10-bit luma
    spans 64–940 and chroma 64–960 around 512. Returns three ``uint16`` arrays of shape (...).
    """
    rgb = np.clip(_f32(rgb_signal), 0.0, 1.0)
    scale = F32(1 << (bits - 8))
    y = luminance(rgb, LUMA_BT2020)
    cb = (rgb[..., 2] - y) / F32(1.8814)
    cr = (rgb[..., 0] - y) / F32(1.4746)
    dy = np.rint((F32(219.0) * y + F32(16.0)) * scale)
    dcb = np.rint((F32(224.0) * cb + F32(128.0)) * scale)
    dcr = np.rint((F32(224.0) * cr + F32(128.0)) * scale)
    return dy.astype(np.uint16), dcb.astype(np.uint16), dcr.astype(np.uint16)


def ycbcr_to_rgb_bt2020(
    y: np.ndarray, cb: np.ndarray, cr: np.ndarray, *, bits: int = 10
) -> np.ndarray:
    """Narrow-range digital BT.2020 NCL Y', Cb, Cr (same shapes) → R'G'B' signal (..., 3), 0–1.

    Exact inverse of :func:`rgb_to_ycbcr_bt2020` (ITU-R BT.2020-2 Tables 4 and 5).
    """
    scale = F32(1 << (bits - 8))
    yn = (_f32(y) / scale - F32(16.0)) / F32(219.0)
    cbn = (_f32(cb) / scale - F32(128.0)) / F32(224.0)
    crn = (_f32(cr) / scale - F32(128.0)) / F32(224.0)
    r = yn + F32(1.4746) * crn
    b = yn + F32(1.8814) * cbn
    kr, kg, kb = (float(k) for k in LUMA_BT2020)
    g = (yn - F32(kr) * r - F32(kb) * b) / F32(kg)
    return np.clip(np.stack([r, g, b], axis=-1), 0.0, 1.0).astype(F32)


# ================================ Tone mapping ===================================================


def inverse_tone_map(
    rgb_linear: np.ndarray,
    *,
    adjust_exposure: float = 0.5,
    boost_saturation: float = 0.5,
    highlight_threshold: float = 0.65,
    peak_nits: float = 1000.0,
    white_nits: float = HDR_REFERENCE_WHITE_NITS,
) -> np.ndarray:
    """SDR relative linear RGB (0–1, shape (..., 3)) → HDR display light in nits, same primaries.

    The sandbox's stand-in for Topaz Hyperion's SDR→HDR lift. The rule, on the BT.709
    luminance Y of each pixel:

    * Exposure: gain g = 2^(2·(adjust_exposure − 0.5)), i.e. ±1 stop; 0.5 is neutral.
    * Base mapping: L = white_nits·g·Y. SDR diffuse white lands on HDR reference white,
      203 nits (ITU-R BT.2408-7 §5.1 "SDR-to-HDR mapping: SDR 100 % → 203 cd/m²").
    * Highlight expansion: ``highlight_threshold`` (0.45–0.85) is an SDR *signal* level
      (BT.1886, so Y_t = threshold^2.4). Above it, u = (Y − Y_t)/(1 − Y_t) and
      L += (peak_nits − white_nits·g)·u², which joins the base line with matching slope (C¹,
      no visible seam) and reaches ``peak_nits`` (1000) at SDR peak white.
    * Saturation: factor 1 + (boost_saturation − 0.5), i.e. 0.5–1.5; 0.5 is neutral. Applied
      around luminance in linear light, before the luminance gain so hue is kept.

    RGB is scaled by L/Y (hue preserving) and clipped to [0, peak_nits]. The caller converts
    primaries (BT.709 → BT.2020) and applies PQ or HLG.
    """
    rgb = np.maximum(_f32(rgb_linear), 0.0)
    gain = 2.0 ** (2.0 * (float(adjust_exposure) - 0.5))
    y_t = float(np.clip(highlight_threshold, 0.0, 0.99)) ** 2.4
    base = white_nits * gain
    y = luminance(rgb, LUMA_BT709)
    u = np.clip((y - F32(y_t)) / F32(1.0 - y_t), 0.0, 1.0)
    nits = F32(base) * y + F32(max(peak_nits - base, 0.0)) * u * u
    ratio = nits / np.maximum(y, F32(1e-6))
    sat = F32(1.0 + (float(boost_saturation) - 0.5))
    if sat != 1.0:
        rgb = np.maximum(y[..., None] + sat * (rgb - y[..., None]), 0.0)
    return np.clip(rgb * ratio[..., None], 0.0, F32(peak_nits)).astype(F32)


def eetf_bt2390(
    nits: np.ndarray | float, *, source_peak_nits: float, target_peak_nits: float
) -> np.ndarray:
    """Compress display luminance from a ``source_peak_nits`` master to a ``target_peak_nits`` one.

    ITU-R BT.2390-10 §5.4.1 EETF in the PQ domain with black levels at 0: values below the
    knee KS = 1.5·maxLum − 0.5 pass unchanged; above it a Hermite spline rolls off so the
    source peak lands exactly on the target peak. Input and output are nits.
    """
    src_pq = float(pq_inverse_eotf(source_peak_nits))
    max_lum = float(pq_inverse_eotf(target_peak_nits)) / src_pq
    e1 = pq_inverse_eotf(nits) / F32(src_pq)
    if max_lum >= 1.0:  # target at least as bright as the source: nothing to compress
        return pq_eotf(np.minimum(e1, 1.0) * F32(src_pq))
    ks = max(1.5 * max_lum - 0.5, 0.0)
    t = np.clip((e1 - F32(ks)) / F32(1.0 - ks), 0.0, 1.0)
    t2 = t * t
    t3 = t2 * t
    spline = (
        (F32(2.0) * t3 - F32(3.0) * t2 + F32(1.0)) * F32(ks)
        + (t3 - F32(2.0) * t2 + t) * F32(1.0 - ks)
        + (F32(-2.0) * t3 + F32(3.0) * t2) * F32(max_lum)
    )
    e2 = np.where(e1 < F32(ks), e1, spline)
    return pq_eotf(np.minimum(e2, 1.0) * F32(src_pq))


def tone_map_sdr(
    rgb_nits: np.ndarray,
    *,
    source_peak_nits: float = 1000.0,
    hdr_white_nits: float = HDR_REFERENCE_WHITE_NITS,
    sdr_peak_nits: float = 100.0,
) -> np.ndarray:
    """HDR display light in nits (shape (..., 3)) → SDR relative linear light (0–1).

    For previews. First HDR reference white is aligned with SDR peak white (ITU-R BT.2408-7
    §5.2: 203 cd/m² ↔ SDR 100 %), so mid-tones keep their SDR brightness; then the
    ITU-R BT.2390 EETF (:func:`eetf_bt2390`) rolls highlights from the scaled source peak
    into the SDR range. The curve is applied to max(R, G, B) and RGB is scaled by the same
    ratio, which keeps hue and avoids per-channel clipping shifts. Primaries are unchanged;
    encode the result with :func:`bt1886_inverse_eotf` or :func:`srgb_encode`.
    """
    scale = sdr_peak_nits / hdr_white_nits
    rgb = np.maximum(_f32(rgb_nits), 0.0) * F32(scale)
    # Pairwise maximum: numpy's reduction over a length-3 last axis is several times slower.
    peak = np.maximum(np.maximum(rgb[..., 0], rgb[..., 1]), rgb[..., 2])
    mapped = eetf_bt2390(
        peak, source_peak_nits=source_peak_nits * scale, target_peak_nits=sdr_peak_nits
    )
    ratio = mapped / np.maximum(peak, F32(1e-6)) / F32(sdr_peak_nits)
    return np.clip(rgb * ratio[..., None], 0.0, 1.0).astype(F32)
