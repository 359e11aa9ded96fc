"""Fixtures for the media, transfer, processing and sandbox tests.

``shared_data``, ``realshort`` and ``cockatoo`` come from ``tests/conftest.py`` (the real media in
``../shared/data`` beside the repository). This file adds the EXR references, the damaged-EXR
corpus (listed at collection time so each file is its own test case) and files that are
deliberately not usable video.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tests.core.conftest_sandbox import Api, RunningSandbox

# Same rule as tests/conftest.py; needed here at import time for parametrisation.
SHARED_DATA = Path(
    os.environ.get("STUDIO_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")
)
EXR_DIR = SHARED_DATA / "exr"
GOOD_EXRS = sorted(EXR_DIR.glob("*.exr"))
DAMAGED_EXRS = sorted(p for p in (EXR_DIR / "damaged").glob("*") if p.is_file())


@pytest.fixture(scope="session")
def exr_dir(shared_data: Path) -> Path:
    return shared_data / "exr"


@pytest.fixture
def bad_media(tmp_path: Path, cockatoo: Path) -> dict[str, Path]:
    """Files a person might pick by mistake, keyed by what is wrong with them."""
    from PIL import Image

    files = {
        "empty": tmp_path / "empty.mp4",
        "text": tmp_path / "notes.txt",
        "text_named_mp4": tmp_path / "notes.mp4",
        "png": tmp_path / "still.png",
        "png_named_mp4": tmp_path / "still.mp4",
        "truncated": tmp_path / "cockatoo_half.mp4",
    }
    files["empty"].write_bytes(b"")
    files["text"].write_text("shot list\n1. cockatoo\n", encoding="utf-8")
    files["text_named_mp4"].write_text("this is not a video\n", encoding="utf-8")
    Image.new("RGB", (64, 48), (200, 30, 30)).save(files["png"], format="PNG")
    files["png_named_mp4"].write_bytes(files["png"].read_bytes())
    data = cockatoo.read_bytes()
    files["truncated"].write_bytes(data[: len(data) // 2])
    return files


# -- sandbox tests: each module defines its own ``server`` (workers, keep-alive, fakes) -----
@pytest.fixture
def api(server: RunningSandbox) -> Api:
    """A fresh user per test, so no test sees another's generations or LTX slots."""
    return Api(server.url, f"key-{uuid.uuid4()}")


@pytest.fixture
def clip_url(api: Api, realshort: Path) -> str:
    """realshort.mp4 uploaded to the sandbox's repo files under a unique path."""
    return api.upload(realshort, f"clips/{uuid.uuid4().hex}/realshort.mp4")
