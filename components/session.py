"""The one owner of ``st.session_state`` keys, with typed accessors.

Only UI selections live here (chosen source kind, selected job, statuses already toasted).
Anything durable — generations, uploads, results — lives in the job store.
"""

from __future__ import annotations

import streamlit as st

_SEEN = "seen_statuses"
_SELECTED = "selected_job"


def seen_statuses() -> dict[str, str]:
    """Job id → status this browser session last showed (to toast transitions once)."""
    return st.session_state.setdefault(_SEEN, {})


def selected_job(scope: str) -> str | None:
    return st.session_state.get(f"{_SELECTED}:{scope}")


def select_job(scope: str, job_id: str | None) -> None:
    st.session_state[f"{_SELECTED}:{scope}"] = job_id
