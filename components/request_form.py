"""The request form: one widget per model parameter, derived from the unit's schema.

Bounded numbers → slider (integers with a wide range → number input), enums → segmented
control (≤ 4 short options) or select box, booleans → toggle, prose (``widget="text_area"``)
→ text area with the unit's placeholder, frame rates (``widget="rate"``) → one-click standard
rates plus any typed value, optional fields without a default → an explicit "not set" choice
so nothing is sent by accident. A field that applies only with another's value
(``ParamSpec.only_with``) is shown only then. A value the vendor documents as applied when a
field is left empty (``ParamSpec.documented_value``) is shown with a one-click adopt.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from studio.models import ModelUnit, ParamSpec, Suggestion, fps_text

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
    """The choices of an enum widget: the schema's options, after "not set" when the field
    is optional without a default."""
    options: list[Any] = list(p.enum or ())
    if p.default is None and not p.required:
        options = [NOT_SET, *options]
    return options


def _kind(p: ParamSpec) -> str:
    """Which widget ``p`` gets: ``toggle``, ``choice``, ``rate``, ``slider``, ``number``,
    ``text_area`` or ``text``."""
    if p.type == "boolean":
        return "toggle"
    if p.enum is not None:
        return "choice"
    if p.widget == "rate" and p.type in ("number", "integer"):
        return "rate"
    if p.type in ("number", "integer"):
        bounded = p.minimum is not None and p.maximum is not None
        if bounded and not (p.type == "integer" and float(p.maximum) - float(p.minimum) > 200):
            return "slider"
        return "number"
    return "text_area" if p.widget == "text_area" else "text"


def widget_value(p: ParamSpec, value: Any) -> Any:
    """The state of ``p``'s widget that shows ``value`` (``None`` = the field's default or
    "not set"), in the type that widget holds. Used to load presets and shared links and by
    the one-click suggestions."""
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
    if kind in ("slider", "rate"):
        if value is None:
            value = p.minimum
        return int(value) if p.type == "integer" else float(value)
    if kind == "number":
        if value is None:
            return None
        return int(value) if p.type == "integer" else float(value)
    return "" if value is None else str(value)


def widget_values(spec: ModelUnit, values: Mapping[str, Any], *, key: str) -> dict[str, Any]:
    """Widget key → state for every form parameter of ``spec``, showing ``values`` (fields
    absent from ``values`` go back to their default)."""
    out = {f"{key}:{p.name}": widget_value(p, values.get(p.name)) for p in spec.form_params}
    for p in spec.form_params:
        if _kind(p) == "rate":
            out[_pick_key(key, p)] = _matching_pick(p, out[f"{key}:{p.name}"])
    return out


def _set_state(wkey: str, value: Any, pick: tuple[str, Any] | None = None) -> None:
    st.session_state[wkey] = value
    if pick is not None:  # a rate widget: light the matching quick pick too
        st.session_state[pick[0]] = pick[1]


def _pick_key(key: str, p: ParamSpec) -> str:
    return f"{key}:{p.name}:pick"


def _matching_pick(p: ParamSpec, value: Any) -> Any:
    """The quick pick that equals ``value`` (frames/s), ``None`` when it is another rate."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return next((q for q in p.quick_values if abs(float(q) - v) < 1e-9), None)


def _render_rate(p: ParamSpec, label: str, value: Any, *, key: str) -> float | int | None:
    """One-click standard rates plus a number input for any value in the schema's range.

    The pills and the number input stay in step through their callbacks: a pick writes the
    number, a typed number lights the matching pick (or none)."""
    wkey, pkey = f"{key}:{p.name}", _pick_key(key, p)
    cast = int if p.type == "integer" else float
    if wkey not in st.session_state:
        st.session_state[wkey] = cast(value if value is not None else p.minimum or 1)
    if pkey not in st.session_state:
        st.session_state[pkey] = _matching_pick(p, st.session_state[wkey])

    def picked() -> None:
        choice = st.session_state.get(pkey)
        if choice is not None:
            st.session_state[wkey] = cast(choice)

    def typed() -> None:
        st.session_state[pkey] = _matching_pick(p, st.session_state.get(wkey))

    st.pills(label, list(p.quick_values), format_func=lambda v: fps_text(float(v)),
             key=pkey, on_change=picked, help=p.help)
    kwargs: dict[str, Any] = {}
    if p.minimum is not None:
        kwargs["min_value"] = cast(p.minimum)
    if p.maximum is not None:
        kwargs["max_value"] = cast(p.maximum)
    return st.number_input(f"{label}: any value", step=cast(1), format="%g", key=wkey,
                           on_change=typed, label_visibility="collapsed", **kwargs)


def _render_documented(p: ParamSpec, *, key: str) -> None:
    """What the vendor documents as applied when ``p`` is left empty, with a one-click adopt."""
    if not p.documented_value:
        return
    wkey = f"{key}:{p.name}"
    with st.expander(f"Left empty, the documented default {p.title.lower()} may apply",
                     expanded=False):
        st.caption(p.documented_note or "")
        st.code(p.documented_value, language=None, wrap_lines=True)
        st.button("Use this text", key=f"{wkey}:adopt", on_click=_set_state,
                  args=(wkey, p.documented_value), icon=":material/content_paste_go:",
                  disabled=st.session_state.get(wkey) == p.documented_value)


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
    if kind == "rate":
        return _render_rate(p, label, value, key=key)
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
    if kind == "text_area":
        text = st.text_area(label, value=value or "", help=p.help, key=wkey, height=80,
                            placeholder=p.placeholder)
        _render_documented(p, key=key)
    else:
        text = st.text_input(label, value=value or "", help=p.help, key=wkey,
                             placeholder=p.placeholder)
    # Empty text is "not set": a required field then reads as missing, not as a mistake.
    return text if text else None


def render_request_form(
    spec: ModelUnit, *, key: str, initial: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Widgets for every form parameter of ``spec``; returns ``{name: value}`` (unset fields
    omitted). Required fields, choices, toggles and fields with their own widget come first;
    the rest sit in an "Advanced" expander when there are many of them. A field whose
    ``only_with`` condition fails (judged on the values above it, defaults filled) is not
    shown and not returned."""
    initial = initial or {}
    values: dict[str, Any] = {}
    params = list(spec.form_params)
    primary = [p for p in params if p.required or p.enum is not None or p.type == "boolean"
               or p.widget is not None or p.documented_value]
    rest = [p for p in params if p not in primary]

    def render(p: ParamSpec) -> None:
        if not p.applies(spec.with_defaults(values)):
            return
        values[p.name] = render_param(p, key=key, initial=initial.get(p.name))

    for p in primary:
        render(p)
    if rest:
        box = st.expander("Advanced parameters", expanded=len(rest) <= 3)
        with box:
            for p in rest:
                render(p)
    return {k: v for k, v in values.items() if v is not None}


def render_suggestions(suggestions: list[Suggestion], spec: ModelUnit, *, key: str) -> None:
    """Each :class:`~studio.models.Suggestion` as its reason and a one-click button that sets
    the field (through its widget state, so the form shows the new value)."""
    for i, s in enumerate(suggestions):
        try:
            p = spec.param(s.field)
        except KeyError:
            continue
        value = widget_value(p, s.value)
        pick = (_pick_key(key, p), _matching_pick(p, value)) if _kind(p) == "rate" else None
        cols = st.columns([3, 2], vertical_alignment="center")
        cols[0].caption(s.reason)
        cols[1].button(s.label, key=f"{key}:suggest:{s.field}:{i}", on_click=_set_state,
                       args=(f"{key}:{s.field}", value, pick), icon=":material/auto_fix_high:")
