"""Request-level options beside a model's parameters: who is billed (Oxen's
``target_namespace``) and, in sync mode, how the result comes back (``response_format``)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from studio.models import ModelUnit
from studio.service import Studio


def render_request_options(studio: Studio, spec: ModelUnit, mode: str, *, key: str
                           ) -> dict[str, Any]:
    """The options widgets for ``spec`` (Oxen models only); returns the options to send
    (empty when every one is at its default)."""
    if spec.provider != "oxen":
        return {}
    options: dict[str, Any] = {}
    default = studio.settings.oxen_target_namespace or ""
    with st.expander("Billing and delivery", expanded=False):
        namespace = st.text_input(
            "Bill to (Oxen namespace)", value=default, key=f"{key}:target_namespace",
            max_chars=100, placeholder="your own Oxen user",
            help="target_namespace: the Oxen user or organisation that is billed for this "
                 "generation and stores its output. Empty: your own user. The default comes "
                 "from OXEN_TARGET_NAMESPACE.")
        if namespace.strip():
            options["target_namespace"] = namespace.strip()
        if mode == "sync":
            inline = st.toggle(
                "Return the video inline (b64_json)", value=False, key=f"{key}:b64",
                help="response_format: b64_json. Oxen sends the video inside its answer; the "
                     "app decodes it straight into the result file (never into the "
                     "database). Default: a temporary link that is downloaded.")
            if inline:
                options["response_format"] = "b64_json"
    return options
