"""Navigation: the page list, the shared sidebar, and the guard that keeps every page
behind the router.

Why the guard: a ``pages/`` folder beside ``app.py`` makes Streamlit start each new process
in its legacy file-based mode, where a first visit to ``/starlight`` runs
``pages/starlight.py`` directly — no ``st.navigation``, no sidebar, file names as titles.
Every page therefore calls :func:`ensure_routed` first; outside the router it registers our
navigation (which turns the legacy mode off for the process) and renders through it.
"""

from __future__ import annotations

import threading

import streamlit as st

from components import session
from components.budget_panel import load_budget, render_budget_banner, render_budget_sidebar
from components.services import current_studio
from components.submission import render_confirm_dialog
from studio.budget import BudgetConfig, BudgetStatus
from studio.errors import StudioError

_state = threading.local()


def pages() -> dict[str, list[st.Page]]:
    """The navigation: the Generations queue at ``/`` (the page a team opens every day),
    then the five model pages at stable, shareable URLs (``/starlight``, ``/ltx_direct``, …).
    Icons are Streamlit's bundled Material Symbols, which render without an emoji font."""
    return {
        "Tracking": [
            st.Page("pages/generations.py", title="Generations", icon=":material/list_alt:",
                    default=True),
        ],
        "HDR (SDR → HDR)": [
            st.Page("pages/hyperion_hdr.py", title="Topaz Hyperion HDR", icon=":material/hdr_on:"),
            st.Page("pages/ltx_hdr.py", title="LTX 2.3 Quality HDR", icon=":material/hdr_auto:"),
            st.Page("pages/ltx_direct.py", title="LTX HDR (direct)", icon=":material/hdr_plus:"),
        ],
        "Upscaling": [
            st.Page("pages/rhea.py", title="Topaz Rhea", icon=":material/zoom_in:"),
            st.Page("pages/starlight.py", title="Topaz Starlight 2.5", icon=":material/auto_awesome:"),
        ],
        "Costs": [
            st.Page("pages/forecast.py", title="Forecast", icon=":material/query_stats:"),
            st.Page("pages/ledger.py", title="Estimate vs actual", icon=":material/receipt_long:"),
            st.Page("pages/rates.py", title="Rates", icon=":material/sell:"),
        ],
    }


def render_sidebar() -> tuple[BudgetConfig, BudgetStatus] | str:
    """Mode badge, which keys are configured (never the keys), the display name put on new
    generations, sandbox and data locations, the budget. Returns the budget read for this
    run (see :func:`components.budget_panel.load_budget`) so the banner need not read it
    again."""
    try:
        studio = current_studio()
    except StudioError as exc:
        st.sidebar.error(str(exc))
        st.stop()
    s = studio.settings
    budget = load_budget(studio)
    with st.sidebar:
        badge = ":green-badge[Live]" if s.mode_label == "Live" else (
            ":orange-badge[Sandbox]" if s.mode_label == "Sandbox" else f":blue-badge[{s.mode_label}]")
        st.markdown(f"### Mode {badge}")
        st.markdown(
            f"Oxen key: {'✅ configured' if s.oxen_api_key else '— not set (sandbox)'}  \n"
            f"LTX key: {'✅ configured' if s.ltx_api_key else '— not set (sandbox)'}")
        st.text_input(
            "Display name", value=s.display_name or "", key=session.DISPLAY_NAME,
            max_chars=60, placeholder="shown as the owner of your generations",
            help="Stored on the generations you submit from this browser tab, so the team "
                 "list shows who made them. Defaults to STUDIO_USER.")
        if studio.sandbox_url:
            st.caption(f"Local sandbox: {studio.sandbox_url} — it really processes the clip; "
                       "prices are quoted from the published/proxy rates.")
        active = studio.store.count_active()
        st.caption(f"In flight: {active} · tracker "
                   f"{'running' if studio.tracker.running else 'stopped'} · data: `{s.data_dir}`")
        if studio.tracker.last_error:
            st.caption(f"Last tracker issue: {studio.tracker.last_error}")
        render_budget_sidebar(studio, budget)
    return budget


def run_app() -> None:
    """The router body of ``app.py``: page config, navigation, sidebar, the chosen page."""
    st.set_page_config(page_title="Video Enhance Studio", page_icon="🎞️", layout="wide")
    page = st.navigation(pages())
    budget = render_sidebar()
    _state.routed = True
    try:
        render_budget_banner(budget)
        page.run()
        render_confirm_dialog(current_studio())
    except StudioError as exc:
        st.error(str(exc))
    finally:
        _state.routed = False


def ensure_routed() -> None:
    """Call first in every page file. When Streamlit ran the page file on its own (legacy
    ``pages/`` mode), render through the router instead — registering our navigation turns
    the legacy mode off — and stop, so the page body is not drawn twice. Done inline rather
    than with ``st.rerun()`` so the widget event of this run (a click) is not lost."""
    if not getattr(_state, "routed", False):
        run_app()
        st.stop()
