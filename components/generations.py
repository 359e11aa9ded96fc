"""The Generations page's filter bar: Mine / Team, status, model, free-text search, order.

Returns a :class:`components.filters.JobQuery`; the list itself is
:func:`components.jobs.render_live_jobs`.
"""

from __future__ import annotations

import streamlit as st

from components.filters import SCOPES, SORTS, JobQuery
from components.jobs import STATUS_ICON
from studio import models
from studio.jobs import ALL_STATUSES

ALL_MODELS = "__all__"


def status_options() -> list[str]:
    """Every status the store knows, plus any the UI has a badge for (newer stores may add
    statuses such as ``waiting``)."""
    return list(dict.fromkeys([*ALL_STATUSES, *STATUS_ICON]))


def render_generation_filters(*, key: str) -> JobQuery:
    """The filter widgets; returns what they select."""
    # "Show" needs room for both of its buttons, or "Mine" is cut (issue 10 item 20).
    c1, c2, c3, c4, c5 = st.columns([1.8, 2.2, 2, 2.2, 1.7], vertical_alignment="bottom")
    scope = c1.segmented_control(
        "Show", list(SCOPES), default="team", required=True, format_func=SCOPES.__getitem__,
        key=f"{key}:scope",
        help="Mine: generations made with this app's API key (matched by the key's "
             "fingerprint, never the key). Team: everyone's generations in this store.")
    statuses = c2.multiselect("Status", status_options(), key=f"{key}:statuses",
                              placeholder="Any status")
    choices = [ALL_MODELS, *models.MODELS]
    model = c3.selectbox(
        "Model", choices, key=f"{key}:model",
        format_func=lambda m: "All models" if m == ALL_MODELS else models.MODELS[m].display_name)
    text = c4.text_input("Search", key=f"{key}:search",
                         placeholder="source, model, generation id, error, owner")
    sort = c5.selectbox("Order", list(SORTS), format_func=SORTS.__getitem__, key=f"{key}:sort")
    return JobQuery(scope=scope or "team", statuses=tuple(statuses),
                    model_id=None if model == ALL_MODELS else model, text=text or "",
                    sort=sort or "newest")
