"""Video Enhance Studio — the router.

Page config once, settings, the shared sidebar (mode badge, which keys are configured — never
the keys), then ``st.navigation(...).run()``. Any ``StudioError`` that escapes a page is shown
as its sentence; the app keeps running.
"""

from __future__ import annotations

import streamlit as st

from components.services import current_studio
from studio.errors import StudioError

st.set_page_config(page_title="Video Enhance Studio", page_icon="🎞️", layout="wide")

PAGES = {
    "HDR (SDR → HDR)": [
        st.Page("pages/hyperion_hdr.py", title="Topaz Hyperion HDR", icon="🌅"),
        st.Page("pages/ltx_hdr.py", title="LTX 2.3 Quality HDR", icon="✨"),
        st.Page("pages/ltx_direct.py", title="LTX HDR (direct)", icon="🎬"),
    ],
    "Upscaling": [
        st.Page("pages/rhea.py", title="Topaz Rhea", icon="🔍"),
        st.Page("pages/starlight.py", title="Topaz Starlight 2.5", icon="🌟", default=True),
    ],
    "Tracking": [
        st.Page("pages/generations.py", title="Generations", icon="📋"),
    ],
}


def render_sidebar() -> None:
    """Mode badge, key status, sandbox and data locations, and what is in flight."""
    try:
        studio = current_studio()
    except StudioError as exc:
        st.sidebar.error(str(exc))
        st.stop()
    s = studio.settings
    with st.sidebar:
        badge = ":green-badge[Live]" if s.mode_label == "Live" else (
            ":orange-badge[Sandbox]" if s.mode_label == "Sandbox" else f":blue-badge[{s.mode_label}]")
        st.markdown(f"### Mode {badge}")
        st.markdown(
            f"Oxen key: {'✅ configured' if s.oxen_api_key else '— not set (sandbox)'}  \n"
            f"LTX key: {'✅ configured' if s.ltx_api_key else '— not set (sandbox)'}")
        if studio.sandbox_url:
            st.caption(f"Local sandbox: {studio.sandbox_url} — it really processes the clip; "
                       "prices are quoted from the published/proxy rates.")
        active = studio.store.count_active()
        st.caption(f"In flight: {active} · tracker {'running' if studio.tracker.running else 'stopped'}"
                   f" · data: `{s.data_dir}`")
        if studio.tracker.last_error:
            st.caption(f"Last tracker issue: {studio.tracker.last_error}")


page = st.navigation(PAGES)
render_sidebar()
try:
    page.run()
except StudioError as exc:
    st.error(str(exc))
