"""Ledger: quote vs charge per generation, error per model, spend over time."""

import streamlit as st

from components.ledger_view import render_ledger
from components.router import leave_legacy_pages_mode
from components.services import current_studio


def main() -> None:
    studio = current_studio()
    st.title("Estimate vs actual")
    st.caption("Every generation's quote held against what the provider charged, from the "
               "job store.")
    render_ledger(studio, key="ledger")


leave_legacy_pages_mode()
main()
