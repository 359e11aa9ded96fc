"""Process-wide resources for the app: settings, the local sandbox, the core ``Studio``
façade with its job store and its single background tracker.

``st.cache_resource`` makes each of these one per process, shared by every browser session,
so many open tabs never multiply polling.
"""

from __future__ import annotations

import os

import streamlit as st

from studio.config import Settings
from studio.jobs import JobStore
from studio.local_sandbox import ensure_sandbox
from studio.service import Studio


def load_settings() -> Settings:
    """Settings from ``st.secrets`` over the environment (secrets win)."""
    try:
        secrets = dict(st.secrets)
    except Exception:  # no secrets.toml: environment only
        secrets = {}
    return Settings.from_mapping(secrets, os.environ)


def _cache_key(settings: Settings) -> str:
    # The key's fingerprint, never the key, identifies the resource.
    parts = [
        settings.oxen_api_key.fingerprint() if settings.oxen_api_key else "-",
        settings.ltx_api_key.fingerprint() if settings.ltx_api_key else "-",
        settings.oxen_base_url or "-", settings.ltx_base_url or "-", str(settings.data_dir),
    ]
    return "|".join(parts)


def _release_studio(studio: Studio) -> None:
    """A replaced or evicted Studio stops its tracker, SSE listener and media pool and
    closes its HTTP sessions (and its store), so no thread of an old one keeps polling."""
    studio.close()
    studio.store.close()


# One entry: settings come from st.secrets and the environment, the same for every session,
# so a new key means the settings changed and the previous Studio is replaced (and stopped).
@st.cache_resource(show_spinner="Starting the local sandbox…", max_entries=1,
                   on_release=_release_studio)
def _load_studio(cache_key: str, _settings: Settings) -> Studio:
    sandbox_url = None
    if _settings.needs_sandbox:
        sandbox_url = ensure_sandbox(_settings.data_dir / "sandbox").url
    store = JobStore.from_settings(_settings.data_dir, _settings.database_url)
    studio = Studio(_settings, store, sandbox_url=sandbox_url)
    studio.start_background()
    return studio


def load_studio(settings: Settings) -> Studio:
    """The process-wide :class:`Studio` for ``settings`` (sandbox started when needed)."""
    return _load_studio(_cache_key(settings), settings)


def current_studio() -> Studio:
    """The :class:`Studio` for this process's settings (what every page uses)."""
    return load_studio(load_settings())
