"""Plotly figures built by pure functions; components only show them.

Owns the cost-vs-duration chart of a single clip (:func:`cost_curve`: one line per resolution
tier over 0–10 minutes, the current clip marked) and the Forecast page's figures: a plan's
cost per clip stacked by model (:func:`plan_by_model`), cost vs duration per tier with the
team's rate book (:func:`plan_cost_vs_duration`), the duration × resolution heatmap
(:func:`plan_heatmap`) and the same plan on every model (:func:`model_comparison`).
Every amount is priced by :func:`studio.pricing.quote` itself (through
:mod:`studio.forecast` for the plan figures), so a chart can never disagree with a quote.
Money axes are USD; plotly gets floats, the hover text shows the exact Decimal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pandas as pd
import plotly.graph_objects as go

from studio import forecast, models, pricing
from studio.media import ClipInfo
from studio.money import cents, exact

if TYPE_CHECKING:
    from studio.ratebook import RateBook

PROVENANCE_DASH = {"published": "solid", "live": "solid", "proxy": "dash", "override": "dot"}
#: Bar colours of :func:`model_comparison`.
CHEAPEST_COLOR = "#2a9d8f"  # the cheapest model that meets the target
MEETS_COLOR = "#8fb8de"  # meets the target, not the cheapest
MISSES_COLOR = "#c9c9c9"  # does not meet the target (or breaks an input limit)
#: Legend at the right of the plot area, where no axis title is: a legend under the plot
#: collides with the x axis title as soon as it wraps or the tick labels are tall (issue 10
#: item 20). Plotly widens the right margin to fit it.
LEGEND_RIGHT: dict[str, Any] = {"orientation": "v", "x": 1.02, "xanchor": "left", "y": 1,
                                "yanchor": "top"}
_LAYOUT: dict[str, Any] = {"margin": {"l": 10, "r": 10, "t": 40, "b": 10},
                           "legend": LEGEND_RIGHT}
#: One colour per line of a cost-vs-duration chart, in line order: the Okabe–Ito palette
#: (colour-blind safe), starting with its four most distinct hues. Set on each line, so the
#: page theme's own sequence (which pairs a colour with its light tint) never decides.
TIER_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442")
#: Charts whose longest line ends before this many seconds get a seconds axis, not minutes.
SECONDS_AXIS_MAX_S = 120.0
_DAY_MS = 86_400_000


def cost_curve(
    model_id: str,
    clip: ClipInfo,
    params: Mapping[str, Any],
    *,
    max_minutes: float = 10.0,
    points: int = 41,
    book: RateBook | None = None,
    live_pricing: Mapping[str, Any] | None = None,
) -> go.Figure:
    """Cost in USD against clip duration (0–``max_minutes`` min), one line per tier.

    ``book`` / ``live_pricing`` are the rate book and live Oxen pricing the page quotes
    with, so the chart agrees with the quote beside it (team overrides included).

    Each point is a real :func:`pricing.quote` for ``clip`` stretched to that duration at its
    own frame rate. Proxy-priced lines are dashed. The current clip with the current
    parameters is a marker. LTX on Oxen prices output frames, so its x axis is the output
    duration (num_frames / frames_per_second) up to its 481-frame cap. A line ends where one
    generation does: at the model's output cap, or at its input frame cap for the line's
    size (LTX direct: 181 / 101 / 41 frames by input tier, ltx.md §3.2). When every line
    ends within :data:`SECONDS_AXIS_MAX_S` the axis is in seconds, else minutes. Lines get
    :data:`TIER_COLORS` (:func:`_style_lines`).
    """
    fig = go.Figure()
    unit = models.get(model_id)
    fps = clip.fps or 24.0
    lines = unit.chart_lines()
    caps = [_line_cap_s(unit, line, params, dataclasses.replace(
        clip, width=(line.box or (clip.width, clip.height))[0],
        height=(line.box or (clip.width, clip.height))[1]), fps) for line in lines]
    span_s = _span_s(max_minutes * 60, caps)
    scale, unit_word = _axis_scale(span_s)
    durations = [span_s * i / (points - 1) for i in range(points)]
    traces = []
    for line, cap in zip(lines, caps, strict=True):
        xs, ys, provenance = [], [], "proxy"
        for d in durations:
            if cap is not None and d > cap + 1e-9:
                break  # one generation cannot take or output more than this
            frames = max(1, round(d * fps))
            width, height = line.box or (clip.width, clip.height)
            c = dataclasses.replace(clip, duration_s=d, frame_count=frames, width=width,
                                    height=height)
            p = unit.params_to_cover(d, {**params, **line.overrides})
            q = pricing.quote(model_id, c, p, book=book, live_pricing=live_pricing)
            provenance = q.provenance
            xs.append(d / scale)
            ys.append(float(q.amount_usd))
        traces.append(go.Scatter(
            x=xs, y=ys, mode="lines", name=f"{line.label} ({provenance})",
            line={"dash": PROVENANCE_DASH.get(provenance, "solid")},
            hovertemplate=f"%{{x:.1f}} {unit_word} → $%{{y:.2f}}<extra>{line.label}</extra>",
        ))
    for trace in _style_lines(traces):
        fig.add_trace(trace)
    current = pricing.quote(model_id, clip, params, book=book, live_pricing=live_pricing)
    x_now = unit.chart_seconds(clip, unit.with_defaults(params)) / scale
    fig.add_trace(go.Scatter(
        x=[x_now], y=[float(current.amount_usd)], mode="markers+text", name="this clip",
        marker={"size": 12, "symbol": "diamond", "color": "#e4572e"},
        text=[cents(current.amount_usd)], textposition="top center",
    ))
    fig.update_layout(
        xaxis_title=_duration_title(unit, unit_word),
        yaxis_title="Cost (USD)", yaxis_tickprefix="$", height=340,
        margin={"l": 10, "r": 10, "t": 30, "b": 10}, legend={"orientation": "h", "y": -0.25},
        title={"text": "Cost vs duration by resolution tier", "font": {"size": 14}},
    )
    return fig


def _duration_title(unit: models.ModelUnit, unit_word: str = "min") -> str:
    what = "Output duration" if unit.duration_axis == "output" else "Clip duration"
    return f"{what} ({unit_word})"


def _line_cap_s(unit: models.ModelUnit, line: models.ChartLine, params: Mapping[str, Any],
                clip: ClipInfo, fps: float) -> float | None:
    """Seconds at which ``line`` ends: the model's longest output with the line's parameters,
    or its input frame cap for a clip of the line's size (``clip`` already resized) at
    ``fps`` frames/s, whichever is shorter; ``None`` when neither is documented."""
    caps = []
    out_cap = unit.max_output_s(unit.with_defaults({**params, **line.overrides}))
    if out_cap is not None:
        caps.append(out_cap)
    frame_cap = unit.frame_cap(clip)
    if frame_cap is not None and fps > 0:
        caps.append(frame_cap / fps)
    return min(caps) if caps else None


def _span_s(default_s: float, caps: list[float | None]) -> float:
    """The x axis span in seconds: ``default_s``, or up to the longest line when every line
    has a cap (no point spread past where all lines end)."""
    if caps and all(c is not None for c in caps):
        return min(default_s, max(c for c in caps if c is not None))
    return default_s


def _axis_scale(span_s: float) -> tuple[float, str]:
    """(seconds per axis unit, unit word): seconds for short spans, minutes otherwise."""
    return (1.0, "s") if span_s <= SECONDS_AXIS_MAX_S else (60.0, "min")


def _style_lines(traces: list[go.Scatter]) -> list[go.Scatter]:
    """Give each line its :data:`TIER_COLORS` colour, in order. A line that lies exactly on
    an earlier one (Rhea's and Starlight's 2k and 4k share a rate) would hide it, so the
    earlier line is drawn wider underneath: both colours stay visible and the legend's two
    entries both point at something."""
    widths = [2.0] * len(traces)
    for i, a in enumerate(traces):
        for j in range(i + 1, len(traces)):
            b = traces[j]
            if len(a.x or ()) and tuple(a.x) == tuple(b.x or ()) and \
                    tuple(a.y) == tuple(b.y or ()):
                widths[i] = max(widths[i], 2.0 + 3.0 * (j - i))
    for i, t in enumerate(traces):
        t.line.color = TIER_COLORS[i % len(TIER_COLORS)]
        t.line.width = widths[i]
    return traces


def _usd(d: Decimal | None) -> float | None:
    return None if d is None else float(d)


def _short(model_id: str) -> str:
    """The model's one display name (the id when no unit knows it)."""
    spec = models.MODELS.get(model_id)
    return spec.display_name if spec else model_id


def plan_by_model(priced: forecast.PricedPlan) -> go.Figure:
    """Plan cost per clip, stacked by model: one bar per clip label (first-appearance order),
    one trace per model (named by its short name), y = that model's quote × generations for
    the clip in USD (rows with the same clip and model are summed; unpriced rows add
    nothing). The title carries the plan total."""
    clips: list[str] = []
    amounts: dict[str, dict[str, Decimal]] = {}
    kinds: dict[str, set[str]] = {}
    for r in priced.rows:
        if r.row.clip not in clips:
            clips.append(r.row.clip)
        if r.amount_usd is None:
            continue
        per_clip = amounts.setdefault(r.row.model_id, {})
        per_clip[r.row.clip] = per_clip.get(r.row.clip, Decimal(0)) + r.amount_usd
        if r.quote is not None:
            kinds.setdefault(r.row.model_id, set()).add(r.quote.provenance)
    fig = go.Figure()
    for model_id, per_clip in amounts.items():
        xs = [c for c in clips if c in per_clip]
        label = f"{_short(model_id)} ({', '.join(sorted(kinds.get(model_id, ())))})"
        fig.add_trace(go.Bar(
            x=xs, y=[float(per_clip[c]) for c in xs], name=label,
            customdata=[exact(per_clip[c]) for c in xs],
            hovertemplate="%{x}: %{customdata}<extra>" + label + "</extra>",
        ))
    fig.update_layout(
        barmode="stack", xaxis_title="Clip", yaxis_title="Cost (USD)", yaxis_tickprefix="$",
        height=360, title={"text": f"Plan cost by clip and model · total {cents(priced.total_usd)}",
                           "font": {"size": 14}}, **_LAYOUT,
    )
    return fig


def plan_cost_vs_duration(
    model_id: str,
    params: Mapping[str, Any],
    *,
    book: RateBook | None = None,
    width: int = 1920,
    height: int = 1080,
    fps: float = 30.0,
    max_minutes: float = 10.0,
    points: int = 41,
) -> go.Figure:
    """Cost in USD of one generation against clip duration (up to ``max_minutes`` minutes),
    one line per tier of :func:`studio.pricing.tiers_for_chart`, priced with the team's rate
    ``book`` through :func:`studio.forecast.price_plan`.

    The clip is ``width`` × ``height`` px at ``fps`` frames/s unless the tier fixes the input
    size (Hyperion, LTX direct). Lines are named ``"<tier> (<provenance>)"``; proxy-priced
    lines are dashed, overrides dotted. LTX 2.3 on Oxen renders frames to cover the duration,
    so its line stops at its 481-frame cap and its x axis is output duration; LTX direct's
    lines stop at their input tier's frame cap. Axis unit and colours as :func:`cost_curve`.
    """
    unit = models.get(model_id)
    base = dict(params)
    lines = unit.chart_lines()
    caps = []
    for line in lines:
        w, h = line.box or (width, height)
        clip = forecast.duration_row(model_id, base, 1.0, w, h, fps).clip_info()
        caps.append(_line_cap_s(unit, line, base, clip, fps))
    span_s = _span_s(max_minutes * 60, caps)
    scale, unit_word = _axis_scale(span_s)
    durations = [span_s * i / (points - 1) for i in range(1, points)]
    fig = go.Figure()
    traces = []
    for line, cap in zip(lines, caps, strict=True):
        w, h = line.box or (width, height)
        p = {**base, **line.overrides}
        rows = [forecast.duration_row(model_id, p, d, w, h, fps) for d in durations
                if cap is None or d <= cap + 1e-9]
        priced = forecast.price_plan(rows, book=book)
        ok = [r for r in priced.rows if r.quote is not None]
        provenance = ok[0].quote.provenance if ok and ok[0].quote else "proxy"
        traces.append(go.Scatter(
            x=[r.row.duration_s / scale for r in ok], y=[_usd(r.amount_usd) for r in ok],
            customdata=[exact(r.amount_usd) for r in ok], mode="lines",
            name=f"{line.label} ({provenance})",
            line={"dash": PROVENANCE_DASH.get(provenance, "solid")},
            hovertemplate=f"%{{x:.1f}} {unit_word} → %{{customdata}}<extra>{line.label}</extra>",
        ))
    for trace in _style_lines(traces):
        fig.add_trace(trace)
    fig.update_layout(
        xaxis_title=_duration_title(unit, unit_word),
        yaxis_title="Cost (USD)", yaxis_tickprefix="$", height=340,
        title={"text": f"{_short(model_id)}: cost vs duration by resolution tier",
               "font": {"size": 14}}, **_LAYOUT,
    )
    return fig


def plan_heatmap(grid: pd.DataFrame) -> go.Figure:
    """Heatmap of a :func:`studio.forecast.heatmap_grid` frame: x = input resolution
    (its columns, ``"W×H"`` px), y = duration (its index, seconds), colour and cell text =
    cost of one generation in USD (blank where there is no quote)."""
    z = [[_usd(v) if isinstance(v, Decimal) else None for v in row]
         for row in grid.itertuples(index=False)]
    text = [[cents(v) if isinstance(v, Decimal) else "" for v in row]
            for row in grid.itertuples(index=False)]
    y = [f"{float(d):g} s" for d in grid.index]
    fig = go.Figure(go.Heatmap(
        z=z, x=list(grid.columns), y=y, text=text, texttemplate="%{text}",
        colorscale="Blues", colorbar={"title": {"text": "USD"}, "tickprefix": "$"},
        hovertemplate="%{y} at %{x} → %{text}<extra></extra>",
    ))
    model_id = grid.attrs.get("model_id")
    title = "Cost by duration × input resolution"
    if model_id:
        title = f"{_short(str(model_id))} ({grid.attrs.get('settings', '')}): {title.lower()}"
    provenance = grid.attrs.get("provenance")
    if provenance:
        title += f" · {provenance if isinstance(provenance, str) else ', '.join(sorted(provenance))} rates"
    fig.update_layout(xaxis_title="Input resolution (px)", yaxis_title="Clip duration",
                      height=360, title={"text": title, "font": {"size": 14}}, **_LAYOUT)
    return fig


TASK_LABELS = {"upscale": "Upscaling", "hdr": "SDR → HDR"}


def comparison_note(rec: Mapping[str, Any], target: str | None) -> str:
    """Why a model of :func:`studio.forecast.compare_models` does or does not meet the
    target, in words: ``"meets 1080p"``, ``"1 row below 1080p · 6 rows over its input
    limits"``."""
    parts = []
    if rec.get("short_rows"):
        parts.append(f"{rec['short_rows']} row(s) below {target}")
    if rec.get("limit_rows"):
        parts.append(f"{rec['limit_rows']} row(s) over its input limits")
    if rec.get("problems"):
        parts.append(f"{rec['problems']} row(s) not priced")
    if parts:
        return " · ".join(parts)
    return f"meets {target}" if target else "can do every row"


def model_comparison(compare: pd.DataFrame) -> go.Figure:
    """Bars of a :func:`studio.forecast.compare_models` frame: one bar per model, grouped by
    task (x = task, model name; y = plan total in USD). Each bar is labelled with its total
    to the cent and what it is priced at (``"1080p tier"``, ``"input resolution …"``). The
    cheapest model meeting the target per task is :data:`CHEAPEST_COLOR` and annotated;
    other models meeting it are :data:`MEETS_COLOR`, the rest :data:`MISSES_COLOR`. Hover
    says why a model does or does not meet the target."""
    target = compare.attrs.get("target_resolution")
    tasks, names, ys, colors, labels, hover = [], [], [], [], [], []
    for rec in compare.to_dict("records"):
        tasks.append(TASK_LABELS.get(str(rec["task"]), str(rec["task"])))
        names.append(str(rec["model_name"]))
        ys.append(float(rec["total_usd"]))
        if bool(rec["cheapest_meeting_target"]):
            colors.append(CHEAPEST_COLOR)
        elif bool(rec["meets_target"]) and not rec.get("limit_rows"):
            colors.append(MEETS_COLOR)
        else:
            colors.append(MISSES_COLOR)
        labels.append(f"{cents(rec['total_usd'])}<br>{rec.get('priced_at', '')}")
        kinds = f" · {rec['provenance']} rates" if rec.get("provenance") else ""
        hover.append(f"{exact(rec['total_usd'])}{kinds}<br>priced at {rec.get('priced_at', '')}"
                     f"<br>output {rec['output_resolution']}<br>"
                     f"{comparison_note(rec, target)}")
    fig = go.Figure(go.Bar(
        x=[tasks, names], y=ys, marker={"color": colors}, customdata=hover, text=labels,
        textposition="outside", cliponaxis=False, name="plan total",
        hovertemplate="%{x}<br>%{customdata}<extra></extra>",
    ))
    for rec in compare[compare["cheapest_meeting_target"]].to_dict("records"):
        what = f"cheapest meeting {target}" if target else "cheapest"
        fig.add_annotation(  # above the bar's own two-line label, never over it
            x=[TASK_LABELS.get(str(rec["task"]), str(rec["task"])), str(rec["model_name"])],
            y=float(rec["total_usd"]), text=f"<b>{what}</b>", showarrow=False, yshift=52,
            font={"color": CHEAPEST_COLOR},
        )
    title = "Same plan, every model that can do it"
    if target:
        title += f" · target {target}"
    top = max(ys, default=1.0) or 1.0
    fig.update_layout(yaxis_title="Plan total (USD)", yaxis_tickprefix="$",
                      yaxis_range=[0, top * 1.35], height=440, showlegend=False,
                      uniformtext={"minsize": 11, "mode": "show"},
                      title={"text": title, "font": {"size": 14}}, **_LAYOUT)
    return fig


# -- ledger -------------------------------------------------------------------------------
def ledger_quote_vs_charge(rows: pd.DataFrame, names: Mapping[str, str] | None = None
                           ) -> go.Figure:
    """Quote (x, USD) against charge (y, USD) per generation, one colour per model, with the
    y = x line: points above it cost more than quoted. ``rows`` is
    :func:`studio.ledger.generation_rows`; rows without both amounts are left out. Computed
    charges (our own rule, not a measurement) are open markers named "… (computed)"."""
    names = names or {}
    both = rows[rows["quote_usd"].notna() & rows["charge_usd"].notna()]
    fig = go.Figure()
    top = 0.0
    for (model_id, computed), group in both.groupby(
            [both["model_id"], both["charge_source"] == "computed"], sort=True):
        xs = [float(v) for v in group["quote_usd"]]
        ys = [float(v) for v in group["charge_usd"]]
        top = max([top, *xs, *ys])
        name = names.get(str(model_id), str(model_id)) + (" (computed)" if computed else "")
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="markers", name=name,
            marker={"symbol": "circle-open" if computed else "circle", "size": 9},
            customdata=list(group["display_id"]),
            hovertemplate="quote $%{x:.4f} → charge $%{y:.4f}<br>%{customdata}<extra></extra>"))
    fig.add_trace(go.Scatter(x=[0, top or 1], y=[0, top or 1], mode="lines",
                             name="charge = quote", line={"dash": "dot", "color": "#888"}))
    fig.update_layout(xaxis_title="Quote (USD)", yaxis_title="Charge (USD)",
                      xaxis_tickprefix="$", yaxis_tickprefix="$",
                      margin={"t": 30, "b": 40}, legend=LEGEND_RIGHT)
    return fig


def ledger_spend_per_day(per_day: pd.DataFrame) -> go.Figure:
    """Charged USD per UTC day (bars, labelled to the cent); ``per_day`` is
    :func:`studio.ledger.spend_per_day`.

    A date axis (days without spend keep their place) with dates only as tick labels
    (``YYYY-MM-DD``, at most about 12 ticks), each bar centred on its day and 0.8 day wide,
    and at least a week shown — one day's spend is one bar in its week, never an axis of
    hours around midnight (issue 10 item 20)."""
    days = [pd.Timestamp(d) for d in per_day["day"]]
    first, last = (min(days), max(days)) if days else (pd.Timestamp.now().normalize(),) * 2
    first = min(first, last - pd.Timedelta(days=6))
    span_days = (last - first).days + 1
    fig = go.Figure(go.Bar(
        x=days, y=[float(v) for v in per_day["charged_usd"]], width=0.8 * _DAY_MS,
        text=[cents(v) for v in per_day["charged_usd"]], textposition="outside",
        customdata=[[n, exact(v), exact(c)] for n, v, c in zip(
            per_day["generations"], per_day["charged_usd"], per_day["computed_usd"],
            strict=True)],
        hovertemplate="%{x}: %{customdata[1]} charged over %{customdata[0]} generation(s), "
                      "%{customdata[2]} of it computed<extra></extra>"))
    fig.update_layout(
        xaxis_title="Day (UTC)", yaxis_title="Charged (USD)", yaxis_tickprefix="$",
        xaxis={"type": "date", "tickformat": "%Y-%m-%d", "hoverformat": "%Y-%m-%d",
               "tick0": first, "dtick": _DAY_MS * max(1, -(-span_days // 12)),
               "range": [first - pd.Timedelta(hours=14), last + pd.Timedelta(hours=14)]},
        margin={"t": 30, "b": 40})
    return fig
