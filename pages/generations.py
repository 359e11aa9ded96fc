"""Generations: every tracked generation, live, filtered, with actions and the player."""

import streamlit as st

from components.generations import render_generation_filters
from components.jobs import render_live_jobs
from components.router import leave_legacy_pages_mode
from components.services import current_studio


def main() -> None:
    studio = current_studio()
    st.title("Generations")
    st.caption("Every generation is stored before it is sent and tracked until it finishes; "
               "reloads and restarts show the same list. Select a row to review it; select "
               "several to download them together.")
    query = render_generation_filters(key="generations")
    render_live_jobs(studio, key="generations", limit=500, query=query, multi_select=True)


leave_legacy_pages_mode()
main()
