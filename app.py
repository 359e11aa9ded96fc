"""Video Enhance Studio — the router: page config, the navigation list, the frame.

Every page is listed here. The model pages come from the model units (one per endpoint,
``studio/models/``), in their navigation order, at the URL path of their page file
(``/starlight``, ``/ltx_direct``, …); the Generations queue is the root. ``st.Page`` paths are
built from this file's folder, as Streamlit's hello app does. Icons are Streamlit's bundled
Material Symbols, which render without an emoji font.
"""

from pathlib import Path

import streamlit as st

from components.router import leave_legacy_pages_mode, render_frame
from studio import models

leave_legacy_pages_mode()  # the one guard: see components/router.py

PAGES = Path(__file__).parent / "pages"


def model_pages(task: str) -> list[st.Page]:
    """One page per model unit of ``task``: ``pages/<unit.page>.py`` (or the unit's own
    ``page_file``), titled with the unit's display name."""
    return [st.Page(Path(u.page_file) if u.page_file else PAGES / f"{u.page}.py",
                    title=u.display_name, icon=u.icon, url_path=u.page)
            for u in models.units(task)]


st.set_page_config(page_title="Video Enhance Studio", page_icon="🎞️", layout="wide")
page = st.navigation({
    "Tracking": [
        st.Page(PAGES / "generations.py", title="Generations", icon=":material/list_alt:",
                default=True),
    ],
    **{label: model_pages(task) for task, label in models.tasks()},
    "Review": [
        st.Page(PAGES / "sampler.py", title="Sampler", icon=":material/view_module:"),
        # Opened from review links only (``/review?g=<ids>``): not in the menu.
        st.Page(PAGES / "review.py", title="Review", icon=":material/compare:",
                visibility="hidden"),
    ],
    "Costs": [
        st.Page(PAGES / "forecast.py", title="Forecast", icon=":material/query_stats:"),
        st.Page(PAGES / "ledger.py", title="Estimate vs actual", icon=":material/receipt_long:"),
        st.Page(PAGES / "rates.py", title="Rates", icon=":material/sell:"),
    ],
})
render_frame(page)
