"""The one owner of ``st.session_state`` keys, with typed accessors.

Only UI selections live here (chosen source kind, selected job, statuses already toasted,
the generation a retry dialog is open for, the query string a page was last pre-filled
from, this browser's display name). Anything durable — generations, uploads, results,
presets — lives in the data directory.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from studio.store import Status

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


# -- review: compare player, status card, completion toasts --------------------------------
def compare_view(key: str) -> dict[str, Any] | None:
    """The mode/zoom/selection last chosen in compare player ``key`` (``None`` before)."""
    return st.session_state.get(f"compare-view:{key}")


def set_compare_view(key: str, view: dict[str, Any]) -> None:
    st.session_state[f"compare-view:{key}"] = view


def card_jobs(page: str) -> tuple[str, ...]:
    """Job ids shown in the status card under page ``page``'s Submit button."""
    return st.session_state.get(f"card-jobs:{page}", ())


def set_card_jobs(page: str, job_ids: tuple[str, ...]) -> None:
    st.session_state[f"card-jobs:{page}"] = job_ids
    st.session_state[f"card-token:{page}"] = st.session_state.get(f"card-token:{page}", 0) + 1


def card_token(page: str) -> int:
    """Counts submits on ``page``; the status card scrolls into view once per new value."""
    return st.session_state.get(f"card-token:{page}", 0)


def watched_jobs() -> dict[str, str]:
    """Job id → status of the generations this session submitted and has not yet seen end
    (what the completion toasts watch on every page)."""
    return st.session_state.setdefault("watched-jobs", {})


def watch_jobs(job_ids: list[str] | tuple[str, ...]) -> None:
    watched = watched_jobs()
    for job_id in job_ids:
        watched.setdefault(job_id, Status.SUBMITTING)


def note_submitted(job_ids: list[str], model_id: str) -> None:
    """Remember generations just submitted, for the status card of their model's page."""
    import time

    st.session_state["submitted-pending"] = (tuple(job_ids), model_id, time.monotonic())
    watch_jobs(job_ids)


def take_submitted(model_id: str) -> tuple[str, ...]:
    """The generations of ``model_id`` submitted in the last minute and not yet put in a
    card (then forgotten); ``()`` when none."""
    import time

    pending = st.session_state.get("submitted-pending")
    if not pending or pending[1] != model_id or time.monotonic() - pending[2] > 60:
        return ()
    st.session_state["submitted-pending"] = None
    return pending[0]


def compare_working(key: str) -> bool:
    """Whether the compare player ``key`` was still waiting for media on its last run."""
    return bool(st.session_state.get(f"compare-working:{key}"))


def set_compare_working(key: str, working: bool) -> None:
    st.session_state[f"compare-working:{key}"] = working


def last_form(model_id: str) -> dict[str, Any] | None:
    """The parameters last shown in ``model_id``'s page form in this session (the sampler's
    "current form" variant); ``None`` before that page was opened."""
    return st.session_state.get(f"last-form:{model_id}")


def set_last_form(model_id: str, params: dict[str, Any]) -> None:
    st.session_state[f"last-form:{model_id}"] = dict(params)


def sampler_variants(scope: str) -> list[dict[str, Any]]:
    """The sampler's variants (``Variant.to_json()`` dicts), in the order added."""
    return st.session_state.setdefault(f"sampler-variants:{scope}", [])


def sampler_pending(scope: str) -> dict[str, Any] | None:
    """The sampler batch waiting for its confirmation (``{"items", "total", "why"}``)."""
    return st.session_state.get(f"sampler-pending:{scope}")


def set_sampler_pending(scope: str, value: dict[str, Any] | None) -> None:
    st.session_state[f"sampler-pending:{scope}"] = value


def close_sampler_dialogs() -> None:
    """Forget every pending sampler confirmation (the dialog's ✕ cannot say which)."""
    for k in [k for k in st.session_state if str(k).startswith("sampler-pending:")]:
        st.session_state[k] = None


def sampler_whole(job_id: str) -> str | None:
    """The whole-clip quote (USD text) shown for a sampled generation before it was sent."""
    return st.session_state.get("sampler-whole", {}).get(job_id)


def set_sampler_whole(job_id: str, amount_usd: str) -> None:
    st.session_state.setdefault("sampler-whole", {})[job_id] = amount_usd
