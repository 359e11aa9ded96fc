"""Forecast: a what-if plan across models — quotes with provenance, charts, export, batch."""

import streamlit as st

from components.forecast_page import render_forecast
from components.router import leave_legacy_pages_mode
from components.services import current_studio


def main() -> None:
    studio = current_studio()
    st.title("Cost forecast")
    st.caption("Plan clips × models × settings before anyone spends. Every quote names its "
               "rate and where that rate came from; nothing here sends a request until you "
               "submit selected rows and confirm the total.")
    render_forecast(studio, key="forecast")


leave_legacy_pages_mode()
main()
