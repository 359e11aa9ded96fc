"""The quote panel: amount, its arithmetic, where the rate came from, and the cost chart."""

from __future__ import annotations

import streamlit as st

from studio.pricing import Quote

BADGE = {"published": ":green-badge[published rate]", "proxy": ":orange-badge[proxy estimate]",
         "live": ":blue-badge[live API rate]", "override": ":violet-badge[team override]"}


def render_quote(quote: Quote | None, *, key: str, count: int = 1) -> None:
    """Show ``quote`` (× ``count`` generations) with provenance, basis and source link."""
    if quote is None:
        st.info("Fix the parameters above to see a quote.")
        return
    total = quote.amount_usd * count
    label = "Quote" if count == 1 else f"Quote for {count} generations"
    st.metric(label, f"${total}", help="USD, rounded half-up to 1/100 of a cent.")
    st.markdown(f"{BADGE.get(quote.provenance, quote.provenance)} {quote.basis}")
    rate = quote.rate
    st.caption(f"Rate: {rate.label}. Source: [{rate.source_url}]({rate.source_url})"
               if rate.source_url.startswith("http") else f"Rate: {rate.label}. Source: {rate.source_url}")
    if rate.confidence:
        st.caption(rate.confidence)
    for note in quote.notes:
        st.caption(f"⚠️ {note}")
