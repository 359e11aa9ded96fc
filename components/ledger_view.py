"""The Estimate-vs-actual page: quote against charge per generation, over time, per model and
per owner; mean absolute % error per model; spend per day; turnaround medians. All read from
the job store through :mod:`studio.ledger`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from studio import catalog, charts, ledger
from studio.service import Studio

WINDOWS = {"7 days": 7, "30 days": 30, "90 days": 90, "All time": None}


def _money(frame: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """Decimal columns as strings ("$1.2345"), so the table shows exact amounts."""
    out = frame.copy()
    for c in cols:
        if c in out:
            out[c] = [("" if v is None or (isinstance(v, float) and pd.isna(v)) else f"${v}")
                      for v in out[c]]
    return out


def render_ledger(studio: Studio, *, key: str = "ledger") -> None:
    """The page body."""
    names = {m.id: m.display_name for m in catalog.MODELS.values()}
    c1, c2 = st.columns([2, 3])
    window = c1.segmented_control("Window", list(WINDOWS), default="30 days", required=True,
                                  key=f"{key}:window")
    mine = c2.toggle("Only my generations", key=f"{key}:mine",
                     help="Generations submitted with this API key.")
    days = WINDOWS[window or "30 days"]
    jobs = studio.store.list(owner=studio.settings.owner() if mine else None, limit=100_000)
    if days is not None:
        since = datetime.now(UTC) - timedelta(days=days)
        jobs = [j for j in jobs if j.created_at >= since]
    rows = ledger.generation_rows(jobs)
    if rows.empty:
        st.info("No quoted generations in this window yet. Submit from a model page or a "
                "forecast plan; each one's quote is held against its charge here.")
        return
    pairs = rows[rows["abs_pct_error"].notna()]
    charged = sum((v for v in rows["charge_usd"] if v is not None), start=0)
    quoted = sum((v for v in pairs["quote_usd"]), start=0)
    m = st.columns(4)
    m[0].metric("Generations", len(rows))
    m[1].metric("Quote/charge pairs", len(pairs),
                help="Generations with a quote and a charge above $0 that the provider "
                     "reported (LTX charges are computed from the quote's own rule, so they "
                     "are not counted).")
    m[2].metric("Charged", f"${charged}")
    m[3].metric("Quoted (for the pairs)", f"${quoted}")

    st.subheader("Error per model", divider="gray")
    by_model = ledger.error_by(jobs, "model_id")
    by_model.insert(1, "model", [names.get(x, x) for x in by_model["model_id"]])
    st.dataframe(_money(by_model, ["quoted_usd", "charged_usd"]), hide_index=True,
                 width="stretch", key=f"{key}:bymodel", column_config={
                     "model_id": None,
                     "mean_abs_pct_error": st.column_config.NumberColumn(
                         "Mean abs. % error", format="%.2f %%",
                         help="Mean of |charge − quote| ÷ charge over the pairs."),
                 })
    t1, t2, t3, t4 = st.tabs(["Quote vs charge", "Spend per day", "Per owner", "Turnaround"])
    with t1:
        st.plotly_chart(charts.ledger_quote_vs_charge(rows, names), width="stretch",
                        key=f"{key}:scatter")
    with t2:
        per_day = ledger.spend_per_day(jobs)
        if per_day.empty:
            st.caption("No charges known yet.")
        else:
            st.plotly_chart(charts.ledger_spend_per_day(per_day), width="stretch",
                            key=f"{key}:perday")
        st.caption("Quote against charge, day by day:")
        st.dataframe(_money(ledger.error_by(jobs, "day"), ["quoted_usd", "charged_usd"]),
                     hide_index=True, width="stretch", key=f"{key}:byday", column_config={
                         "mean_abs_pct_error": st.column_config.NumberColumn(
                             "Mean abs. % error", format="%.2f %%")})
    with t3:
        by_owner = ledger.error_by(jobs, "owner")
        st.dataframe(_money(by_owner, ["quoted_usd", "charged_usd"]), hide_index=True,
                     width="stretch", key=f"{key}:byowner", column_config={
                         "mean_abs_pct_error": st.column_config.NumberColumn(
                             "Mean abs. % error", format="%.2f %%")})
    with t4:
        table = ledger.turnaround_table(jobs)
        if table.empty:
            st.caption("No finished generations yet.")
        else:
            st.dataframe(table, hide_index=True, width="stretch", key=f"{key}:turn")
            st.caption("Quotes show “about N min” once a model × tier × length bucket has "
                       "three finished generations.")
    st.subheader("Every generation", divider="gray")
    shown = rows.copy()
    shown.insert(1, "model", [names.get(x, x) for x in shown["model_id"]])
    st.dataframe(_money(shown, ["quote_usd", "charge_usd", "error_usd"]), hide_index=True,
                 width="stretch", key=f"{key}:rows", column_config={
                     "model_id": None, "owner": None, "day": None,
                     "quote_provenance": st.column_config.TextColumn(
                         "Quote from", help="The quoted rate's provenance (see Rates)."),
                     "charge_source": st.column_config.TextColumn(
                         "Charge from", help="provider: reported by Oxen. computed: LTX reports "
                         "no charge, so it is computed from its tier rule and left out of the "
                         "error."),
                     "abs_pct_error": st.column_config.NumberColumn("Abs. % error",
                                                                    format="%.2f %%"),
                 })
