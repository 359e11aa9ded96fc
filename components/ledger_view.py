"""The Estimate-vs-actual page: quote against charge per generation, over time, per model and
per owner; mean absolute % error per model; spend per day; turnaround medians. All read from
the job store through :mod:`studio.ledger`.

Every figure names the set it covers (all generations, those with a charge, the measured
pairs), and the headline figures are the column sums of the tables under them. Headline
money reads to the cent; per-generation amounts keep every digit; computed charges say so.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from studio import charts, ledger, models
from studio.csvsafe import frame_csv
from studio.jobs import Job
from studio.money import cents, exact
from studio.service import Studio

WINDOWS = {"7 days": 7, "30 days": 30, "90 days": 90, "All time": None}
MAX_ROWS = 100_000  # generations read for one window

# Human labels for the summary tables (issue 10 item 12: no snake_case on screen).
SUMMARY_LABELS = {
    "generations": "Generations",
    "charged": "With a charge",
    "quoted_usd": "Quoted (those with a charge)",
    "charged_usd": "Charged",
    "computed_usd": "of which computed",
    "pairs": "Measured pairs",
    "mean_abs_pct_error": "Mean abs. % error",
}
SUMMARY_HELP = {
    "generations": "Generations with a quote or a charge in this window.",
    "charged": "Generations whose charge is known (reported or computed).",
    "quoted_usd": "The quotes of the generations with a charge: the same set as Charged.",
    "charged_usd": "Every known charge: reported by the provider or the sandbox, or computed.",
    "computed_usd": "Charges computed from the quote's own billing rule (LTX reports none).",
    "pairs": "Generations with a reported charge above $0 and a quote: the error is "
             "measured on these only.",
    "mean_abs_pct_error": "Mean of |charge − quote| ÷ charge over the measured pairs; blank "
                          "when there are none.",
}


def _money(values: Iterable[Any], fmt: Any = cents) -> list[str]:
    """Amounts as text (``$1.23``), blank for unknown ones."""
    return ["" if v is None or (isinstance(v, float) and pd.isna(v)) else fmt(v)
            for v in values]


def _summary_table(frame: pd.DataFrame, key_label: str, keys: list[str]) -> pd.DataFrame:
    """An :func:`studio.ledger.error_by` frame with human headers, money to the cent and
    blanks for what is not measured (never "None", never a $0 that was not charged)."""
    out = pd.DataFrame({key_label: keys})
    out["Generations"] = list(frame["generations"])
    out["With a charge"] = list(frame["charged"])
    has_charge = [n > 0 for n in frame["charged"]]
    out["Quoted (those with a charge)"] = [
        cents(v) if ok else "" for v, ok in zip(frame["quoted_usd"], has_charge, strict=True)]
    out["Charged"] = [cents(v) if ok else ""
                      for v, ok in zip(frame["charged_usd"], has_charge, strict=True)]
    out["of which computed"] = [cents(v) if v else "" for v in frame["computed_usd"]]
    out["Measured pairs"] = list(frame["pairs"])
    out["Mean abs. % error"] = [pct(v) for v in frame["mean_abs_pct_error"]]
    return out


def pct(value: object) -> str:
    """``"3.85 %"``, or blank when there is nothing measured (never "None" or "nan")."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return f"{float(value):.2f} %"  # type: ignore[arg-type]


def _summary_config() -> dict[str, Any]:
    config: dict[str, Any] = {
        SUMMARY_LABELS[k]: st.column_config.Column(help=h) for k, h in SUMMARY_HELP.items()}
    return config


def owner_label(name: object) -> str:
    """What the screen calls an owner: their display name, or "(no name)" (never the key
    fingerprint)."""
    return name if isinstance(name, str) and name.strip() else "(no name)"


def _text(value: object) -> str:
    """Text for a cell: blank for None/NaN, never "None"."""
    return value if isinstance(value, str) else ""


def render_ledger(studio: Studio, *, key: str = "ledger") -> None:
    """The page body."""
    names = {m.id: m.display_name for m in models.MODELS.values()}
    c1, c2 = st.columns([2, 3])
    window = c1.segmented_control("Window", list(WINDOWS), default="30 days", required=True,
                                  key=f"{key}:window")
    mine = c2.toggle("Only my generations", key=f"{key}:mine",
                     help="Generations submitted with this app's API key.")
    days = WINDOWS[window or "30 days"]
    since = datetime.now(UTC) - timedelta(days=days) if days is not None else None
    jobs = studio.store.list(owner=studio.settings.owner() if mine else None, since=since,
                             limit=MAX_ROWS)
    rows = ledger.generation_rows(jobs)
    if rows.empty:
        st.info("No quoted generations in this window yet. Submit from a model page or a "
                "forecast plan; each one's quote is held against its charge here.")
        return
    total = ledger.totals(jobs)
    scope = "yours" if mine else "the team's"
    st.caption(f"{window}: {scope} generations. Charged and Quoted cover the same "
               f"{total.charged} generation(s) with a known charge; the error covers the "
               f"{total.pairs} measured pair(s) among them.")
    m = st.columns(4)
    m[0].metric("Generations", total.generations, help=SUMMARY_HELP["generations"])
    m[1].metric(f"Charged ({total.charged} generations)", cents(total.charged_usd),
                help=f"Reported {exact(total.reported_usd)} + computed "
                     f"{exact(total.computed_usd)} = {exact(total.charged_usd)}.")
    m[2].metric(f"Quoted for those {total.charged}", cents(total.quoted_usd),
                help=f"Exactly {exact(total.quoted_usd)}: the quotes of the same generations.")
    m[3].metric(f"Mean error, {total.pairs} measured pairs",
                "—" if pd.isna(total.mean_abs_pct_error) else
                f"{total.mean_abs_pct_error:.2f} %", help=SUMMARY_HELP["mean_abs_pct_error"])

    st.subheader("Per model", divider="gray")
    by_model = ledger.error_by(jobs, "model_id")
    st.dataframe(_summary_table(by_model, "Model",
                                [names.get(x, x) for x in by_model["model_id"]]),
                 hide_index=True, width="stretch", key=f"{key}:bymodel",
                 column_config=_summary_config())
    t1, t2, t3, t4 = st.tabs(["Quote vs charge", "Spend per day", "Per owner", "Turnaround"])
    with t1:
        st.plotly_chart(charts.ledger_quote_vs_charge(rows, names), width="stretch",
                        key=f"{key}:scatter")
        st.caption("Filled markers are measured pairs; open markers are computed charges, "
                   "which sit on the line by construction.")
    with t2:
        per_day = ledger.spend_per_day(jobs)
        if per_day.empty:
            st.caption("No charges known yet.")
        else:
            st.plotly_chart(charts.ledger_spend_per_day(per_day), width="stretch",
                            key=f"{key}:perday")
        st.caption("Each bar is the Charged column of its day below.")
        by_day = ledger.error_by(jobs, "day")
        st.dataframe(_summary_table(by_day, "Day (UTC)",
                                    [str(d) for d in by_day["day"]]),
                     hide_index=True, width="stretch", key=f"{key}:byday",
                     column_config=_summary_config())
    with t3:
        _render_owners(ledger.error_by(jobs, "owner"))
    with t4:
        _render_turnaround(jobs, names, key=key)
    st.subheader("Every generation", divider="gray")
    table = _generations_table(rows, names)
    st.download_button(
        "Export CSV", data=lambda: frame_csv(table), file_name="estimate-vs-actual.csv",
        mime="text/csv", key=f"{key}:csv", icon=":material/download:",
        help="The table below, every digit; cells a spreadsheet would run as a formula "
             "(=, +, -, @) are neutralised.")
    st.dataframe(table, hide_index=True, width="stretch",
                 key=f"{key}:rows", column_config={
                     "Quote from": st.column_config.TextColumn(
                         help="The quoted rate's provenance (see Rates)."),
                     "Charge from": st.column_config.TextColumn(
                         width=240,  # never cut to "computed (billi" (issue 10 item 20)
                         help="Oxen: reported by the provider. sandbox: the local sandbox's "
                              "figure. computed: the provider reports none (LTX), so it is "
                              "computed from the billing rule and left out of the error."),
                     "Quote": st.column_config.TextColumn(help="USD, every digit."),
                     "Charge": st.column_config.TextColumn(help="USD, every digit."),
                     "Generation id": st.column_config.TextColumn(
                         width=300,
                         help="The provider's generation id, or ours where the provider "
                              "gave none (as on the Generations page)."),
                 })


def _generations_table(rows: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    jobs_like = rows.to_dict("records")
    return pd.DataFrame({
        "Created": [r["created_at"].strftime("%Y-%m-%d %H:%M") for r in jobs_like],
        "Model": [names.get(r["model_id"], r["model_id"]) for r in jobs_like],
        "Owner": [owner_label(r["owner_name"]) for r in jobs_like],
        "Status": [r["status"] for r in jobs_like],
        "Quote": _money(rows["quote_usd"], exact),
        "Quote from": [_text(r["quote_provenance"]) for r in jobs_like],
        "Charge": _money(rows["charge_usd"], exact),
        "Charge from": [_source_label(_text(r["charge_source"])) for r in jobs_like],
        "Charge − quote": _money(rows["error_usd"], exact),
        "Abs. % error": [pct(v) for v in rows["abs_pct_error"]],
        # The same id the Generations page shows (issue 10 item 13).
        "Generation id": [r["display_id"] for r in jobs_like],
    })


def _source_label(source: str | None) -> str:
    return {"reported": "provider", "sandbox": "sandbox",
            "computed": "computed (billing rule)"}.get(source or "", "")


def _render_owners(by_owner: pd.DataFrame) -> None:
    """Per owner: display names, the key fingerprint only as a tooltip on the name."""
    if by_owner.empty:
        return
    table = _summary_table(by_owner, "Owner",
                           [owner_label(n) for n in by_owner["owner_name"]])
    header = "| " + " | ".join(table.columns) + " |"
    lines = [header, "|" + "---|" * len(table.columns)]
    for fingerprint, rec in zip(by_owner["owner"], table.to_dict("records"), strict=True):
        cells = []
        for col, value in rec.items():
            text = "" if value is None or (isinstance(value, float) and pd.isna(value)) \
                else str(value)
            text = html.escape(text).replace("|", "&#124;")
            if col == "Owner":
                text = (f'<span title="key fingerprint {html.escape(str(fingerprint))}">'
                        f"{text}</span>")
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    st.markdown("\n".join(lines), unsafe_allow_html=True)
    st.caption("Names come from the sidebar's display name; hover a name for the API key "
               "fingerprint behind it (never the key).")


def _render_turnaround(jobs: list[Job], names: dict[str, str], *, key: str) -> None:
    table = ledger.turnaround_table(jobs)
    if table.empty:
        st.caption("No finished generations yet.")
        return
    st.dataframe(pd.DataFrame({
        "Model": [names.get(m, m) for m in table["model_id"]],
        "Resolution tier": list(table["tier"]),
        "Clip length": list(table["duration_bucket"]),
        "Finished generations": list(table["samples"]),
        "Median turnaround": [ledger.duration_text(v) for v in table["median_s"]],
    }), hide_index=True, width="stretch", key=f"{key}:turn", column_config={
        "Median turnaround": st.column_config.TextColumn(
            help="Submit to completion, median of the finished generations."),
    })
    st.caption("Quotes show “about N min” once a model × tier × length bucket has three "
               "finished generations.")
