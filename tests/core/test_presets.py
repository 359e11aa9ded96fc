"""Presets: validated on save and on load, nothing but form parameters, kept in the store's
database (shared by every app process), concurrent saves lose nothing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from studio import presets
from studio.errors import ParamError
from studio.store import JobStore
from tests.model_ids import LTX_OXEN, RHEA, STARLIGHT


@pytest.fixture()
def store(tmp_path):
    s = JobStore(tmp_path / "jobs.sqlite3")
    yield s
    s.close()


def test_save_load_delete_round_trip(store, tmp_path):
    assert presets.load(store, STARLIGHT) == {}
    stored = presets.save(store, STARLIGHT, " fast 1080p ",
                          {"resolution": "1080p", "target_fps": 30, "interpolate_frames": True})
    assert stored == {"resolution": "1080p", "target_fps": 30, "interpolate_frames": True}
    presets.save(store, STARLIGHT, "4k", {"resolution": "4k"})
    presets.save(store, RHEA, "soft", {"resolution": "720p", "grain": 0.02})
    assert list(presets.load(store, STARLIGHT)) == ["4k", "fast 1080p"]  # sorted, stripped
    assert presets.load(store, RHEA) == {"soft": {"resolution": "720p", "grain": 0.02}}
    # Another process on the same database sees the same presets at once.
    other = JobStore(tmp_path / "jobs.sqlite3")
    assert presets.load(other, RHEA) == {"soft": {"resolution": "720p", "grain": 0.02}}
    assert presets.delete(store, STARLIGHT, "4k") is True
    assert presets.delete(other, STARLIGHT, "4k") is False
    assert list(presets.load(other, STARLIGHT)) == ["fast 1080p"]
    assert not (tmp_path / "presets.json").exists()  # no per-replica file


def test_same_name_replaces(store):
    presets.save(store, STARLIGHT, "mine", {"resolution": "4k"})
    presets.save(store, STARLIGHT, "mine", {"resolution": "2k"})
    assert presets.load(store, STARLIGHT) == {"mine": {"resolution": "2k"}}


@pytest.mark.parametrize("params, problem", [
    ({"resolution": "8k"}, "resolution: must be one of"),
    ({"target_fps": 48}, "target_fps: must be one of"),
    ({"interpolate_frames": "yes"}, "interpolate_frames: must be true or false"),
    ({"api_key": "sk-live-123"}, "api_key: not a form parameter"),
    ({"input_video": "https://example.com/signed?token=abc"}, "input_video: not a form parameter"),
])
def test_invalid_params_are_refused_and_nothing_is_written(store, params, problem):
    with pytest.raises(ParamError) as err:
        presets.save(store, STARLIGHT, "bad", params)
    assert any(problem in p for p in err.value.problems), err.value.problems
    assert store.presets.entries(STARLIGHT) == []


@pytest.mark.parametrize("name", ["", "   ", "x" * 61])
def test_bad_names_are_refused(store, name):
    with pytest.raises(ParamError):
        presets.save(store, STARLIGHT, name, {"resolution": "4k"})


def test_missing_prompt_is_allowed_and_empty_values_are_dropped(store):
    stored = presets.save(store, LTX_OXEN, "look",
                          {"prompt": "", "video_quality": "maximum", "seed": None})
    assert stored == {"video_quality": "maximum"}
    assert presets.load(store, LTX_OXEN) == {"look": {"video_quality": "maximum"}}


def test_presets_that_no_longer_validate_are_skipped_on_load(store):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    store.presets.put(STARLIGHT, "old", {"resolution": "720p"}, now)  # no 720p
    store.presets.put(STARLIGHT, "ok", {"resolution": "2k"}, now)
    assert presets.load(store, STARLIGHT) == {"ok": {"resolution": "2k"}}
    assert len(store.presets.entries(STARLIGHT)) == 2  # kept, only not offered


def test_concurrent_saves_lose_nothing(tmp_path):
    """20 threads on two store objects (two app processes) save at once: all 20 kept."""
    stores = [JobStore(tmp_path / "jobs.sqlite3") for _ in range(2)]
    names = [f"p{i}" for i in range(20)]
    threads = [threading.Thread(target=presets.save,
                                args=(stores[i % 2], STARLIGHT, n, {"resolution": "2k"}))
               for i, n in enumerate(names)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(presets.load(stores[0], STARLIGHT)) == sorted(names)
