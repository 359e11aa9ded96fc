"""Source previews made in the background from the moment a clip is chosen: a clip that
plays is answered at once, one that does not is converted off the caller's thread with
progress, a failure is a sentence, and finished previews are found again on disk."""

from __future__ import annotations

import threading
import time

import pytest

from studio import media
from studio.errors import MediaError
from studio.service import source_preview
from studio.source_previews import MAX_TRACKED, SourcePreviews


def test_a_browser_playable_clip_is_ready_at_once(realshort, tmp_path):
    previews = SourcePreviews(tmp_path)
    state = previews.request(realshort)
    assert state.ready and state.path == realshort and not state.is_preview
    assert not any(tmp_path.iterdir())  # nothing made


@pytest.mark.slow
def test_a_clip_browsers_cannot_decode_is_previewed_in_the_background(cockatoo, tmp_path):
    previews = SourcePreviews(tmp_path)
    t0 = time.monotonic()
    first = previews.request(cockatoo)
    assert time.monotonic() - t0 < 5.0  # not kept waiting for the conversion (tens of s)
    assert first.status in ("pending", "running")
    seen = set()
    deadline = time.monotonic() + 300
    state = first
    while not state.done and time.monotonic() < deadline:
        state = previews.state(cockatoo)
        seen.add(round(state.fraction, 1))
        time.sleep(0.05)
    assert state.ready, state
    assert state.is_preview and state.path.parent == tmp_path
    clip = media.probe(state.path)
    assert media.browser_playable(clip)  # H.264 4:2:0 SDR
    assert (clip.width, clip.height, clip.frame_count) == (1280, 720, 280)
    assert len(seen) > 1  # progress moved
    assert previews.request(cockatoo) == state  # asked again: no second conversion

    made = state.path.stat().st_mtime_ns
    again = SourcePreviews(tmp_path)  # another process: found on disk, not made again
    found = again.wait(cockatoo, timeout=60)
    assert found.ready and found.path == state.path
    assert found.path.stat().st_mtime_ns == made


@pytest.mark.slow
def test_the_preview_name_is_the_one_service_uses(cockatoo, tmp_path, monkeypatch):
    made = tmp_path / "made"
    path, is_preview = source_preview(cockatoo, made)
    assert is_preview
    stamp = path.stat().st_mtime_ns
    state = SourcePreviews(made).wait(cockatoo, timeout=60)
    assert state.ready and state.path == path and path.stat().st_mtime_ns == stamp


def test_a_failure_is_a_sentence_and_a_missing_file_too(tmp_path):
    def maker(path, cache_dir, progress):
        raise MediaError(f"The video '{path.name}' is damaged.")

    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"x")
    previews = SourcePreviews(tmp_path / "p", maker=maker)
    state = previews.wait(clip, timeout=10)
    assert state.status == "failed" and state.error == "The video 'clip.mp4' is damaged."
    gone = previews.request(tmp_path / "gone.mp4")
    assert gone.status == "failed" and "no longer on disk" in gone.error


def test_memory_is_bounded(tmp_path):
    release = threading.Event()

    def maker(path, cache_dir, progress):
        release.wait(5)
        return path, False

    previews = SourcePreviews(tmp_path / "p", maker=maker)
    files = []
    for i in range(MAX_TRACKED + 10):
        f = tmp_path / f"{i}.mp4"
        f.write_bytes(b"x")
        files.append(f)
        previews.request(f)
    release.set()
    assert previews.state(files[0]) is None  # the oldest were forgotten
    assert previews.state(files[-1]) is not None
    previews.close()
