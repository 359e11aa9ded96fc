"""Cached loaders shared by the model page and the generation actions: clip probe,
thumbnail, the live Oxen model object (its parameters, with a live key) and turnaround."""

from __future__ import annotations

from typing import Any

import streamlit as st

from components.text import plain
from studio import ledger, media
from studio.errors import StudioError
from studio.media import ClipInfo
from studio.models import ModelUnit
from studio.service import Source, Studio
from studio.store import Status


@st.cache_data(ttl=3600, max_entries=128, show_spinner=False)
def load_probe(target: str, stamp: str) -> ClipInfo:
    """Header probe of a path or URL, cached per file version (``stamp``) for an hour."""
    return media.probe(target)


@st.cache_data(ttl=3600, max_entries=64, show_spinner=False)
def load_thumbnail(target: str, stamp: str) -> bytes:
    """One decoded frame as PNG bytes, cached like :func:`load_probe`."""
    return media.thumbnail(target)


@st.cache_data(ttl=3600, max_entries=16, show_spinner=False)
def load_live_model(_studio: Studio, model_id: str, cache_key: str) -> dict[str, Any] | None:
    """The live Oxen model object (pricing + request_schema), cached for an hour."""
    return _studio.live_model(model_id)


def stamp(source: Source) -> str:
    """A version stamp of a source for the caches: size and mtime of a local file."""
    if source.path is not None:
        st_ = source.path.stat()
        return f"{st_.st_size}:{st_.st_mtime_ns}"
    return "url"


def effective_spec(studio: Studio, spec: ModelUnit, *, warn: bool = True) -> ModelUnit:
    """With a live Oxen key: the model's live request_schema replaces the bundled parameter
    list (falls back to it, with a warning, when the lookup fails). Live *prices* come from
    the rate book (:func:`components.rates_view.load_rate_book`), the one place every page
    quotes from."""
    if spec.provider != "oxen" or studio.target("oxen") != "live":
        return spec
    try:
        model = load_live_model(studio, spec.id, studio.settings.owner())
    except StudioError as exc:
        if warn:
            st.warning(plain(f"Using the bundled parameter list: {exc}"))
        return spec
    schema = (model or {}).get("request_schema") or (model or {}).get("json_request_schema")
    if isinstance(schema, dict):
        try:
            spec = spec.with_schema(schema, origin="live")
        except ValueError:
            pass
    return spec


@st.cache_data(ttl=60, max_entries=4, show_spinner=False)
def _turnaround_index(_studio: Studio, cache_key: str) -> ledger.TurnaroundIndex:
    jobs = _studio.store.list(statuses=[Status.SUCCEEDED], limit=5000)
    return ledger.turnaround_index(ledger.turnaround_table(jobs))


def load_turnaround_index(studio: Studio) -> ledger.TurnaroundIndex:
    """Median wall times of the last 5,000 finished generations per model × tier × length
    bucket (:func:`studio.ledger.turnaround_index`), rebuilt at most once a minute."""
    return _turnaround_index(studio, str(studio.settings.data_dir))


def load_turnaround(studio: Studio, model_id: str, tier: str, duration_s: float
                    ) -> ledger.Estimate | None:
    """"About N min" for a generation like this one (≥ 3 finished ones needed)."""
    return ledger.estimate_from_index(load_turnaround_index(studio), model_id, tier, duration_s)
