"""The quote panel: amount, its arithmetic, where the rate came from, and — before any
click — whether it fits the budget."""

from __future__ import annotations

from decimal import Decimal

import streamlit as st

from studio.budget import BudgetVerdict
from studio.money import cents, exact
from studio.pricing import Quote

BADGE = {"published": ":green-badge[published rate]", "proxy": ":orange-badge[proxy estimate]",
         "live": ":blue-badge[live API rate]", "override": ":violet-badge[team override]"}


def render_quote(quote: Quote | None, *, key: str, count: int = 1) -> None:
    """Show ``quote`` (× ``count`` generations) with provenance, basis and source link. The
    headline reads to the cent; the basis line and the rate keep every digit."""
    if quote is None:
        st.info("Fix the parameters above to see a quote.")
        return
    total = quote.amount_usd * count
    label = "Quote" if count == 1 else f"Quote for {count} generations"
    st.metric(label, cents(total),
              help=f"Exactly {exact(total)} USD: the rule rounds half-up to 1/100 of a cent.")
    st.markdown(f"{BADGE.get(quote.provenance, quote.provenance)} {quote.basis}")
    rate = quote.rate
    st.caption(f"Rate: {rate.label}. Source: [{rate.source_url}]({rate.source_url})"
               if rate.source_url.startswith("http") else f"Rate: {rate.label}. Source: {rate.source_url}")
    if rate.confidence:
        st.caption(rate.confidence)
    for note in quote.notes:
        st.caption(f"⚠️ {note}")


def render_budget_verdict(verdict: BudgetVerdict | str | None) -> None:
    """The budget verdict of the quote, before the Submit button: "Fits the team cap" with
    what is left, a warning near a cap, or "Would cross the team cap by $1.90" with the
    arithmetic. ``verdict`` may be the sentence saying why the budget cannot be read."""
    if verdict is None:
        return
    if isinstance(verdict, str):
        st.error(verdict, icon=":material/savings:")
        return
    if not verdict.lines:
        st.caption(":material/savings: Budget: no cap set.")
        return
    text = f"**{verdict.headline[0].upper()}{verdict.headline[1:]}.** {verdict.detail}"
    if not verdict.allowed:
        st.error(text, icon=":material/block:")
    elif verdict.warn:
        st.warning(text, icon=":material/savings:")
    else:
        st.success(text, icon=":material/savings:")


def submit_label(amount: Decimal | None, verdict: BudgetVerdict | str | None,
                 *, verb: str = "Submit") -> str:
    """``"Submit · $2.09 · fits the team cap"``, ``"Submit · $2.09 · would cross the team
    cap by $1.90"``, or ``"Submit · $2.09"`` when no cap applies."""
    label = verb if amount is None else f"{verb} · {cents(amount)}"
    if isinstance(verdict, BudgetVerdict) and verdict.headline:
        label += f" · {verdict.headline}"
    return label
