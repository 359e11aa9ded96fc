"""The one owner of ``st.session_state`` keys, with typed accessors.

Only UI selections live here (chosen source kind, selected job, statuses already toasted,
the generation a retry dialog is open for, the query string a page was last pre-filled
from, this browser's display name). Anything durable — generations, uploads, results,
presets — lives in the data directory.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

_SEEN = "seen_statuses"
_SELECTED = "selected_job"
_SELECTION = "selected_rows"
_RETRY = "retry_job"
_PREFILL = "prefilled_from"
_CONFIRM = "pending_confirmation"
DISPLAY_NAME = "display_name"  # the sidebar text input's widget key


def seen_statuses() -> dict[str, str]:
    """Job id → status this browser session last showed (to toast transitions once)."""
    return st.session_state.setdefault(_SEEN, {})


def selected_job(scope: str) -> str | None:
    return st.session_state.get(f"{_SELECTED}:{scope}")


def select_job(scope: str, job_id: str | None) -> None:
    st.session_state[f"{_SELECTED}:{scope}"] = job_id


def selected_rows(scope: str) -> tuple[str, ...]:
    """Job ids of the rows selected in table ``scope`` on the previous run."""
    return st.session_state.get(f"{_SELECTION}:{scope}", ())


def set_selected_rows(scope: str, job_ids: tuple[str, ...]) -> None:
    st.session_state[f"{_SELECTION}:{scope}"] = job_ids


def retry_job(scope: str) -> str | None:
    """The job id whose retry dialog is open in ``scope`` (``None`` = closed)."""
    return st.session_state.get(f"{_RETRY}:{scope}")


def set_retry_job(scope: str, job_id: str | None) -> None:
    st.session_state[f"{_RETRY}:{scope}"] = job_id


def close_retry_dialogs() -> None:
    """Forget every open retry dialog (the dialog's ✕ cannot say which scope it was)."""
    for k in [k for k in st.session_state if str(k).startswith(f"{_RETRY}:")]:
        st.session_state[k] = None


def prefilled_from(page: str) -> str | None:
    """The query string page ``page`` was last pre-filled from in this session."""
    return st.session_state.get(f"{_PREFILL}:{page}")


def set_prefilled_from(page: str, query: str, notes: tuple[str, ...]) -> None:
    st.session_state[f"{_PREFILL}:{page}"] = query
    st.session_state[f"{_PREFILL}:{page}:notes"] = notes


def prefill_notes(page: str) -> tuple[str, ...]:
    return st.session_state.get(f"{_PREFILL}:{page}:notes", ())


def flash(scope: str) -> tuple[str, str] | None:
    """A one-shot ``(kind, message)`` left by a callback for scope ``scope`` (then cleared);
    ``kind`` is ``"success"`` or ``"error"``."""
    return st.session_state.pop(f"flash:{scope}", None)


def set_flash(scope: str, kind: str, message: str) -> None:
    st.session_state[f"flash:{scope}"] = (kind, message)


def display_name() -> str | None:
    """The display name typed in the sidebar (stripped), or ``None``."""
    name = st.session_state.get(DISPLAY_NAME)
    name = name.strip() if isinstance(name, str) else ""
    return name or None


def set_widget_values(values: dict[str, Any]) -> None:
    """Write widget values by widget key (before those widgets are drawn in this run)."""
    for k, v in values.items():
        st.session_state[k] = v


def pending_confirmation() -> dict[str, Any] | None:
    """The submit waiting for its "above the threshold" confirmation: ``{"prepared", "mode",
    "n", "parent", "why"}``, or ``None``."""
    return st.session_state.get(_CONFIRM)


def set_pending_confirmation(value: dict[str, Any] | None) -> None:
    st.session_state[_CONFIRM] = value


def close_confirmation() -> None:
    """Forget the pending confirmation (the dialog's ✕ or Cancel)."""
    st.session_state[_CONFIRM] = None


def batch_rows(scope: str) -> tuple[int, ...]:
    """Plan row indexes whose batch-submit dialog is open in ``scope`` (empty = closed)."""
    return st.session_state.get(f"batch_rows:{scope}", ())


def set_batch_rows(scope: str, rows: tuple[int, ...]) -> None:
    st.session_state[f"batch_rows:{scope}"] = rows


def clear_batch_rows() -> None:
    """Close every batch dialog (its ✕ cannot say which scope it was)."""
    for k in [k for k in st.session_state if str(k).startswith("batch_rows:")]:
        st.session_state[k] = ()


_CANCEL = "cancel_asked"


def cancel_asked(job_id: str) -> bool:
    """True while the Cancel confirmation of generation ``job_id`` is open."""
    return job_id in st.session_state.get(_CANCEL, set())


def set_cancel_asked(job_id: str, asked: bool) -> None:
    asked_for: set[str] = st.session_state.setdefault(_CANCEL, set())
    if asked:
        asked_for.add(job_id)
    else:
        asked_for.discard(job_id)
