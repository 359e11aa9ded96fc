"""The Forecast page: a what-if plan priced row by row, its charts, exports, and batch submit.

Everything priced here goes through :func:`studio.forecast.price_plan` with the team's rate
book, so the page, the exported CSV/JSON and ``python -m studio forecast`` agree to the cent.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from components import session
from components.loaders import load_turnaround_index
from components.plan_editor import (
    FPS_FORMAT,
    frame_to_records,
    load_saved_plan,
    render_plan_editor,
    render_plan_sources,
    rows_to_frame,
    save_plan,
)
from components.quote_panel import BADGE, render_budget_verdict, submit_label
from components.rates_view import load_rate_book
from components.text import plain, problem_list
from studio import charts, forecast, ledger, models
from studio.errors import BudgetExceededError, ParamError, StudioError
from studio.money import cents, exact
from studio.service import Prepared, Source, Studio
from studio.store import Status

TARGETS = ["720p", "1080p", "2k", "4k"]
UNIT_WORDS = {"output_second": "per output second", "input_second": "per input second",
              "output_megapixel": "per output megapixel", "factor": "multiplier"}


def forecast_unit(unit: Any) -> str:
    """A rate unit as words (``"per output second"``), blank when none."""
    return "" if unit in (None, "") or pd.isna(unit) else UNIT_WORDS.get(str(unit), str(unit))


def _plan_state(key: str) -> str:
    return f"{key}:plan"


def render_forecast(studio: Studio, *, key: str = "forecast") -> None:
    """The whole page body."""
    owner = studio.settings.owner()
    state = _plan_state(key)
    if state not in st.session_state:
        frame, problem = load_saved_plan(studio.store, owner)
        st.session_state[state] = frame
        if problem:
            st.warning(problem)

    st.subheader("1 · Plan", divider="gray")
    action, new_rows = render_plan_sources(key=key, uploads_dir=studio.settings.data_dir / "uploads")
    if action:
        added = rows_to_frame(new_rows)
        base = _current_frame(key)
        frame = added if action == "replace" else pd.concat([base, added], ignore_index=True)
        _replace_plan(key, frame, studio, owner)
        st.rerun()

    frame = st.session_state[state]
    edited = render_plan_editor(frame, key=key)
    if st.session_state.get(f"{key}:saved") != _digest(edited):
        save_plan(studio.store, owner, edited)
        st.session_state[f"{key}:saved"] = _digest(edited)
    c1, c2 = st.columns([1, 4])
    if c1.button("Clear the plan", key=f"{key}:clear", icon=":material/delete_sweep:",
                 disabled=edited.empty):
        _replace_plan(key, frame.iloc[0:0], studio, owner)
        st.rerun()
    c2.caption(f"Saved as you edit ({len(edited)} row(s)); a reload shows the same plan.")

    rows, problems = forecast.rows_from_records(frame_to_records(edited))
    if problems:
        st.warning("Not priced until fixed:\n\n" + problem_list(problems))
    if not rows:
        st.info("Add clips, type a row, or import a CSV to see the forecast.")
        return

    book = load_rate_book(studio)
    priced = forecast.price_plan(rows, book=book)
    table = priced.to_frame()
    _render_totals(priced, table)
    _render_priced_table(studio, table, key=key)
    _render_charts(priced, rows, book, key=key)
    _render_exports(priced, key=key)
    _render_batch(studio, edited, key=key)


def _digest(frame: pd.DataFrame) -> int:
    return int(pd.util.hash_pandas_object(frame.astype(str), index=False).sum()) if len(frame) else 0


def _current_frame(key: str) -> pd.DataFrame:
    """The base frame with this session's editor changes applied (so adding rows never
    throws away a typed edit)."""
    base: pd.DataFrame = st.session_state[_plan_state(key)]
    edits = st.session_state.get(f"{key}:editor")
    if not edits:
        return base
    frame = base.copy()
    for idx, changes in (edits.get("edited_rows") or {}).items():
        for col, value in changes.items():
            frame.loc[frame.index[int(idx)], col] = value
    added = pd.DataFrame(edits.get("added_rows") or [])
    if len(added):
        frame = pd.concat([frame, added], ignore_index=True)
    deleted = [frame.index[int(i)] for i in edits.get("deleted_rows") or [] if int(i) < len(base)]
    return frame.drop(index=deleted).reset_index(drop=True)


def _replace_plan(key: str, frame: pd.DataFrame, studio: Studio, owner: str) -> None:
    frame = frame.reset_index(drop=True)
    st.session_state[_plan_state(key)] = frame
    st.session_state.pop(f"{key}:editor", None)  # the editor starts from the new base
    save_plan(studio.store, owner, frame)
    st.session_state[f"{key}:saved"] = _digest(frame)


def _render_totals(priced: forecast.PricedPlan, table: pd.DataFrame) -> None:
    st.subheader("2 · Forecast", divider="gray")
    by_model = priced.by_model()
    cols = st.columns(1 + min(len(by_model), 5))
    cols[0].metric("Plan total", cents(priced.total_usd),
                   help=f"Exactly {exact(priced.total_usd)} USD: the sum of every priced "
                        "row's quote × generations.")
    for col, (model_id, amount) in zip(cols[1:], by_model.items(), strict=False):
        col.metric(models.get(model_id).display_name, cents(amount),
                   help=f"Exactly {exact(amount)} USD over this model's rows.")
    kinds = sorted(set(table["provenance"].dropna())) if "provenance" in table else []
    if kinds:
        st.markdown("Rates used: " + " ".join(BADGE.get(k, k) for k in kinds) +
                    " — each row says which, with its source.")


def _render_priced_table(studio: Studio, table: pd.DataFrame, *, key: str) -> None:
    table = table.copy()
    medians = load_turnaround_index(studio)
    turn = []
    for rec in table.to_dict("records"):
        est = ledger.estimate_from_index(medians, str(rec.get("model_id")), str(rec.get("tier")),
                                         float(rec.get("duration_s") or 0))
        turn.append(est.label if est else "")
    table["turnaround"] = turn
    table["quote_usd"] = [exact(v) if v not in (None, "") else "—" for v in table["quote_usd"]]
    table["rate_usd"] = [exact(v) if v not in (None, "") and u != "factor" else
                         ("" if v in (None, "") else f"×{v}")
                         for v, u in zip(table["rate_usd"], table["unit"], strict=True)]
    table["unit"] = [forecast_unit(u) for u in table["unit"]]
    for col in ("problem", "notes", "provenance", "basis"):
        if col in table:
            table[col] = table[col].fillna("")
    st.dataframe(
        table, width="stretch", hide_index=True, key=f"{key}:priced",
        column_order=["row", "clip", "model_name", "settings", "generations", "quote_usd",
                      "provenance", "basis", "turnaround", "problem", "notes", "tier",
                      "duration_s", "width", "height", "fps", "rate_usd", "unit", "as_of",
                      "source_url"],
        column_config={
            "row": st.column_config.NumberColumn("#", width="small"),
            "model_name": st.column_config.TextColumn("Model"),
            "clip": st.column_config.TextColumn("Clip"),
            "settings": st.column_config.TextColumn("Settings"),
            "generations": st.column_config.NumberColumn("Generations"),
            "quote_usd": st.column_config.TextColumn(
                "Quote", help="USD for all the row's generations, exact to 1/100 of a cent."),
            "provenance": st.column_config.TextColumn(
                "Rate from", help="live · published · proxy · override (see Rates)."),
            "basis": st.column_config.TextColumn("How it is priced"),
            "problem": st.column_config.TextColumn("Problem"),
            "notes": st.column_config.TextColumn("Notes"),
            "tier": st.column_config.TextColumn("Tier"),
            "duration_s": st.column_config.NumberColumn("Duration (s)", format="%.2f"),
            "width": st.column_config.NumberColumn("Width (px)"),
            "height": st.column_config.NumberColumn("Height (px)"),
            "fps": st.column_config.NumberColumn("Frame rate", format=FPS_FORMAT),
            "rate_usd": st.column_config.TextColumn("Rate", help="Every digit."),
            "unit": st.column_config.TextColumn("Unit"),
            "as_of": st.column_config.TextColumn("As of"),
            "source_url": st.column_config.LinkColumn("Source"),
            "turnaround": st.column_config.TextColumn(
                "Turnaround", help="Median wall time of ≥ 3 finished generations of this "
                "model, tier and length; blank until there are three."),
        })


CHARTS = ["Cost by model", "Cost vs duration", "Duration × resolution",
          "Same plan, every model"]


def _render_charts(priced: forecast.PricedPlan, rows: list[forecast.PlanRow], book: Any,
                   *, key: str) -> None:
    """One chart at a time (a segmented control, not tabs): only the chart on screen is
    computed, so an edit to a 1,000-row plan does not price it on five models first."""
    st.subheader("3 · Charts", divider="gray")
    chart = st.segmented_control("Chart", CHARTS, default=CHARTS[0], required=True,
                                 key=f"{key}:chart", label_visibility="collapsed")
    models_in_plan = list(dict.fromkeys(r.model_id for r in rows))
    names = {m.id: m.display_name for m in models.MODELS.values()}
    if chart == CHARTS[0]:
        st.plotly_chart(charts.plan_by_model(priced), width="stretch", key=f"{key}:c1")
        return
    if chart in CHARTS[1:3]:
        c1, c2 = st.columns([2, 3])
        mid = c1.selectbox("Model", models_in_plan, format_func=names.__getitem__,
                           key=f"{key}:cmodel")
        params = next(r.params for r in rows if r.model_id == mid)
        c2.caption(f"Settings of its first row: {forecast.settings_label(mid, params) or 'defaults'}")
        if chart == CHARTS[1]:
            st.plotly_chart(charts.plan_cost_vs_duration(mid, params, book=book),
                            width="stretch", key=f"{key}:c2")
        else:
            durations = [5.0, 10.0, 30.0, 60.0, 120.0, 300.0]
            sizes = [(1280, 720), (1920, 1080), (2560, 1440), (3840, 2160)]
            grid = forecast.heatmap_grid(mid, params, durations, sizes, book=book)
            st.plotly_chart(charts.plan_heatmap(grid), width="stretch", key=f"{key}:c3")
        return
    target = st.segmented_control("Target resolution", TARGETS, default="4k",
                                  required=True, key=f"{key}:target")
    compare = forecast.compare_models(rows, target_resolution=target, book=book)
    st.plotly_chart(charts.model_comparison(compare), width="stretch", key=f"{key}:c4")
    st.caption("Each bar is the whole plan's rows of that job on one model, priced at the "
               "tier written on it (a model without the target tier at its nearest tier "
               "above). Green: the cheapest that meets the target; blue: meets it; grey: "
               "does not (hover a bar for why).")
    for task, group in compare.groupby("task", sort=False):
        what = charts.TASK_LABELS.get(str(task), str(task))
        best = group[group["cheapest_meeting_target"]]
        if len(best):
            b = best.iloc[0]
            kinds = f", {b['provenance']} rates" if b.get("provenance") else ""
            st.success(f"{what}: the cheapest model that meets {target} is "
                       f"**{b['model_name']}** at {cents(b['total_usd'])} "
                       f"({b['priced_at']}{kinds}).")
            continue
        reasons = "; ".join(f"{r['model_name']}: {charts.comparison_note(r, target)}"
                            for r in group.to_dict("records"))
        st.info(f"{what}: no model takes every row of this job to {target} — {reasons}. "
                + ("HDR models keep the input resolution; choose a lower target to compare "
                   "them." if task == "hdr" else "Choose a lower target."))


def _render_exports(priced: forecast.PricedPlan, *, key: str) -> None:
    c1, c2 = st.columns(2)
    # Callables: the files are written only when someone downloads them.
    c1.download_button("Export CSV", priced.to_csv, file_name="forecast.csv",
                       mime="text/csv", icon=":material/download:", key=f"{key}:csvout")
    c2.download_button("Export JSON", priced.to_json, file_name="forecast.json",
                       mime="application/json", icon=":material/download:",
                       key=f"{key}:jsonout")


def _render_batch(studio: Studio, edited: pd.DataFrame, *, key: str) -> None:
    st.subheader("4 · Submit rows", divider="gray")
    flash = session.flash(f"{key}:batch")
    if flash:
        (st.success if flash[0] == "success" else st.error)(flash[1])
    records = frame_to_records(edited)
    names = {m.id: m.display_name for m in models.MODELS.values()}
    options = [i for i, r in enumerate(records) if r.get("path")]
    if not options:
        st.caption("Rows made from clips (under “From clips”) can be submitted from here; "
                   "typed and imported rows without a file are for forecasting only.")
        return
    chosen = st.multiselect(
        "Rows to submit", options, key=f"{key}:send",
        format_func=lambda i: f"#{i + 1} {records[i].get('clip', '')} · "
                              f"{names.get(str(records[i].get('model_id')), '?')}",
        placeholder="Choose rows made from clips",
        help="Every chosen row is validated first; then the total is shown for confirmation. "
             "Oxen requests carry 1–4 generations; LTX runs two at a time, the rest wait.")
    if st.button(f"Review {len(chosen)} row(s)…", type="primary", key=f"{key}:batch",
                 icon=":material/send:", disabled=not chosen):
        session.set_batch_rows(key, tuple(chosen))
    picked = session.batch_rows(key)
    if picked:
        _batch_dialog(studio, edited.iloc[[i for i in picked if i < len(edited)]], key)


def prepare_rows(studio: Studio, selected: pd.DataFrame) -> tuple[list[tuple[Prepared, int]], list[str]]:
    """Selected editor rows → prepared requests (probed again from their files) and problem
    sentences naming the row."""
    items: list[tuple[Prepared, int]] = []
    problems: list[str] = []
    book = load_rate_book(studio)  # the same rates the plan was priced with
    rows, row_problems = forecast.rows_from_records(frame_to_records(selected))
    problems += row_problems
    for n, row in enumerate(rows, 1):
        if not row.path:
            problems.append(f"row {n} ({row.clip}): typed rows have no clip to send; add it "
                            "from a file under “From clips”.")
            continue
        p = Path(row.path)
        if not p.exists():
            problems.append(f"row {n} ({row.clip}): the file is no longer on disk; add it again.")
            continue
        kind = "sample" if p.name == "cockatoo.mp4" and p.parent.name == "samples" else "upload"
        try:
            prepared = studio.prepare(row.model_id, Source(kind, row.clip, path=p), row.params,
                                      book=book)
        except StudioError as exc:
            problems.append(f"row {n} ({row.clip}): {exc}")
            continue
        items.append((prepared, int(row.generations)))
    return items, problems


@st.dialog("Submit the selected rows", width="large",
           on_dismiss=lambda: session.clear_batch_rows())
def _batch_dialog(studio: Studio, selected: pd.DataFrame, key: str) -> None:
    items, problems = prepare_rows(studio, selected)
    for prepared, _n in items:
        problems += [f"{prepared.source.label} on {models.get(prepared.model_id).display_name}: {p}"
                     for p in prepared.problems]
    if problems:
        st.error("Nothing was sent. Fix these first:\n\n" + problem_list(problems))
        if st.button("Close", key=f"{key}:batchclose"):
            session.clear_batch_rows()
            st.rerun()
        return
    total = sum((p.quote.amount_usd * n for p, n in items if p.quote), start=Decimal(0))
    st.dataframe(pd.DataFrame([{
        "Clip": p.source.label, "Model": models.get(p.model_id).display_name,
        "Generations": n,
        "Quote": exact(p.quote.amount_usd * n) if p.quote else "—",
        "Rate from": p.quote.provenance if p.quote else "",
    } for p, n in items]), hide_index=True, width="stretch")
    verdict = studio.check_budget(total)
    if not verdict.allowed:
        st.error(verdict.message)
        if st.button("Close", key=f"{key}:batchclose"):
            session.clear_batch_rows()
            st.rerun()
        return
    render_budget_verdict(verdict)
    st.markdown(f"**Total: {cents(total)}** for {sum(n for _p, n in items)} generation(s). "
                "Oxen requests carry up to 4 generations each; LTX runs two at a time and the "
                "rest wait their turn.")
    c1, c2 = st.columns(2)
    if c1.button(submit_label(total, verdict, verb="Confirm and submit"), type="primary",
                 key=f"{key}:batchgo"):
        _send_batch(studio, items, key)
    if c2.button("Cancel", key=f"{key}:batchno"):
        session.clear_batch_rows()
        st.rerun()


def _send_batch(studio: Studio, items: list[tuple[Prepared, int]], key: str) -> None:
    """Send the confirmed batch with a progress bar; the outcome (per-row errors included)
    is left as a message above the batch section, and the dialog closes."""
    bar = st.progress(0.0, text="Submitting the batch…")

    def progress(what: str, frac: float | None) -> None:
        bar.progress(min(1.0, frac or 0.0), text=what)

    try:
        outcomes = studio.submit_plan(items, confirmed=True, progress=progress,
                                      owner_name=session.display_name())
    except BudgetExceededError as exc:
        session.set_flash(f"{key}:batch", "error", f"Nothing was sent. {exc}")
    except ParamError as exc:
        session.set_flash(f"{key}:batch", "error",
                          "Nothing was sent:\n\n" + problem_list(exc.problems))
    except StudioError as exc:
        session.set_flash(f"{key}:batch", "error", plain(f"The batch stopped: {exc}"))
    else:
        sent = sum(len(o.jobs) for o in outcomes)
        waiting = sum(1 for o in outcomes for j in o.jobs if j.status == Status.WAITING)
        lines = [f"Submitted {sent} generation(s) from {len(outcomes)} row(s)"
                 + (f"; {waiting} LTX generation(s) wait for a free slot" if waiting else "")
                 + ". They are tracked on the Generations page."]
        lines += [f"- {plain(o.error)}" for o in outcomes if o.error]
        kind = "success" if not any(o.error for o in outcomes) else "error"
        session.set_flash(f"{key}:batch", kind, "\n".join(lines))
    session.clear_batch_rows()
    st.rerun()
