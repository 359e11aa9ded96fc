"""The encoder speed settings: ``STUDIO_PREVIEW_PRESET`` and ``SANDBOX_PRESET`` name one of
x264's presets; anything else is refused with the list, before any work starts."""

from __future__ import annotations

import subprocess
import sys

import pytest

from studio.media.codec import ENCODER_PRESETS, encoder_preset


def test_a_preset_is_read_from_its_variable_in_any_case(monkeypatch):
    monkeypatch.setenv("X_PRESET", " UltraFast ")
    assert encoder_preset("X_PRESET") == "ultrafast"
    monkeypatch.delenv("X_PRESET")
    assert encoder_preset("X_PRESET") == "veryfast"  # the product's default
    assert encoder_preset("X_PRESET", "medium") == "medium"


def test_an_unknown_preset_is_refused_with_the_valid_names(monkeypatch):
    monkeypatch.setenv("X_PRESET", "warp9")
    with pytest.raises(ValueError) as err:
        encoder_preset("X_PRESET")
    assert "X_PRESET='warp9' is not an x264 speed preset" in str(err.value)
    assert all(name in str(err.value) for name in ("ultrafast", "veryfast", "placebo"))
    assert ENCODER_PRESETS[0] == "ultrafast" and len(ENCODER_PRESETS) == 10


def test_the_sandbox_refuses_a_bad_sandbox_preset_before_it_listens(repo_root):
    env = {"PATH": "/usr/bin:/bin", "SANDBOX_PRESET": "warp9"}
    done = subprocess.run([sys.executable, "-m", "sandbox", "--port", "0"], cwd=repo_root,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "SANDBOX_PRESET='warp9' is not an x264 speed preset" in done.stderr
    assert "Traceback" not in done.stderr and "listening" not in done.stdout
