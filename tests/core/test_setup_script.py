"""What `scripts/run` prints while it installs (issue 10 item 19): one line per step and a
running package count, never a silent minute and never pip's or setuptools' warning boxes;
a second start skips pip; a failed install shows the end of its log and exits non-zero.

pip itself is replaced by a stand-in ``.venv/bin/python`` that prints what a real
``pip install -e .[test]`` prints (including setuptools' editable-install warning box on
stderr), so the test runs in a second and needs no network."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

FAKE_PIP = """#!/usr/bin/env bash
# Stand-in for `python -m pip install ...`
if [ "$FAIL_PIP" = 1 ]; then
  echo "Collecting foo"; echo "ERROR: No matching distribution found for foo" >&2; exit 1
fi
for i in $(seq 1 60); do echo "Collecting package-$i"; done
echo "Installing collected packages: package-1, package-2"
cat >&2 <<'BOX'
        !!

        ********************************************************************************
        Please avoid running ``setup.py`` and ``easy_install``.
        Instead, use pypa/build, pypa/installer or other standards-based tools.
        ********************************************************************************

!!
BOX
echo "Successfully installed package-1 package-2"
"""


def _project(tmp_path: Path, *, fail: bool = False) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "project"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "setup-venv", root / "scripts" / "setup-venv")
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    python = root / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PIP)
    python.chmod(0o755)
    return root, {"PATH": "/usr/bin:/bin", "FAIL_PIP": "1" if fail else "0"}


def _run(root: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "scripts/setup-venv", "test"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=60)


def test_install_shows_progress_and_no_warning_box_then_a_second_start_skips_pip(tmp_path):
    root, env = _project(tmp_path)
    first = _run(root, env)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0].startswith("Installing Python packages (with test extras)")
    # 60 "Collecting" lines from pip → a count every 25 packages, then the install step.
    assert "  25 packages checked" in lines and "  50 packages checked" in lines
    assert "  60 packages checked, installing…" in lines
    assert lines[-1] == "Python packages ready."
    shown = first.stdout + first.stderr
    assert "!!" not in shown and "****" not in shown and "setup.py" not in shown
    assert "Please avoid running" in (root / ".venv" / "install-test.log").read_text()

    again = _run(root, env)  # same pyproject.toml: nothing to do, nothing printed
    assert again.returncode == 0 and again.stdout == "" and again.stderr == ""


def test_a_failed_install_shows_the_end_of_its_log_and_fails(tmp_path):
    root, env = _project(tmp_path, fail=True)
    out = _run(root, env)
    assert out.returncode != 0
    assert "Installing the packages failed" in out.stderr
    assert "No matching distribution found for foo" in out.stderr
    assert not (root / ".venv" / ".installed-test").exists()  # the next start tries again
