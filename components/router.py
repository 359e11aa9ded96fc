"""The frame around every page: the shared sidebar, the budget banner, the chosen page, the
confirmation dialog — and the one guard against Streamlit's legacy ``pages/`` mode.

``app.py`` holds the navigation list itself; it hands the chosen page to
:func:`render_frame`.

Why the guard (:func:`leave_legacy_pages_mode`): Streamlit 1.67 decides once per process,
when the first browser session opens, whether the app uses the legacy multipage mode — it
does when a ``pages/`` folder sits beside the entry script
(``PagesManager.uses_pages_directory``, streamlit/runtime/pages_manager.py). In that mode
the script runner does not execute ``app.py``: it builds a navigation of its own from the
``pages/*.py`` files (``_mpa_v1`` in streamlit/runtime/scriptrunner/script_runner.py) and a
first visit to ``/starlight`` runs ``pages/starlight.py`` alone — no sidebar, file names as
titles. The first ``st.navigation`` call of any session turns the mode off for the whole
process (documented: "As soon as any session of your app executes the st.navigation command,
your app will ignore the pages/ directory (across all sessions)"). So the guard, called first
by ``app.py`` and by every page file, only acts in a run the legacy mode started: it turns the
mode off, as ``st.navigation`` would, and reruns — the rerun executes ``app.py``, whose
navigation resolves the same URL path to the same page file. No page body is drawn before it,
so no widget event is lost. ``tests/e2e/test_routing.py`` opens every page's URL directly on
a fresh server and checks the frame is there.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from components import session
from components.budget_panel import load_budget, render_budget_banner, render_budget_sidebar
from components.review import render_completion_watch
from components.services import current_studio
from components.submission import render_confirm_dialog
from components.text import plain
from studio.budget import BudgetConfig, BudgetStatus
from studio.errors import StudioError


def leave_legacy_pages_mode() -> None:
    """Call first in ``app.py`` and in every page file. In a run Streamlit's legacy
    ``pages/`` mode started (see the module docstring), turn that mode off for the process —
    what ``st.navigation`` does — and rerun through ``app.py``; otherwise do nothing."""
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def render_sidebar() -> tuple[BudgetConfig, BudgetStatus] | str:
    """Mode badge, which keys are configured (never the keys), the display name put on new
    generations, sandbox and data locations, the budget. Returns the budget read for this
    run (see :func:`components.budget_panel.load_budget`) so the banner need not read it
    again."""
    try:
        studio = current_studio()
    except StudioError as exc:
        st.sidebar.error(plain(exc))
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
            # No address or path here: a teammate opening a review link can't use them
            # (issue 10 item 17), and the page must hold no server detail.
            st.caption("Local sandbox: it really processes the clip; prices are quoted from "
                       "the published/proxy rates.")
        active = studio.store.count_active()
        # No server paths or exception classes here: every session of every user sees it.
        st.caption(f"In flight: {active} · tracker "
                   f"{'running' if studio.tracker.running else 'stopped'}")
        if studio.tracker.last_error:
            st.caption("Last tracker issue: " + plain(studio.tracker.last_error))
        render_budget_sidebar(studio, budget)
    return budget


def render_frame(page: st.Page) -> None:
    """Everything around ``page`` (the page ``st.navigation`` chose): the sidebar, the budget
    banner, the page itself, the confirmation dialog. Any ``StudioError`` that escapes the
    page is shown as its sentence; the app keeps running."""
    budget = render_sidebar()
    try:
        render_budget_banner(budget)
        page.run()
        render_confirm_dialog(current_studio())
        render_completion_watch(current_studio())
    except StudioError as exc:
        st.error(plain(exc))
