"""Checking a request against the vendored JSON Schema, with the providers' own error texts.

Owns the rule "a bad parameter gets the words the vendor's doc uses". Requests are validated
with ``jsonschema`` (Draft 2020-12) against :func:`sandbox.models.validation_schema` — the
vendored schema with unknown fields refused — and every failure becomes a :class:`Problem`
``(field, code, text, hint)``:

==========================  ===============================  =====================================
failure                     ``text`` (what the client sees)   source
==========================  ===============================  =====================================
required field missing      ``Field required``               Starlight's error table
                                                             (model_params.md §4)
value not in an enum        ``Invalid <field>``              Starlight's table: "Invalid
                                                             resolution"
Starlight ``target_fps``    ``target_fps must be between 1   Starlight's table
outside 1–60                and 60``
number out of its range     ``<field> must be between        the same table's wording, for the
                            <min> and <max>``                other ranges
wrong JSON type             ``Input should be a valid        pydantic v2's texts, which the
                            string`` / ``number`` /          table's "Field required" comes from
                            ``integer`` / ``boolean``
unknown field               ``Extra inputs are not           pydantic v2 (``extra="forbid"``)
                            permitted``
==========================  ===============================  =====================================

``hint`` says what to send instead ("use 1080p, 2k or 4k"), ``code`` is a stable machine word
(``missing``, ``enum``, ``range``, ``type``, ``extra``). The API modules render problems in
their provider's envelope: :func:`title` (the texts, verbatim) and :func:`detail` (per field,
what to do).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import jsonschema

from sandbox import models

_TYPE_TEXTS = {
    "string": "Input should be a valid string",
    "number": "Input should be a valid number",
    "integer": "Input should be a valid integer",
    "boolean": "Input should be a valid boolean",
}
# Documented ranges the schema itself does not carry (Starlight's error table).
_DOC_RANGES: dict[tuple[str, str], tuple[float, float]] = {
    (models.STARLIGHT, "target_fps"): (1, 60),
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request: the ``field``, a machine ``code``, the vendor's
    ``text`` and a ``hint`` saying what to send instead."""

    field: str
    code: str
    text: str
    hint: str


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _choices(values: list[Any]) -> str:
    shown = [_fmt(v) for v in values]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


@cache
def _validator(model_id: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(models.validation_schema(model_id))


def clear_cache() -> None:
    """Forget the built validators (after an endpoint is added or removed,
    :mod:`sandbox.model_files`)."""
    _validator.cache_clear()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _problems_of(model_id: str, error: jsonschema.ValidationError,
                 params: Mapping[str, Any]) -> list[Problem]:
    props = models.validation_schema(model_id)["properties"]
    kind = error.validator
    if kind == "required":
        return [Problem(name, "missing", "Field required",
                        f"send {name} ({props.get(name, {}).get('description', 'required')})")
                for name in error.validator_value if name not in params]
    if kind == "additionalProperties":
        return [Problem(name, "extra", "Extra inputs are not permitted",
                        f"remove {name}; the fields are {', '.join(props)}")
                for name in params if name not in props]
    field = str(error.path[0]) if error.path else "request"
    value = error.instance
    if kind == "type":
        expected = error.validator_value
        return [Problem(field, "type", _TYPE_TEXTS.get(str(expected), f"Input should be a "
                                                       f"valid {expected}"),
                        f"send {field} as a JSON {expected}; got {_shown(value)}")]
    if kind == "enum":
        allowed = error.validator_value
        doc_range = _DOC_RANGES.get((model_id, field))
        if doc_range and _is_number(value) and not doc_range[0] <= value <= doc_range[1]:
            lo, hi = (_fmt(v) for v in doc_range)
            return [Problem(field, "range", f"{field} must be between {lo} and {hi}",
                            f"use one of {_choices(allowed)}; got {_shown(value)}")]
        return [Problem(field, "enum", f"Invalid {field}",
                        f"use {_choices(allowed)}; got {_shown(value)}")]
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        prop = props.get(field, {})
        lo, hi = prop.get("minimum"), prop.get("maximum")
        text = (f"{field} must be between {_fmt(lo)} and {_fmt(hi)}" if lo is not None
                and hi is not None else f"{field} is out of range")
        return [Problem(field, "range", text, f"got {_shown(value)}")]
    return [Problem(field, kind, f"Invalid {field}", error.message)]


def problems(model_id: str, params: Mapping[str, Any]) -> list[Problem]:
    """Every problem of ``params`` (model parameters only, no request-level fields such as
    ``model`` or ``num_generations``) against ``model_id``'s vendored schema, in field order;
    an empty list means the request is valid. Raises ``KeyError`` for an unknown model."""
    found: list[Problem] = []
    for error in _validator(model_id).iter_errors(dict(params)):
        found.extend(_problems_of(model_id, error, params))
    order = list(models.validation_schema(model_id)["properties"])
    return sorted(found, key=lambda p: (order.index(p.field) if p.field in order
                                        else len(order), p.field))


def title(found: list[Problem]) -> str:
    """The vendor texts, each once, joined with "; " ("Field required; Invalid resolution")."""
    return "; ".join(dict.fromkeys(p.text for p in found))


def detail(found: list[Problem]) -> str:
    """What to do, per field: "resolution: use 1080p, 2k or 4k ; got '8k'"."""
    return "; ".join(f"{p.field}: {p.hint}" for p in found)


def sentence(found: list[Problem]) -> str:
    """One line for a failed generation's ``error_message``: the texts, then the fixes."""
    return f"{title(found)} ({detail(found)})"
