"""AppTest fixtures: one real sandbox process for the folder, an isolated data dir per test,
and Streamlit caches cleared between tests."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from studio.local_sandbox import start_sandbox
from tests.app.server_process import one_server_process

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "app.py")  # absolute: AppTest resolves relative paths from the test file


@pytest.fixture(scope="session")
def sandbox_url(tmp_path_factory):
    sandbox = start_sandbox(tmp_path_factory.mktemp("sandbox"), port=None, workers=1)
    yield sandbox.url
    sandbox.stop()


@pytest.fixture()
def data_dir(tmp_path, monkeypatch, sandbox_url):
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OXEN_BASE_URL", sandbox_url)
    monkeypatch.setenv("LTX_BASE_URL", sandbox_url)
    for var in ("OXEN_API_KEY", "LTXV_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path / "data"


@pytest.fixture(autouse=True)
def _one_server_process():
    """Each test's AppTest runs behave like one server process (tests/app/server_process.py)."""
    with one_server_process():
        yield


@pytest.fixture(autouse=True)
def _clear_caches():
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def open_page(page: str) -> AppTest:
    """Run the app once (the router), then switch to ``pages/<page>.py`` and run it."""
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    at.switch_page(f"pages/{page}.py")
    at.run()
    return at


def texts(at: AppTest) -> str:
    """All user-visible text of errors, warnings, infos, markdown and captions, as a reader
    sees it: Markdown backslash escapes (how provider text is kept plain, see
    ``components/text.py``) are resolved."""
    parts = []
    for root in (at, at.sidebar):
        for kind in ("error", "warning", "info", "markdown", "caption", "success", "title",
                     "metric"):
            for el in getattr(root, kind):
                parts.append(str(getattr(el, "value", "")) + " " + str(getattr(el, "label", "")))
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", "\n".join(parts))
