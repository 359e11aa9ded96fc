"""Plotly figures for the HDR inspector and the EXR frame browser (pure functions, no UI).

Each function takes measurements from :mod:`studio.media.hdr` or :mod:`studio.media.exr`
and returns a ``plotly.graph_objects.Figure``; components only show them. Axes are in
cd/m² (log scale, 0.1–10,000) with reference lines at 100 (SDR white), 203 (HDR reference
white, ITU-R BT.2408), 1000 and 4000 cd/m².
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from studio.media.hdr import (
    FALSE_COLOUR_BANDS,
    SCOPE_MAX_NITS,
    SCOPE_MIN_NITS,
    WAVEFORM_LINES_NITS,
    ClipAnalysis,
)

_LINE_NAMES = {100.0: "100 SDR white", 203.0: "203 ref. white", 1000.0: "1000", 4000.0: "4000"}


def _layout(fig: go.Figure, title: str, height: int = 260) -> go.Figure:
    fig.update_layout(title=dict(text=title, x=0, font=dict(size=14)), height=height,
                      margin=dict(l=10, r=10, t=36, b=10), showlegend=False,
                      template="plotly_white")
    return fig


def _log_label(fig: go.Figure, value: float, text: str, colour: str, *, x: float = 1.0) -> None:
    """A label at ``value`` on a log y axis (plotly wants log10 of the value for annotations
    on log axes; ``add_hline``'s own annotation gets this wrong and blows up the range)."""
    fig.add_annotation(x=x, xref="paper", y=math.log10(max(value, 1e-6)), yref="y", text=text,
                       showarrow=False, xanchor="right" if x >= 1 else "left", yanchor="bottom",
                       font=dict(size=10, color=colour))


def histogram_figure(histogram: tuple, *, title: str = "Luminance histogram") -> go.Figure:
    """Bars of pixel counts per log-spaced luminance bin (x in cd/m², log axis)."""
    counts, edges, below, above = histogram
    centres = np.sqrt(edges[:-1] * edges[1:])
    widths = edges[1:] - edges[:-1]
    fig = go.Figure(go.Bar(x=centres, y=counts, width=widths, marker_color="#4c78a8",
                           hovertemplate="%{x:.3g} cd/m²: %{y} px<extra></extra>"))
    for nits in WAVEFORM_LINES_NITS:
        fig.add_vline(x=nits, line=dict(color="#999", dash="dot", width=1))
    fig.update_xaxes(type="log", range=[math.log10(SCOPE_MIN_NITS), math.log10(SCOPE_MAX_NITS)],
                     title_text="cd/m² (log)")
    fig.update_yaxes(title_text="pixels")
    note = f" · {below:,} px below 0.1, {above:,} above 10,000" if below or above else ""
    return _layout(fig, title + note)


def waveform_figure(wave: np.ndarray, *, title: str = "Waveform (luminance)") -> go.Figure:
    """Density of pixels per (x position, log luminance) with lines at 100/203/1000/4000."""
    rows, cols = wave.shape
    lo, hi = math.log10(SCOPE_MIN_NITS), math.log10(SCOPE_MAX_NITS)
    y = np.power(10.0, lo + (np.arange(rows) + 0.5) * (hi - lo) / rows)
    z = np.log1p(wave.astype(np.float32))
    # Dark background and a green trace, like a hardware scope; empty cells stay black.
    scale = [[0.0, "#000000"], [0.15, "#0b3d0b"], [0.6, "#37c837"], [1.0, "#eaffea"]]
    fig = go.Figure(go.Heatmap(z=z, x=np.arange(cols), y=y, colorscale=scale,
                               showscale=False, hoverinfo="skip"))
    for nits in WAVEFORM_LINES_NITS:
        fig.add_hline(y=nits, line=dict(color="#d62728" if nits >= 1000 else "#bbb",
                                         dash="dash", width=1))
        _log_label(fig, nits, _LINE_NAMES[nits], "#d62728" if nits >= 1000 else "#ddd")
    fig.update_yaxes(type="log", range=[lo, hi], title_text="cd/m² (log)")
    fig.update_xaxes(title_text="picture x (left → right)", showticklabels=False)
    fig.update_layout(plot_bgcolor="#111")
    return _layout(fig, title, height=300)


def light_level_figure(analysis: ClipAnalysis) -> go.Figure:
    """Each frame's peak (max of max(R,G,B)) and average light level over time, with the
    clip's MaxCLL and MaxFALL marked (CTA-861.3-A Annex P)."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=analysis.times_s, y=analysis.peak_nits, name="frame peak",
                             mode="lines", line=dict(color="#e45756"),
                             hovertemplate="%{x:.2f} s: peak %{y:.1f} cd/m²<extra></extra>"))
    fig.add_trace(go.Scatter(x=analysis.times_s, y=analysis.average_nits,
                             name="frame average (FALL)", mode="lines",
                             line=dict(color="#4c78a8"),
                             hovertemplate="%{x:.2f} s: average %{y:.1f} cd/m²<extra></extra>"))
    fig.add_hline(y=analysis.max_cll, line=dict(color="#e45756", dash="dot", width=1))
    _log_label(fig, analysis.max_cll, f"MaxCLL {analysis.max_cll:,.0f}", "#e45756", x=0.0)
    fig.add_hline(y=analysis.max_fall, line=dict(color="#4c78a8", dash="dot", width=1))
    _log_label(fig, analysis.max_fall, f"MaxFALL {analysis.max_fall:,.0f}", "#4c78a8", x=0.0)
    fig.update_yaxes(type="log", title_text="cd/m² (log)")
    fig.update_xaxes(title_text="time (s)")
    _layout(fig, "Light level per frame", height=280)
    fig.update_layout(showlegend=True, legend=dict(orientation="h", y=-0.3, x=0))
    return fig


def band_legend() -> list[tuple[str, str]]:
    """(label, CSS colour) per false-colour band, the SDR band shown as a grey ramp."""
    return [(b.label, b.colour or "linear-gradient(90deg,#1e1e1e,#e6e6e6)")
            for b in FALSE_COLOUR_BANDS]
