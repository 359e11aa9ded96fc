"""The architecture boundaries in ``[tool.importlinter]`` (pyproject.toml), checked by
import-linter's ``lint-imports`` as part of the suite: the core never imports Streamlit or the
sandbox; the sandbox never imports the client's model units, pricing, billing, rate
book, service, budget or job code, and reaches the client package only through
``sandbox/codec.py``.

The second test proves the contracts can fail: it copies the two packages into a temp dir,
adds one forbidden import and expects ``lint-imports`` to name it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    only = [arg for c in contracts for arg in ("--contract", c)]
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--no-logo", *only], cwd=root,
                          env=env, capture_output=True, text=True, timeout=120)


def test_the_repository_keeps_every_contract():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(("module", "line", "contract", "edge"), [
    ("sandbox/runner.py", "from studio import pricing", "sandbox-independent",
     "sandbox.runner -> studio.pricing"),
    ("sandbox/oxen_api.py", "import studio.jobs", "sandbox-independent",
     "sandbox.oxen_api -> studio.jobs"),
    ("sandbox/model_files.py", "from studio.models import load_unit_file",
     "sandbox-independent", "sandbox.model_files -> studio.models"),
    ("sandbox/prices.py", "from studio import media", "sandbox-one-seam",
     "sandbox.prices -> studio.media"),
    ("sandbox/codec.py", "from studio import ledger", "sandbox-one-seam",
     "sandbox.codec -> studio.ledger"),
    ("studio/local_sandbox.py", "import sandbox.lock", "core-no-sandbox",
     "studio.local_sandbox -> sandbox.lock"),
    ("studio/media.py", "import streamlit", "core-no-streamlit", "studio.media -> streamlit"),
])
def test_a_forbidden_import_breaks_its_contract(tmp_path, module, line, contract, edge):
    for package in ("studio", "sandbox"):
        shutil.copytree(REPO / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.json"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    with (tmp_path / module).open("a", encoding="utf-8") as fh:
        fh.write(f"\n{line}  # a forbidden import, added by the test\n")
    assert lint_imports(tmp_path).returncode != 0
    result = lint_imports(tmp_path, contract)
    assert result.returncode != 0
    assert "0 kept, 1 broken" in result.stdout, result.stdout
    assert edge in result.stdout
