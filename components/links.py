"""Shareable model-page links: a generation's parameters as query parameters, and back.

``/starlight?resolution=1080p&target_fps=30&src=https://…/clip.mp4`` opens the Starlight
page with its form pre-filled; ``src=sample`` picks the bundled sample clip (anyone running
the app has it). "Rerun with edits" adds ``rerun_of=<generation id>`` so the page can say
where its values came from (no link was opened). No Streamlit here: building and parsing
are pure functions.

Values are written in the catalog's own words (``true``/``false`` for booleans, ``30`` for
30.0) and parsed back with the parameter's catalog type; unknown keys and values the
catalog rejects come back as notes a person can read, never as an error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urljoin

from studio import models
from studio.jobs import Job
from studio.models import ModelUnit as ModelSpec
from studio.models import ParamSpec


class _PageSlugs(Mapping[str, str]):
    """Model id → page file stem (= URL path), read from the units."""

    def __getitem__(self, model_id: str) -> str:
        return models.MODELS[model_id].page

    def __iter__(self):
        return iter(models.MODELS)

    def __len__(self) -> int:
        return len(models.MODELS)


PAGE_SLUGS: Mapping[str, str] = _PageSlugs()
SOURCE_KEY = "src"
SAMPLE_SOURCE = "sample"  # ``src=sample``: the bundled sample clip
RERUN_KEY = "rerun_of"  # "Rerun with edits" from this generation (the id the app shows)
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class Prefill:
    """Parsed query parameters: form ``params``, a source URL (``src``), whether the link
    picks the bundled sample clip (``sample``), the generation a "Rerun with edits" came
    from (``rerun_of``, the id the app shows; ``None`` for a link) and ``notes`` about
    anything ignored."""

    params: dict[str, Any] = field(default_factory=dict)
    src: str | None = None
    notes: tuple[str, ...] = ()
    sample: bool = False
    rerun_of: str | None = None


def page_path(model_id: str) -> str:
    """The page file of a model, as ``st.page_link`` wants it (``pages/<slug>.py``)."""
    return f"pages/{PAGE_SLUGS[model_id]}.py"


def format_value(value: Any) -> str:
    """A parameter value as query text: ``true``/``false``, ``30`` for 30.0, else ``str``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def rerun_query(job: Job) -> dict[str, str]:
    """Query parameters that reproduce ``job``'s form on its model page: every form
    parameter it was sent with, plus ``src`` when its source was a URL or the bundled sample
    (``src=sample``); a local upload has no address another person could open."""
    spec = models.MODELS.get(job.model_id)
    if spec is None:
        return {}
    params = job.params or {}
    out = {p.name: format_value(params[p.name]) for p in spec.form_params  # the form's order
           if params.get(p.name) is not None}
    src = job.source or {}
    if src.get("kind") == "url" and src.get("url"):
        out[SOURCE_KEY] = str(src["url"])
    elif src.get("kind") == "sample":
        out[SOURCE_KEY] = SAMPLE_SOURCE
    return out


def rerun_url(job: Job, base_url: str | None = None) -> str | None:
    """The shareable link for "rerun with edits": ``<slug>?<query>`` joined onto
    ``base_url`` (the page's address in the browser, e.g. ``st.context.url``) when known,
    else ``/<slug>?<query>``. ``None`` for a model without a page."""
    slug = PAGE_SLUGS.get(job.model_id)
    if slug is None:
        return None
    rel = f"{slug}?{urlencode(rerun_query(job))}".rstrip("?")
    return urljoin(base_url, rel) if base_url else f"/{rel}"


def parse_value(p: ParamSpec, raw: str) -> Any:
    """``raw`` query text as ``p``'s catalog type; raises ``ValueError`` when it is not one.

    Booleans accept true/false/1/0/yes/no/on/off; integers accept ``30`` and ``30.0``;
    numbers must be finite; an enum value is returned as the catalog's own option.
    """
    text = raw.strip()
    value: Any
    if p.type == "boolean":
        low = text.lower()
        if low not in _TRUE | _FALSE:
            raise ValueError(f"{p.name}: must be true or false (got {raw!r})")
        value = low in _TRUE
    elif p.type in ("integer", "number"):
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"{p.name}: must be a number (got {raw!r})") from None
        if not math.isfinite(number):
            raise ValueError(f"{p.name}: must be a finite number (got {raw!r})")
        if p.type == "integer":
            if not number.is_integer():
                raise ValueError(f"{p.name}: must be a whole number (got {raw!r})")
            value = int(number)
        else:
            value = int(number) if number.is_integer() else number
    else:
        value = raw
    if p.enum is not None:
        for option in p.enum:
            if option == value:
                return option
    return value


def parse_query(spec: ModelSpec, query: Mapping[str, str]) -> Prefill:
    """Form values and source URL from a page's query parameters.

    Each value is parsed with its parameter's type and checked with
    the unit's schema; anything unknown or invalid is left out and explained
    in ``notes``. ``query`` maps a name to its (last) value, like ``st.query_params``.
    """
    form = {p.name: p for p in spec.form_params}
    params: dict[str, Any] = {}
    notes: list[str] = []
    src: str | None = None
    sample = False
    rerun_of: str | None = None
    for name, raw in query.items():
        raw = str(raw)
        if name == RERUN_KEY:
            rerun_of = raw.strip() or None
            continue
        if name == SOURCE_KEY:
            if raw.strip().startswith(("https://", "http://")):
                src = raw.strip()
            elif raw.strip() == SAMPLE_SOURCE:
                sample = True
            else:
                notes.append(f"src: must be an http(s) URL or {SAMPLE_SOURCE} (got {raw!r})")
            continue
        p = form.get(name)
        if p is None:
            notes.append(f"{name}: not a parameter of {spec.display_name}")
            continue
        try:
            params[name] = parse_value(p, raw)
        except ValueError as exc:
            notes.append(str(exc))
    for problem in spec.validate(params, require_source=False):
        if problem.field in params:
            notes.append(str(problem))
            del params[problem.field]
    return Prefill(params, src, tuple(notes), sample=sample, rerun_of=rerun_of)
