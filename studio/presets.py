"""Named parameter presets per model, kept in the store's database (``presets``), so every
replica and every teammate sees the same presets.

Owns the rules:

- a preset is a name and the model's *form* parameters only (never the source clip, whose
  URL may be signed, and never anything from :class:`studio.config.Settings`, so no key can
  end up here); every value is checked with :meth:`~studio.models.ModelUnit.validate` before it is
  stored and again when it is read, so a preset made for an older catalog is skipped, not
  sent;
- a save is one statement (insert or replace by model and name), so two tabs or processes
  saving at once never lose each other's preset.

Presets of the first release (``<data_dir>/presets.json``) are imported into the store once
(:mod:`studio.store.legacy`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from studio import models
from studio.errors import ParamError
from studio.store import JobStore

MAX_NAME_LEN = 60


def clean_params(model_id: str, params: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``params`` reduced to the model's form parameters, plus every problem with them.

    Unset values (``None``, empty text) are dropped. A missing required field (an empty
    prompt) is not a problem for a preset: it only means the preset leaves it to be filled
    in. Raises ``ParamError`` for an unknown model id.
    """
    spec = models.get(model_id)
    allowed = {p.name for p in spec.form_params}
    kept = {k: v for k, v in params.items()
            if k in allowed and v is not None and not (isinstance(v, str) and not v.strip())}
    problems = [str(p) for p in spec.validate(kept, require_source=False)
                if p.code != "required"]
    problems += [f"{k}: not a form parameter of {spec.display_name}"
                 for k in params if k not in allowed]
    return kept, problems


def check_name(name: str) -> str:
    """The preset name stripped; raises ``ParamError`` when it is empty or too long."""
    name = (name or "").strip()
    if not name:
        raise ParamError(["name: give the preset a name"])
    if len(name) > MAX_NAME_LEN:
        raise ParamError([f"name: at most {MAX_NAME_LEN} characters (got {len(name)})"])
    return name


def load(store: JobStore, model_id: str) -> dict[str, dict[str, Any]]:
    """The valid presets of ``model_id`` as ``{name: params}``, sorted by name
    (case-insensitively). A preset that no longer validates against the catalog is left
    out."""
    out: dict[str, dict[str, Any]] = {}
    for name, raw, _saved in sorted(store.presets.entries(model_id),
                                    key=lambda e: str(e[0]).casefold()):
        if not isinstance(raw, dict):
            continue
        try:
            params, problems = clean_params(model_id, raw)
        except ParamError:
            continue
        if not problems:
            out[name] = params
    return out


def save(store: JobStore, model_id: str, name: str, params: Mapping[str, Any],
         *, now: datetime | None = None) -> dict[str, Any]:
    """Store ``params`` as preset ``name`` of ``model_id`` (replacing one of the same name);
    returns what was stored. Raises ``ParamError`` listing every problem (bad name, unknown
    model, invalid or non-form fields); nothing is written then."""
    name = check_name(name)
    kept, problems = clean_params(model_id, params)
    if problems:
        raise ParamError(problems)
    store.presets.put(model_id, name, kept, now or datetime.now(UTC))
    return kept


def delete(store: JobStore, model_id: str, name: str) -> bool:
    """Remove preset ``name`` of ``model_id``; ``False`` when there was none."""
    return store.presets.delete(model_id, name)
