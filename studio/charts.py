"""Plotly figures built by pure functions; components only show them.

Owns the cost-vs-duration chart: one line per resolution tier over 0–10 minutes, priced by
:func:`studio.pricing.quote` itself (so the chart can never disagree with the quote), with the
current clip marked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from studio import catalog, pricing
from studio.media import ClipInfo

PROVENANCE_DASH = {"published": "solid", "live": "solid", "proxy": "dash", "override": "dot"}


def cost_curve(
    model_id: str,
    clip: ClipInfo,
    params: Mapping[str, Any],
    *,
    max_minutes: float = 10.0,
    points: int = 41,
) -> go.Figure:
    """Cost in USD against clip duration (0–``max_minutes`` min), one line per tier.

    Each point is a real :func:`pricing.quote` for ``clip`` stretched to that duration at its
    own frame rate. Proxy-priced lines are dashed. The current clip with the current
    parameters is a marker. LTX on Oxen prices output frames, so its x axis is the output
    duration (num_frames / frames_per_second) up to its 481-frame cap.
    """
    fig = go.Figure()
    fps = clip.fps or 24.0
    durations = [max_minutes * 60 * i / (points - 1) for i in range(points)]
    for label, overrides, box in pricing.tiers_for_chart(model_id):
        xs, ys, provenance = [], [], "proxy"
        for d in durations:
            frames = max(1, round(d * fps))
            width, height = box or (clip.width, clip.height)
            c = dataclasses.replace(clip, duration_s=d, frame_count=frames, width=width,
                                    height=height)
            p = {**params, **overrides}
            if model_id == catalog.LTX_OXEN:
                out_fps = float(catalog.with_defaults(model_id, p)["frames_per_second"])
                n = round(d * out_fps)
                if n > 481:
                    break
                p["num_frames"] = max(9, n)
            q = pricing.quote(model_id, c, p)
            provenance = q.provenance
            xs.append(d / 60)
            ys.append(float(q.amount_usd))
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines", name=f"{label} ({provenance})",
            line={"dash": PROVENANCE_DASH.get(provenance, "solid")},
            hovertemplate="%{x:.1f} min → $%{y:.2f}<extra>" + label + "</extra>",
        ))
    current = pricing.quote(model_id, clip, params)
    if model_id == catalog.LTX_OXEN:
        p = catalog.with_defaults(model_id, params)
        x_now = float(p["num_frames"]) / float(p["frames_per_second"]) / 60
    else:
        x_now = clip.duration_s / 60
    fig.add_trace(go.Scatter(
        x=[x_now], y=[float(current.amount_usd)], mode="markers+text", name="this clip",
        marker={"size": 12, "symbol": "diamond", "color": "#e4572e"},
        text=[f"${current.amount_usd}"], textposition="top center",
    ))
    fig.update_layout(
        xaxis_title="Clip duration (min)" if model_id != catalog.LTX_OXEN
        else "Output duration (min)",
        yaxis_title="Cost (USD)", yaxis_tickprefix="$", height=340,
        margin={"l": 10, "r": 10, "t": 30, "b": 10}, legend={"orientation": "h", "y": -0.25},
        title={"text": "Cost vs duration by resolution tier", "font": {"size": 14}},
    )
    return fig
