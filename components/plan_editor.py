"""The forecast plan: where its rows come from (probed files, typed rows, an imported CSV)
and the ``st.data_editor`` that edits them.

The plan is a draft, but a draft worth keeping: every change is saved in the store (one plan
per owner, the ``plans`` table), so a reload, a restart or another app replica shows the same
plan.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from components.source_picker import SAMPLE, VIDEO_TYPES, _save_upload
from components.text import plain, problem_list
from studio import forecast, media, models
from studio.errors import ParamError, StudioError
from studio.store import JobStore

PLAN_COLUMNS = ["clip", "duration_s", "width", "height", "fps", "model", "params",
                "generations", "path"]
MODEL_NAMES = {m.id: m.display_name for m in models.MODELS.values()}
MODEL_IDS = {m.display_name: m.id for m in models.MODELS.values()}


def empty_plan() -> pd.DataFrame:
    return pd.DataFrame({
        "clip": pd.Series(dtype=str),
        "duration_s": pd.Series(dtype=float), "width": pd.Series(dtype="Int64"),
        "height": pd.Series(dtype="Int64"), "fps": pd.Series(dtype=float),
        "model": pd.Series(dtype=str), "params": pd.Series(dtype=str),
        "generations": pd.Series(dtype="Int64"), "path": pd.Series(dtype=str),
    })


def rows_to_frame(rows: Sequence[forecast.PlanRow]) -> pd.DataFrame:
    """Plan rows → the editor's frame (model shown by name, params as JSON text)."""
    if not rows:
        return empty_plan()
    frame = pd.DataFrame([{
        "clip": r.clip, "duration_s": float(r.duration_s), "width": int(r.width),
        "height": int(r.height), "fps": float(r.fps), "model": MODEL_NAMES.get(r.model_id, r.model_id),
        "params": _params_text(r.model_id, r.params),
        "generations": int(r.generations), "path": r.path or "",
    } for r in rows])
    return frame.astype({"width": "Int64", "height": "Int64", "generations": "Int64"})


def _params_text(model_id: str, params: dict[str, Any]) -> str:
    """The settings cell: JSON of what differs from the defaults, blank for all defaults."""
    explicit = _explicit(model_id, params) if params else {}
    return json.dumps(explicit, sort_keys=True) if explicit else ""


def _explicit(model_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """Params minus the ones equal to the model's defaults (short, readable cells)."""
    try:
        defaults = models.get(model_id).with_defaults({})
    except StudioError:
        return params
    return {k: v for k, v in params.items() if defaults.get(k) != v}


def frame_to_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The editor's frame → records for :func:`studio.forecast.rows_from_records`
    (model names mapped back to ids; blank cells dropped so they read as missing)."""
    records = []
    for rec in frame.to_dict("records"):
        out: dict[str, Any] = {}
        for k, v in rec.items():
            if k not in PLAN_COLUMNS or v is None or (not isinstance(v, str) and pd.isna(v)):
                continue
            if k == "model":
                k, v = "model_id", MODEL_IDS.get(str(v), str(v))
            out[k] = v
        records.append(out)
    return records


def load_saved_plan(store: JobStore, owner: str) -> tuple[pd.DataFrame, str | None]:
    """``owner``'s saved plan, or an empty one and a sentence when it cannot be read (rows
    that no longer parse are named; the rest load)."""
    problem = store.import_problems.get("plans")
    try:
        saved = forecast.load_plan(store, owner)
    except SQLAlchemyError:
        return empty_plan(), "The saved plan could not be read from the store; starting empty."
    if saved is None:
        return empty_plan(), problem
    rows, problems = saved
    if problems:
        problem = ((problem + " ") if problem else "") + (
            "Some rows of the saved plan could not be read and were left out: "
            + "; ".join(problems[:5]) + (" …" if len(problems) > 5 else ""))
    return rows_to_frame(rows), problem


def save_plan(store: JobStore, owner: str, frame: pd.DataFrame) -> None:
    """Save the plan rows that parse (the editor keeps the rest on screen) as ``owner``'s
    plan in the store."""
    rows, _problems = forecast.rows_from_records(frame_to_records(frame))
    forecast.save_plan(store, owner, rows)


def probe_files(paths: Sequence[tuple[str, Path]], *, model_id: str, params: dict[str, Any],
                generations: int) -> tuple[list[forecast.PlanRow], list[str]]:
    """Probe each ``(label, path)`` with a progress bar; returns rows and problem sentences."""
    rows: list[forecast.PlanRow] = []
    problems: list[str] = []
    if not paths:
        return rows, problems
    bar = st.progress(0.0, text=f"Probing {len(paths)} clip(s)…")
    for i, (label, path) in enumerate(paths, 1):
        bar.progress((i - 1) / len(paths), text=f"Probing {label} ({i}/{len(paths)})")
        try:
            clip = media.probe(path)
        except StudioError as exc:
            problems.append(f"{label}: {exc}")
            continue
        rows.append(forecast.PlanRow(
            clip=label, duration_s=clip.duration_s, width=clip.width, height=clip.height,
            fps=clip.fps, model_id=model_id, params=dict(params), generations=generations,
            path=str(path)))
    bar.progress(1.0, text=f"Probed {len(rows)} of {len(paths)} clip(s)")
    return rows, problems


def render_plan_sources(*, key: str, uploads_dir: Path) -> tuple[str, list[forecast.PlanRow]]:
    """The "add rows" panel. Returns ``(action, rows)``: action ``"append"``, ``"replace"``
    or ``""`` (nothing to add this run)."""
    tab_files, tab_typed, tab_csv = st.tabs(["From clips", "Typed row", "Import CSV"])
    with tab_files:
        c1, c2, c3 = st.columns([2, 2, 1])
        model_name = c1.selectbox("Model for the new rows", list(MODEL_IDS), key=f"{key}:fmodel")
        model_id = MODEL_IDS[model_name]
        params = _param_widgets(model_id, key=f"{key}:fparams", container=c2)
        gens = int(c3.number_input("Generations", 1, 4, 1, key=f"{key}:fgen"))
        uploads = st.file_uploader("Video files", type=VIDEO_TYPES, accept_multiple_files=True,
                                   key=f"{key}:files",
                                   help="Each clip is probed for its duration, size and frame "
                                        "rate; nothing is sent anywhere.")
        b1, b2 = st.columns(2)
        add_files = b1.button("Add these clips", key=f"{key}:addfiles",
                              disabled=not uploads, icon=":material/playlist_add:")
        add_sample = b2.button("Add the sample clip", key=f"{key}:addsample",
                               icon=":material/movie:")
        if add_files or add_sample:
            paths = [("cockatoo.mp4", SAMPLE)] if add_sample else [
                (u.name, _save_upload(u, uploads_dir)) for u in uploads or []]
            rows, problems = probe_files(paths, model_id=model_id, params=params,
                                         generations=gens)
            if problems:
                st.error(problem_list(problems))
            return "append", rows
    with tab_typed:
        with st.form(f"{key}:typed", border=False):
            c = st.columns(5)
            label = c[0].text_input("Clip name", "clip", key=f"{key}:tlabel")
            duration = c[1].number_input("Duration (s)", 0.1, 36000.0, 10.0, step=1.0,
                                         key=f"{key}:tdur")
            width = c[2].number_input("Width (px)", 16, 8192, 1920, key=f"{key}:tw")
            height = c[3].number_input("Height (px)", 16, 8192, 1080, key=f"{key}:th")
            fps = c[4].number_input("Frame rate (frames/s)", 1.0, 240.0, 24.0, key=f"{key}:tfps")
            c1, c2 = st.columns(2)
            tmodel = MODEL_IDS[c1.selectbox("Model", list(MODEL_IDS), key=f"{key}:tmodel")]
            tgens = int(c2.number_input("Generations", 1, 4, 1, key=f"{key}:tgen"))
            if st.form_submit_button("Add row", icon=":material/add:"):
                return "append", [forecast.PlanRow(
                    clip=label or "clip", duration_s=float(duration), width=int(width),
                    height=int(height), fps=float(fps), model_id=tmodel,
                    params=models.get(tmodel).with_defaults({}), generations=tgens)]
        st.caption("Or type straight into the plan table below: its last row adds a row.")
    with tab_csv:
        st.caption("Columns: clip, duration_s, width, height, fps, model_id, params (JSON), "
                   "generations, and optionally path. The CSV this page exports re-imports.")
        up = st.file_uploader("Plan CSV", type=["csv"], key=f"{key}:csv")
        mode = st.radio("Imported rows", ["Replace the plan", "Append to the plan"],
                        horizontal=True, key=f"{key}:csvmode")
        if up is not None and st.button("Import", key=f"{key}:import",
                                        icon=":material/upload_file:"):
            try:
                text = up.getvalue().decode("utf-8-sig")
                rows = forecast.read_plan_text(text)
            except UnicodeDecodeError:
                st.error(f"{up.name} is not UTF-8 text; save it as CSV (UTF-8) and try again.")
                return "", []
            except ParamError as exc:
                st.error(f"{plain(up.name)} was not imported:\n\n" +
                         problem_list(exc.problems))
                return "", []
            return ("replace" if mode.startswith("Replace") else "append"), rows
    return "", []


def _param_widgets(model_id: str, *, key: str, container: Any) -> dict[str, Any]:
    """The settings that change the price (resolution for the upscalers and LTX on Oxen,
    frame interpolation for Rhea); everything else takes the model's defaults."""
    spec = models.get(model_id)
    params = models.get(model_id).with_defaults({})
    names = {p.name for p in spec.params}
    if "resolution" in names:
        options = list(spec.param("resolution").enum or ())
        params["resolution"] = container.selectbox(
            "Resolution", options, index=options.index(params["resolution"]),
            key=f"{key}:{model_id}:res")
    if "interpolate_frames" in names:
        params["interpolate_frames"] = container.toggle(
            "Interpolate frames", value=bool(params.get("interpolate_frames")),
            key=f"{key}:{model_id}:interp")
    return params


#: How a frame rate is shown in the plan tables: 20, 23.976, 29.97 — never "20.000".
FPS_FORMAT = "%g"


def render_plan_editor(frame: pd.DataFrame, *, key: str) -> pd.DataFrame:
    """The editable plan table; returns the edited frame. Rows are numbered from 1, as in
    the priced table and in every "row N" problem sentence (issue 10 item 20); the number is
    display only (edits are positional, records ignore the index)."""
    frame = frame.set_axis(pd.RangeIndex(1, len(frame) + 1))
    return st.data_editor(
        frame, key=f"{key}:editor", num_rows="dynamic", width="stretch", hide_index=False,
        column_order=PLAN_COLUMNS,
        column_config={
            "clip": st.column_config.TextColumn("Clip", required=True, default="clip"),
            "duration_s": st.column_config.NumberColumn(
                "Duration (s)", min_value=0.01, max_value=36000.0, format="%.2f",
                required=True, default=10.0),
            "width": st.column_config.NumberColumn("Width (px)", min_value=16, max_value=8192,
                                                   step=1, required=True, default=1920),
            "height": st.column_config.NumberColumn("Height (px)", min_value=16, max_value=8192,
                                                    step=1, required=True, default=1080),
            "fps": st.column_config.NumberColumn("Frame rate", min_value=1.0, max_value=240.0,
                                                 format=FPS_FORMAT, required=True,
                                                 default=24.0),
            "model": st.column_config.SelectboxColumn(
                "Model", options=list(MODEL_IDS), required=True,
                default=next(iter(models.MODELS.values())).display_name),
            "params": st.column_config.TextColumn(
                "Settings (JSON)", help='Only what differs from the defaults, e.g. '
                '{"resolution": "4k"}. Empty = the model\'s defaults.'),
            "generations": st.column_config.NumberColumn(
                "Generations", min_value=1, max_value=4, step=1, default=1),
            "path": st.column_config.TextColumn("File", disabled=True,
                                                help="The probed file this row came from."),
        },
    )
