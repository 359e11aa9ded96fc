"""Named presets on a model page: save the form's current values under a name, load one
back into the form, delete one. Storage and validation are :mod:`studio.presets`."""

from __future__ import annotations

from typing import Any

import streamlit as st

from components import session
from components.request_form import widget_values
from studio import presets
from studio.errors import ParamError
from studio.models import ModelUnit
from studio.store import JobStore


def _load(spec: ModelUnit, store: JobStore, key: str) -> None:
    name = st.session_state.get(f"{key}:preset:choice")
    found = presets.load(store, spec.id).get(name) if name else None
    if found is None:
        session.set_flash(f"{key}:preset", "error", f"There is no preset named '{name}' any more.")
        return
    # A callback runs before the form is drawn, so its widgets may still be written.
    session.set_widget_values(widget_values(spec, found, key=key))
    session.set_flash(f"{key}:preset", "success", f"Loaded preset '{name}'.")


def _delete(spec: ModelUnit, store: JobStore, key: str) -> None:
    name = st.session_state.get(f"{key}:preset:choice")
    if name and presets.delete(store, spec.id, name):
        st.session_state.pop(f"{key}:preset:choice", None)
        session.set_flash(f"{key}:preset", "success", f"Deleted preset '{name}'.")


def _save(spec: ModelUnit, store: JobStore, key: str, params: dict[str, Any]) -> None:
    name = st.session_state.get(f"{key}:preset:name", "")
    try:
        saved_name = presets.check_name(name)
        presets.save(store, spec.id, saved_name, params)
    except ParamError as exc:
        session.set_flash(f"{key}:preset", "error", str(exc))
        return
    st.session_state[f"{key}:preset:name"] = ""
    st.session_state[f"{key}:preset:choice"] = saved_name
    session.set_flash(f"{key}:preset", "success", f"Saved preset '{saved_name}'.")


def render_presets(spec: ModelUnit, params: dict[str, Any], *, store: JobStore, key: str) -> None:
    """The presets expander for ``spec``; ``params`` are the form's current values."""
    saved = presets.load(store, spec.id)
    with st.expander("Presets"):  # a fixed label: a new label would be a new, closed expander
        message = session.flash(f"{key}:preset")
        if message:
            (st.success if message[0] == "success" else st.error)(message[1])
        if saved:
            names = list(saved)
            choice_key = f"{key}:preset:choice"
            if choice_key in st.session_state and st.session_state[choice_key] not in names:
                del st.session_state[choice_key]  # deleted elsewhere: fall back to the first
            c1, c2, c3 = st.columns([3, 1, 1], vertical_alignment="bottom")
            c1.selectbox("Saved presets", names, key=choice_key)
            c2.button("Load", key=f"{key}:preset:load", on_click=_load, args=(spec, store, key),
                      help="Put this preset's values into the form above.")
            c3.button("Delete", key=f"{key}:preset:delete", on_click=_delete,
                      args=(spec, store, key))
        else:
            st.caption("No presets for this model yet.")
        c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
        c1.text_input("Save the current values as", key=f"{key}:preset:name",
                      max_chars=presets.MAX_NAME_LEN, placeholder="e.g. 1080p, 30 fps, no interpolation")
        c2.button("Save", key=f"{key}:preset:save", on_click=_save,
                  args=(spec, store, key, dict(params)))
        st.caption("Presets hold the parameters only (never the clip or a key) and are "
                   "shared by everyone using this store.")
