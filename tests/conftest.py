"""Fixtures shared by every test folder: the real media in ../shared/data, the repo root.

The shared folder sits beside the repository (CI clones main with shared/ next to it);
``STUDIO_SHARED_DATA`` can point elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
