"""The request form: one widget per model parameter, derived from the model's spec.

Bounded numbers → slider (integers with a wide range → number input), enums → segmented
control (≤ 4 short options) or select box, booleans → toggle, prompts → text area, optional
fields without a default → an explicit "not set" choice so nothing is sent by accident.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from studio.catalog import ModelSpec, ParamSpec

NOT_SET = "— not set —"


def _step(p: ParamSpec) -> float:
    span = float((p.maximum or 0) - (p.minimum or 0))
    if span <= 0.2:
        return 0.005
    if span <= 2:
        return 0.01
    return 1.0 if p.type == "integer" else 0.5


def _fmt_option(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _options(p: ParamSpec) -> list[Any]:
    """The choices of an enum widget: the catalog's options, after "not set" when the field
    is optional without a default."""
    options: list[Any] = list(p.enum or ())
    if p.default is None and not p.required:
        options = [NOT_SET, *options]
    return options


def _kind(p: ParamSpec) -> str:
    """Which widget ``p`` gets: ``toggle``, ``choice``, ``slider``, ``number`` or ``text``."""
    if p.type == "boolean":
        return "toggle"
    if p.enum is not None:
        return "choice"
    if p.type in ("number", "integer"):
        bounded = p.minimum is not None and p.maximum is not None
        if bounded and not (p.type == "integer" and float(p.maximum) - float(p.minimum) > 200):
            return "slider"
        return "number"
    return "text"


def widget_value(p: ParamSpec, value: Any) -> Any:
    """The state of ``p``'s widget that shows ``value`` (``None`` = the field's default or
    "not set"), in the type that widget holds. Used to load presets and shared links."""
    kind = _kind(p)
    if value is None:
        value = p.default
    if kind == "toggle":
        return bool(value)
    if kind == "choice":
        options = _options(p)
        for option in options:
            if value is not None and option == value:
                return option
        return NOT_SET if NOT_SET in options else options[0]
    if kind == "slider":
        if value is None:
            value = p.minimum
        return int(value) if p.type == "integer" else float(value)
    if kind == "number":
        if value is None:
            return None
        return int(value) if p.type == "integer" else float(value)
    return "" if value is None else str(value)


def widget_values(spec: ModelSpec, values: Mapping[str, Any], *, key: str) -> dict[str, Any]:
    """Widget key → state for every form parameter of ``spec``, showing ``values`` (fields
    absent from ``values`` go back to their default)."""
    return {f"{key}:{p.name}": widget_value(p, values.get(p.name)) for p in spec.form_params}


def render_param(p: ParamSpec, *, key: str, initial: Any = None) -> Any:
    """One widget for ``p``; returns its value (``None`` = not set / omit from request)."""
    wkey = f"{key}:{p.name}"
    value = p.default if initial is None else initial
    label = p.title + (" *" if p.required else "")
    kind = _kind(p)
    if kind == "toggle":
        return st.toggle(label, value=bool(value), help=p.help, key=wkey)
    if kind == "choice":
        options = _options(p)
        if NOT_SET in options and value is None:
            value = NOT_SET
        short = len(options) <= 4 and all(len(_fmt_option(o)) <= 12 for o in options)
        if short:
            chosen = st.segmented_control(label, options, default=value, required=True,
                                          format_func=_fmt_option, help=p.help, key=wkey)
        else:
            index = options.index(value) if value in options else 0
            chosen = st.selectbox(label, options, index=index, format_func=_fmt_option,
                                  help=p.help, key=wkey)
        return None if chosen == NOT_SET else chosen
    if kind == "slider":
        if p.type == "integer":
            return st.slider(label, int(p.minimum), int(p.maximum), int(value), help=p.help,
                             key=wkey)
        return st.slider(label, float(p.minimum), float(p.maximum), float(value),
                         step=_step(p), help=p.help, key=wkey)
    if kind == "number":
        if p.type == "integer":
            kwargs: dict[str, Any] = {"step": 1}
            if p.minimum is not None:
                kwargs["min_value"] = int(p.minimum)
            if p.maximum is not None:
                kwargs["max_value"] = int(p.maximum)
            return st.number_input(label, value=None if value is None else int(value),
                                   placeholder="not set", help=p.help, key=wkey, **kwargs)
        return st.number_input(label, value=None if value is None else float(value),
                               placeholder="not set", help=p.help, key=wkey)
    if p.name in ("prompt", "negative_prompt"):
        text = st.text_area(label, value=value or "", help=p.help, key=wkey, height=80,
                            placeholder="e.g. cinematic HDR, natural highlights, rich colour"
                            if p.name == "prompt" else "optional")
    else:
        text = st.text_input(label, value=value or "", help=p.help, key=wkey)
    return text if (text or p.required) else None


def render_request_form(
    spec: ModelSpec, *, key: str, initial: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Widgets for every form parameter of ``spec``; returns ``{name: value}`` (unset fields
    omitted). Required fields come first; the rest sit in an "Advanced" expander when there
    are many of them."""
    initial = initial or {}
    values: dict[str, Any] = {}
    params = list(spec.form_params)
    primary = [p for p in params if p.required or p.enum is not None or p.type == "boolean"]
    rest = [p for p in params if p not in primary]
    for p in primary:
        values[p.name] = render_param(p, key=key, initial=initial.get(p.name))
    if rest:
        box = st.expander("Advanced parameters", expanded=len(rest) <= 3)
        with box:
            for p in rest:
                values[p.name] = render_param(p, key=key, initial=initial.get(p.name))
    return {k: v for k, v in values.items() if v is not None}
