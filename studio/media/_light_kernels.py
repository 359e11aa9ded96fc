"""Compiled per-pixel loops for light levels (numba): one pass over a decoded Y'CbCr frame
that gives the frame's peak and the sum of max(R, G, B) in cd/m² (CTA-861.3-A Annex P).

Why compiled: the same arithmetic in numpy makes and reads half a dozen full-size temporary
arrays per frame (30 ms for 1920×1080); one fused loop reads each sample once and keeps
MaxCLL/MaxFALL within 1.5× of a bare decode (issue 8, ``bench/maxcll_speed.py``). The
formulas are :mod:`studio.media.hdr`'s, step for step and in the same float32 arithmetic:

- a chroma sample's R'−Y', G'−Y', B'−Y' offsets from Cb, Cr (ITU-T H.273 / BT.2020 matrix
  coefficients ``kr``, ``kb``), in quarter luma codes;
- PQ (SMPTE ST 2084): max(R, G, B) in light is the EOTF of max(R', G', B'), so one table
  lookup per pixel of ``Y' + max(offset)``;
- HLG (BT.2100): scene light per channel by table, the OOTF gain Lw·Ys^(γ−1) by a table
  indexed with √Ys × 65535.

Arrays are 2-D views of the decoded planes (any strides): ``y`` full size, ``cb``/``cr`` at
chroma size, ``sy``×``sx`` luma samples per chroma sample. Compiled on first use and cached
next to this file (``cache=True``); ``nogil``: a caller may run frames on another thread.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _offsets_row(cb_row, cr_row, centre, c_r, c_gr, c_gb, c_b, per, out_r, out_g, out_b):
    """Quarter-code R'−Y', G'−Y', B'−Y' of one chroma row, in float32 when the constants are
    (the one place this arithmetic is written: the light levels and the scopes both use it)."""
    for j in range(cb_row.shape[0]):
        crf = np.float32(cr_row[j]) - centre
        cbf = np.float32(cb_row[j]) - centre
        out_r[j] = (c_r * crf) * per
        out_g[j] = (-(c_gr * crf + c_gb * cbf)) * per
        out_b[j] = (c_b * cbf) * per


@numba.njit(cache=True, nogil=True)
def chroma_offsets(cb, cr, centre, c_r, c_gr, c_gb, c_b, per):
    """(3, h, w) float32: every chroma sample's quarter-code R'−Y', G'−Y', B'−Y' (the
    scopes' planes, :func:`studio.media.hdr._frame_planes`)."""
    h, w = cb.shape
    out = np.empty((3, h, w), np.float32)
    for ci in range(h):
        _offsets_row(cb[ci], cr[ci], centre, c_r, c_gr, c_gb, c_b, per, out[0, ci], out[1, ci],
                     out[2, ci])
    return out


@numba.njit(cache=True, nogil=True, fastmath=True)  # fastmath: the sum may be reassociated
def pq_light(y, cb, cr, sy, sx, centre, c_r, c_gr, c_gb, c_b, per, nits):
    """(peak cd/m², sum of cd/m² over pixels, pixel count) of a PQ frame. ``nits[k]`` is the
    light of quarter-code level ``k`` (clipped signal); levels past its end read its last."""
    h, w = cb.shape
    top = nits.shape[0] - 1
    off = np.empty(w, np.int32)
    r = np.empty(w, np.float32)
    g = np.empty(w, np.float32)
    b = np.empty(w, np.float32)
    peak = 0
    total = 0.0
    for ci in range(h):
        _offsets_row(cb[ci], cr[ci], centre, c_r, c_gr, c_gb, c_b, per, r, g, b)
        for j in range(w):
            off[j] = np.int32(np.rint(max(max(r[j], g[j]), b[j])))
        for di in range(sy):
            row = y[ci * sy + di]
            part = 0.0  # this row's sum: keeps the loop's add chain short
            for k in range(w):
                o = off[k]
                for dx in range(sx):
                    c = np.int32(row[k * sx + dx]) * 4 + o
                    if c < 0:
                        c = 0
                    elif c > top:
                        c = top
                    if c > peak:
                        peak = c
                    part += nits[c]
            total += part
    return nits[peak], total, h * sy * w * sx


@numba.njit(cache=True, nogil=True)
def hlg_light(y, cb, cr, sy, sx, centre, c_r, c_gr, c_gb, c_b, per, scene, gain):
    """(peak cd/m², sum of cd/m² over pixels, pixel count) of an HLG frame: ``scene[k]`` is
    the scene light of quarter-code level ``k`` (0…top), ``gain[i]`` the OOTF gain at
    Ys = (i/65535)²."""
    h, w = cb.shape
    width = w * sx
    top = scene.shape[0] - 1
    ro = np.empty(width, np.int32)  # this chroma row's offsets, repeated to full width
    go = np.empty(width, np.int32)
    bo = np.empty(width, np.int32)
    r = np.empty(w, np.float32)
    g = np.empty(w, np.float32)
    b = np.empty(w, np.float32)
    wr, wg, wb = np.float32(0.2627), np.float32(0.6780), np.float32(0.0593)  # BT.2020 luma
    peak = np.float32(0.0)
    total = 0.0
    for ci in range(h):
        _offsets_row(cb[ci], cr[ci], centre, c_r, c_gr, c_gb, c_b, per, r, g, b)
        for k in range(w):
            rk, gk, bk = np.int32(np.rint(r[k])), np.int32(np.rint(g[k])), np.int32(np.rint(b[k]))
            for dx in range(sx):
                ro[k * sx + dx] = rk
                go[k * sx + dx] = gk
                bo[k * sx + dx] = bk
        for di in range(sy):
            row = y[ci * sy + di]
            part = 0.0
            for j in range(width):
                y4 = np.int32(row[j]) * 4
                er = scene[min(max(y4 + ro[j], 0), top)]
                eg = scene[min(max(y4 + go[j], 0), top)]
                eb = scene[min(max(y4 + bo[j], 0), top)]
                ys = er * wr + eg * wg + eb * wb
                e = max(max(er, eg), eb) * gain[np.int32(np.sqrt(ys) * np.float32(65535.0))]
                peak = max(peak, e)
                part += e
            total += part
    return peak, total, h * sy * width
