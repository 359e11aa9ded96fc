"""A model's request schema: parameters derived from JSON Schema, and validation against it.

Owns :class:`ParamSpec` (one request parameter as the form and the wire see it, *derived*
from the schema's ``properties``/``required``/``type``/``default``/``enum``/``minimum``/
``maximum``/``format``/``description``/``x-order``), :class:`FieldUI` (the few facts a
schema lacks: a label, a better help text, which widget, a placeholder, quick picks, when the
field applies) and :func:`validate`, which runs the schema through ``jsonschema``
(Draft 2020-12) and returns structured :class:`~studio.errors.Problem`\\ s.

The bundled schema a unit vendors (``studio/models/schemas/*.json``, copied from
``shared/api/schemas/``) and a live ``request_schema`` from ``GET /api/ai/models/{id}``
(oxen.md §11.1) go through exactly these functions.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from studio.errors import Problem, shown_value

#: Oxen request-level fields (model_params.md "Common Oxen request-level fields"): valid on
#: every Oxen request, not model parameters, never a validation problem.
REQUEST_LEVEL_FIELDS = frozenset({"model", "num_generations", "target_namespace", "target_repo",
                                  "target_directory", "response_format"})
_FORM_TYPES = ("string", "number", "integer", "boolean")


@dataclass(frozen=True)
class FieldUI:
    """UI facts about one field that its JSON Schema does not carry.

    ``label``: the widget label (default: the field name in words). ``help``: a help text that
    replaces a thin schema description. ``widget``: ``"text_area"`` for prose,
    ``"rate"`` for a frame rate (quick picks of ``quick_values`` plus any typed value),
    ``None`` = chosen from the type. ``placeholder``: what to write, for text fields.
    ``only_with``: ``{other_field: (values...)}`` — the field is shown and sent only while
    the other field has one of those values (Hyperion's ``output_profile`` with ProRes).
    ``send_default``: ``False`` sends the field only when it differs from its default (a
    field whose support is unconfirmed). ``documented_value``/``documented_note``: a value
    the vendor documents as applied when the field is left empty, offered to adopt.
    """

    label: str | None = None
    help: str | None = None
    widget: str | None = None
    placeholder: str | None = None
    quick_values: tuple[Any, ...] = ()
    only_with: Mapping[str, tuple[Any, ...]] | None = None
    send_default: bool = True
    documented_value: str | None = None
    documented_note: str | None = None


@dataclass(frozen=True)
class ParamSpec:
    """One request parameter of a model, derived from its schema property.

    ``type`` is the JSON Schema type: ``"string"``, ``"number"``, ``"integer"`` or
    ``"boolean"``. ``default`` is ``None`` when the schema declares none (the field is then
    omitted from the request unless the user sets it). The UI facts (``label``, ``widget``,
    ``placeholder``, ``quick_values``, ``only_with``, ``send_default``, ``documented_*``)
    come from the unit's :class:`FieldUI` for the field.
    """

    name: str
    type: str
    help: str
    default: Any = None
    enum: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    required: bool = False
    format: str | None = None
    send_default: bool = True
    label: str | None = None
    widget: str | None = None
    placeholder: str | None = None
    quick_values: tuple[Any, ...] = ()
    only_with: Mapping[str, tuple[Any, ...]] | None = field(default=None, hash=False)
    documented_value: str | None = None
    documented_note: str | None = None

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    def applies(self, params: Mapping[str, Any]) -> bool:
        """Whether this field is shown and sent with ``params`` (defaults filled): always,
        unless ``only_with`` names another field's values and ``params`` has none of them."""
        if not self.only_with:
            return True
        return all(params.get(other) in values for other, values in self.only_with.items())


def read_schema(path: str | Path) -> dict[str, Any]:
    """The JSON file at ``path`` (a unit's vendored schema). Raises ``OSError`` /
    ``json.JSONDecodeError`` when it is missing or not JSON — a packaging bug, not user input."""
    return json.loads(Path(path).read_text("utf-8"))


def _type_of(prop: Mapping[str, Any]) -> str | None:
    ptype = prop.get("type")
    if isinstance(ptype, list):  # ["number", "null"]
        ptype = next((t for t in ptype if t != "null"), None)
    return ptype if ptype in _FORM_TYPES else None


def params_from_schema(schema: Mapping[str, Any], ui: Mapping[str, FieldUI] | None = None
                       ) -> tuple[ParamSpec, ...]:
    """The parameters of a request schema, in ``x-order`` then schema order.

    Reads ``properties``, ``required`` and per property ``type``, ``default``, ``enum``,
    ``minimum``, ``maximum``, ``format``, ``description``/``title`` and ``x-order`` (the keys
    Oxen's own doc generator reads, oxen.md §11.1). Properties of a type the form cannot
    render (arrays, objects) are left out. ``ui`` adds labels, widgets and the rest
    (:class:`FieldUI`) by field name. Raises ``ValueError`` when the schema has no properties.
    """
    props = schema.get("properties")
    if not isinstance(props, Mapping) or not props:
        raise ValueError("request schema has no properties")
    required = set(schema.get("required") or ())
    ui = ui or {}
    order = {name: i for i, name in enumerate(props)}
    items = sorted(props.items(),
                   key=lambda kv: (kv[1].get("x-order", 1_000) if isinstance(kv[1], Mapping)
                                   else 1_000, order[kv[0]]))
    out: list[ParamSpec] = []
    for name, prop in items:
        if not isinstance(prop, Mapping):
            continue
        ptype = _type_of(prop)
        if ptype is None:
            continue
        facts = ui.get(name, FieldUI())
        enum = tuple(prop["enum"]) if isinstance(prop.get("enum"), list) else None
        out.append(ParamSpec(
            name=name, type=ptype,
            help=facts.help or str(prop.get("description") or prop.get("title") or ""),
            default=prop.get("default"), enum=enum,
            minimum=prop.get("minimum"), maximum=prop.get("maximum"),
            required=name in required, format=prop.get("format"),
            send_default=facts.send_default, label=facts.label or prop.get("title"),
            widget=facts.widget, placeholder=facts.placeholder,
            quick_values=facts.quick_values, only_with=facts.only_with,
            documented_value=facts.documented_value, documented_note=facts.documented_note,
        ))
    return tuple(out)


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _range_text(p: ParamSpec) -> str:
    if p.minimum is not None and p.maximum is not None:
        return f"between {_fmt(p.minimum)} and {_fmt(p.maximum)}"
    if p.minimum is not None:
        return f"at least {_fmt(p.minimum)}"
    return f"at most {_fmt(p.maximum)}"


_TYPE_WORDS = {"boolean": "true or false", "integer": "a whole number", "number": "a number",
               "string": "text"}
# When jsonschema reports several keywords for one field, the first of these wins.
_PRIORITY = {"type": 0, "enum": 1, "minimum": 2, "maximum": 2, "exclusiveMinimum": 2,
             "exclusiveMaximum": 2}


def _message(p: ParamSpec, keyword: str, value: Any) -> tuple[str, str]:
    """(code, message) for ``value`` of ``p`` failing the schema keyword ``keyword``."""
    got = f"(got {shown_value(value)})"
    if keyword == "type":
        return "type", f"must be {_TYPE_WORDS.get(p.type, p.type)} {got}"
    if keyword == "enum":
        return "enum", f"must be one of {', '.join(_fmt(e) for e in p.enum or ())} {got}"
    if keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return keyword, f"must be {_range_text(p)} {got}"
    return keyword, f"is not allowed by the schema ({keyword}) {got}"


def _validation_schema(params: Sequence[ParamSpec]) -> dict[str, Any]:
    """The JSON Schema of ``params`` as validated: each property's type, enum and bounds.

    Built from the derived :class:`ParamSpec`\\ s (which hold exactly the schema's keywords), so
    a bundled and a live schema validate the same way and properties the form drops (arrays,
    objects) are not half-checked."""
    props: dict[str, Any] = {}
    for p in params:
        prop: dict[str, Any] = {"type": p.type}
        if p.enum is not None:
            prop["enum"] = list(p.enum)
        if p.minimum is not None:
            prop["minimum"] = p.minimum
        if p.maximum is not None:
            prop["maximum"] = p.maximum
        props[p.name] = prop
    return {"type": "object", "properties": props}


_VALIDATORS: dict[int, tuple[tuple[ParamSpec, ...], Draft202012Validator]] = {}


def _validator(params: tuple[ParamSpec, ...]) -> Draft202012Validator:
    key = id(params)
    hit = _VALIDATORS.get(key)
    if hit is not None and hit[0] is params:
        return hit[1]
    validator = Draft202012Validator(_validation_schema(params))
    if len(_VALIDATORS) > 64:
        _VALIDATORS.clear()
    _VALIDATORS[key] = (params, validator)
    return validator


_MEMO: dict[Any, tuple[tuple[ParamSpec, ...], tuple[Problem, ...]]] = {}
_MEMO_MAX = 8192


def _memo_key(params: tuple[ParamSpec, ...], values: Mapping[str, Any], model_name: str,
              skip: frozenset[str]) -> Any | None:
    """A hashable key for one validation, or ``None`` when a value cannot be one. Each value
    carries its type: ``True``, ``1`` and ``1.0`` are equal in Python but not to the schema."""
    try:
        items = tuple(sorted((k, type(v).__name__, v) for k, v in values.items()))
        key = (id(params), model_name, skip, items)
        hash(key)
    except TypeError:
        return None
    return key


def validate(
    params: Sequence[ParamSpec],
    values: Mapping[str, Any],
    *,
    model_name: str,
    skip: frozenset[str] = frozenset(),
) -> list[Problem]:
    """Every problem with ``values`` against ``params``; see :func:`_validate`.

    Results are remembered per parameter set and values (a plan of a thousand rows repeats a
    few settings many times, and jsonschema takes a fraction of a millisecond per call)."""
    params = tuple(params)
    key = _memo_key(params, values, model_name, skip)
    if key is not None:
        hit = _MEMO.get(key)
        if hit is not None and hit[0] is params:
            return list(hit[1])
    problems = _validate(params, values, model_name=model_name, skip=skip)
    if key is not None:
        if len(_MEMO) >= _MEMO_MAX:
            _MEMO.clear()
        _MEMO[key] = (params, tuple(problems))
    return problems


def _validate(
    params: tuple[ParamSpec, ...],
    values: Mapping[str, Any],
    *,
    model_name: str,
    skip: frozenset[str],
) -> list[Problem]:
    """Every problem with ``values`` against ``params`` at once; ``[]`` means valid.

    Order: unknown fields first, then per parameter in form order, at most one problem per
    field. Codes: ``"unknown_field"`` (not in the schema and not an Oxen request-level field,
    which the real services pass to the model, where it fails late), ``"required"`` (absent
    or ``None``), ``"blank"`` (a required text of only spaces), ``"not_finite"`` (NaN, ±inf),
    and the failing JSON Schema keyword otherwise (``"type"``, ``"enum"``, ``"minimum"``,
    ``"maximum"``). ``skip`` names fields not checked (the source URL before an upload).
    ``model_name`` goes into the unknown-field sentence.
    """
    by_name = {p.name: p for p in params}
    problems: list[Problem] = []
    for name in values:
        if name not in by_name and name not in REQUEST_LEVEL_FIELDS:
            problems.append(Problem(name, "unknown_field",
                                    f"not a parameter of {model_name} "
                                    f"(allowed: {', '.join(sorted(by_name))})"))
    per_field: dict[str, Problem] = {}
    present: dict[str, Any] = {}
    for p in params:
        if p.name in skip:
            continue
        value = values.get(p.name)
        if value is None:
            if p.required:
                per_field[p.name] = Problem(p.name, "required", "is required")
            continue
        if _is_number(value) and isinstance(value, float) and not math.isfinite(value):
            per_field[p.name] = Problem(p.name, "not_finite",
                                        f"must be a finite number (got {shown_value(value)})")
            continue
        if p.type == "string" and p.required and isinstance(value, str) and not value.strip():
            per_field[p.name] = Problem(p.name, "blank", "is required and must not be empty")
            continue
        present[p.name] = value
    ranked: dict[str, tuple[int, Problem]] = {}
    try:
        errors = list(_validator(params).iter_errors(present))
    except (OverflowError, ValueError, RecursionError):  # a value too large to compare
        errors = []
        for name, value in present.items():
            ranked[name] = (9, Problem(name, "type", f"is too large or not a value the model "
                                                     f"accepts (got {shown_value(value)})"))
    for err in errors:
        if not err.absolute_path:
            continue
        name = str(err.absolute_path[0])
        p = by_name[name]
        code, message = _message(p, str(err.validator), err.instance)
        rank = _PRIORITY.get(str(err.validator), 5)
        if name not in ranked or rank < ranked[name][0]:
            ranked[name] = (rank, Problem(name, code, message))
    per_field.update({name: problem for name, (_r, problem) in ranked.items()})
    problems += [per_field[p.name] for p in params if p.name in per_field]
    return problems


def with_defaults(params: Sequence[ParamSpec], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with every declared default filled in (fields without a default stay
    absent; ``None`` values are dropped)."""
    out = {p.name: p.default for p in params if p.default is not None}
    out.update({k: v for k, v in values.items() if v is not None})
    return out


def wire_params(params: Sequence[ParamSpec], values: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters to put on the wire: ``None`` dropped; fields with
    ``send_default=False`` dropped while they equal their default; fields whose
    ``only_with`` condition fails dropped (judged with defaults filled); integers as ``int``.
    Unknown names pass through unchanged (validation reports them)."""
    by_name = {p.name: p for p in params}
    full = with_defaults(params, values)
    out: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        p = by_name.get(name)
        if p is None:
            out[name] = value
            continue
        if not p.send_default and value == p.default:
            continue
        if not p.applies(full):
            continue
        if p.type == "integer" and _is_number(value) and float(value).is_integer():
            value = int(value)
        out[name] = value
    return out


def schema_document(params: Sequence[ParamSpec], *, source_field: str) -> dict[str, Any]:
    """``params`` as a JSON Schema object in the shape Oxen serves as a model's
    ``request_schema`` (oxen.md §11.1: properties with type, default, enum, minimum,
    maximum, format, description, title, ``x-order``, ``renderType``; ``required``;
    ``basic``)."""
    props: dict[str, Any] = {}
    for order, p in enumerate(params):
        prop: dict[str, Any] = {"type": p.type, "description": p.help, "title": p.title,
                                "x-order": order}
        if p.default is not None:
            prop["default"] = p.default
        if p.enum is not None:
            prop["enum"] = list(p.enum)
        if p.minimum is not None:
            prop["minimum"] = p.minimum
        if p.maximum is not None:
            prop["maximum"] = p.maximum
        if p.format:
            prop["format"] = p.format
        if p.name == source_field:
            prop["renderType"] = "video-url"
        props[p.name] = prop
    return {
        "type": "object",
        "properties": props,
        "required": [p.name for p in params if p.required],
        "basic": [p.name for p in params if p.required or p.enum],
    }


__all__ = ["REQUEST_LEVEL_FIELDS", "FieldUI", "ParamSpec", "params_from_schema", "read_schema",
           "schema_document", "validate", "wire_params", "with_defaults"]
