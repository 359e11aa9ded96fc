"""Rates: every rate with provenance, staleness, live vs bundled, and team overrides."""

import streamlit as st

from components.rates_view import render_rates
from components.router import leave_legacy_pages_mode
from components.services import current_studio


def main() -> None:
    studio = current_studio()
    st.title("Rates")
    st.caption("Where every number in a quote comes from: the provider's live price, its "
               "published price, a proxy from another provider, or a team override.")
    render_rates(studio, key="rates")


leave_legacy_pages_mode()
main()
