"""Presets: validated on save and on load, atomic writes, nothing but form parameters."""

from __future__ import annotations

import json
import threading

import pytest

from studio import catalog, presets
from studio.errors import ParamError


@pytest.fixture()
def path(tmp_path):
    return presets.presets_path(tmp_path)


def test_save_load_delete_round_trip(path):
    assert presets.load(path, catalog.STARLIGHT) == {}
    stored = presets.save(path, catalog.STARLIGHT, " fast 1080p ",
                          {"resolution": "1080p", "target_fps": 30, "interpolate_frames": True})
    assert stored == {"resolution": "1080p", "target_fps": 30, "interpolate_frames": True}
    presets.save(path, catalog.STARLIGHT, "4k", {"resolution": "4k"})
    presets.save(path, catalog.RHEA, "soft", {"resolution": "720p", "grain": 0.02})
    assert list(presets.load(path, catalog.STARLIGHT)) == ["4k", "fast 1080p"]  # sorted, stripped
    assert presets.load(path, catalog.RHEA) == {"soft": {"resolution": "720p", "grain": 0.02}}
    assert presets.delete(path, catalog.STARLIGHT, "4k") is True
    assert presets.delete(path, catalog.STARLIGHT, "4k") is False
    assert list(presets.load(path, catalog.STARLIGHT)) == ["fast 1080p"]
    doc = json.loads(path.read_text())
    assert doc["version"] == 1 and set(doc["presets"]) == {catalog.STARLIGHT, catalog.RHEA}


def test_same_name_replaces(path):
    presets.save(path, catalog.STARLIGHT, "mine", {"resolution": "4k"})
    presets.save(path, catalog.STARLIGHT, "mine", {"resolution": "2k"})
    assert presets.load(path, catalog.STARLIGHT) == {"mine": {"resolution": "2k"}}


@pytest.mark.parametrize("params, problem", [
    ({"resolution": "8k"}, "resolution: must be one of"),
    ({"target_fps": 48}, "target_fps: must be one of"),
    ({"interpolate_frames": "yes"}, "interpolate_frames: must be true or false"),
    ({"api_key": "sk-live-123"}, "api_key: not a form parameter"),
    ({"input_video": "https://example.com/signed?token=abc"}, "input_video: not a form parameter"),
])
def test_invalid_params_are_refused_and_nothing_is_written(path, params, problem):
    with pytest.raises(ParamError) as err:
        presets.save(path, catalog.STARLIGHT, "bad", params)
    assert any(problem in p for p in err.value.problems), err.value.problems
    assert not path.exists()


@pytest.mark.parametrize("name", ["", "   ", "x" * 61])
def test_bad_names_are_refused(path, name):
    with pytest.raises(ParamError):
        presets.save(path, catalog.STARLIGHT, name, {"resolution": "4k"})


def test_missing_prompt_is_allowed_and_empty_values_are_dropped(path):
    stored = presets.save(path, catalog.LTX_OXEN, "look",
                          {"prompt": "", "video_quality": "maximum", "seed": None})
    assert stored == {"video_quality": "maximum"}
    assert presets.load(path, catalog.LTX_OXEN) == {"look": {"video_quality": "maximum"}}


def test_presets_that_no_longer_validate_are_skipped_on_load(path):
    path.write_text(json.dumps({"version": 1, "presets": {catalog.STARLIGHT: {
        "old": {"params": {"resolution": "720p"}},  # Starlight has no 720p
        "junk": "not an object",
        "ok": {"params": {"resolution": "2k"}},
    }, "no-such-model": {"x": {"params": {}}}}}))
    assert presets.load(path, catalog.STARLIGHT) == {"ok": {"resolution": "2k"}}


def test_unreadable_file_loads_empty_and_is_kept_aside_on_save(path):
    path.write_text("{ this is not json")
    assert presets.load(path, catalog.STARLIGHT) == {}
    presets.save(path, catalog.STARLIGHT, "new", {"resolution": "4k"})
    assert path.with_name("presets.json.bad").read_text() == "{ this is not json"
    assert presets.load(path, catalog.STARLIGHT) == {"new": {"resolution": "4k"}}


def test_writes_are_atomic_and_leave_no_temporary_files(path):
    presets.save(path, catalog.STARLIGHT, "a", {"resolution": "4k"})
    leftovers = [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_concurrent_saves_lose_nothing(path):
    names = [f"p{i}" for i in range(20)]
    threads = [threading.Thread(target=presets.save,
                                args=(path, catalog.STARLIGHT, n, {"resolution": "2k"}))
               for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(presets.load(path, catalog.STARLIGHT)) == sorted(names)
