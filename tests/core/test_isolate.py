"""Media work on untrusted files runs in a memory-capped child (studio.tracking.isolate): a
frame too big for the cap becomes a sentence and the calling process does not grow; a stop
ends the child at once."""

from __future__ import annotations

import threading
import time
import zipfile

import pytest

from studio.errors import StudioError
from studio.tracking.isolate import IsolatedFailure, run_isolated
from tests.hostile.server import exr_frame


def peak_rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.fixture(scope="module")
def big_zip(tmp_path_factory):
    path = tmp_path_factory.mktemp("iso") / "frames.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("f_0001.exr", exr_frame(4096, 4096))  # decodes to ≥ 192 MiB of float32
    return path


def test_a_frame_over_the_memory_cap_is_a_sentence_and_the_caller_stays_small(big_zip,
                                                                              tmp_path):
    before = peak_rss_mb()
    with pytest.raises(StudioError) as failed:
        run_isolated("studio.tracking.results:make_preview",
                     {"files": {"exr_frames": big_zip}, "dest": tmp_path / "p.mp4", "fps": 24},
                     memory_mb=450)
    assert str(failed.value) and "Traceback" not in str(failed.value)
    assert peak_rss_mb() - before < 50  # the decode happened (and failed) elsewhere
    assert not (tmp_path / "p.mp4").exists() or (tmp_path / "p.mp4").stat().st_size == 0


def test_stopping_kills_the_child_at_once(big_zip, tmp_path):
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(IsolatedFailure, match="shutting down"):
        run_isolated("studio.tracking.results:make_preview",
                     {"files": {"exr_frames": big_zip}, "dest": tmp_path / "p.mp4", "fps": 24},
                     memory_mb=2048, cancel=cancel)
    assert time.monotonic() - started < 15  # not the whole decode of the big ZIP


def test_only_studio_functions_run_isolated():
    with pytest.raises(ValueError):
        run_isolated("os:system", {"command": "true"}, memory_mb=100)
