"""Fixtures shared by every test folder: the real media in ../shared/data, the repo root.

The shared folder sits beside the repository (CI clones main with shared/ next to it);
``STUDIO_SHARED_DATA`` can point elsewhere.

Every sandbox and preview the tests make encodes at x264/x265's ``ultrafast`` preset
(``SANDBOX_PRESET``, ``STUDIO_PREVIEW_PRESET``; the product's default is ``veryfast``): the
same pictures, frames and timing in less CPU time, so the suite fits 2 cores (issue 12). The
benches in bench/ measure at the product's default.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("SANDBOX_PRESET", "ultrafast")  # before studio/sandbox are imported
os.environ.setdefault("STUDIO_PREVIEW_PRESET", "ultrafast")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("STUDIO_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.fail(f"shared test media not found at {SHARED_DATA}; set STUDIO_SHARED_DATA")
    return SHARED_DATA


@pytest.fixture(scope="session")
def realshort(shared_data: Path) -> Path:
    return shared_data / "video" / "realshort.mp4"


@pytest.fixture(scope="session")
def cockatoo(shared_data: Path) -> Path:
    return shared_data / "video" / "cockatoo.mp4"


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``pytest-xdist --dist loadfile`` (scripts/test), with every browser test in one scope:
    one worker runs them one after another — each app and sandbox stopped before the next
    starts — while the other workers take the core and AppTest tests a file at a time (module
    fixtures such as a shared sandbox start once per file). Scopes go out in collection
    order, so naming tests/e2e first starts the browser tests at once."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class BrowserTestsTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "tests/e2e" if path.startswith("tests/e2e/") else path

    return BrowserTestsTogether(config, log)
