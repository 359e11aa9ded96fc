"""The command line: same store, rules and sandbox as the UI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio import catalog
from studio.cli import parse_param
from studio.errors import ParamError
from studio.local_sandbox import start_sandbox

REPO = Path(__file__).resolve().parents[2]


def test_params_are_typed_by_the_model_spec():
    spec = catalog.MODELS[catalog.RHEA]
    assert parse_param(spec, "target_fps=29.97") == ("target_fps", 29.97)
    assert parse_param(spec, "target_fps=30") == ("target_fps", 30)
    assert parse_param(spec, "interpolate_frames=yes") == ("interpolate_frames", True)
    assert parse_param(spec, "resolution=4k") == ("resolution", "4k")
    with pytest.raises(ParamError):
        parse_param(spec, "grain=lots")
    with pytest.raises(ParamError):
        parse_param(spec, "resolution")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    sb = start_sandbox(tmp_path_factory.mktemp("cli-sbx"), port=None)
    yield sb.url
    sb.stop()


def run_cli(args, env):
    return subprocess.run([sys.executable, "-m", "studio", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=180)


def test_submit_status_track_round_trip(tmp_path, sandbox, realshort):
    env = {k: v for k, v in os.environ.items() if k not in ("OXEN_API_KEY", "LTXV_API_KEY")}
    env.update(STUDIO_DATA_DIR=str(tmp_path), OXEN_BASE_URL=sandbox, LTX_BASE_URL=sandbox)
    out = run_cli(["submit", "--model", catalog.STARLIGHT, "--input", str(realshort),
                   "--param", "resolution=1080p"], env)
    assert out.returncode == 0, out.stderr
    job_id = out.stdout.strip()
    assert "Quote: $" in out.stderr and "published" in out.stderr
    out = run_cli(["track", "--until-done", "--interval", "0.5"], env)
    assert out.returncode == 0 and f"{job_id[:8]}" in out.stdout and "succeeded" in out.stdout
    rows = json.loads(run_cli(["status", "--json"], env).stdout)
    assert rows[0]["id"] == job_id and rows[0]["status"] == "succeeded"
    assert rows[0]["charge_usd"] == rows[0]["quote"]["amount_usd"]


def test_invalid_request_exits_2_with_every_problem(tmp_path, sandbox, realshort):
    env = {**os.environ, "STUDIO_DATA_DIR": str(tmp_path), "OXEN_BASE_URL": sandbox,
           "LTX_BASE_URL": sandbox}
    out = run_cli(["submit", "--model", catalog.STARLIGHT, "--input", str(realshort),
                   "--param", "resolution=8k", "--param", "target_fps=48"], env)
    assert out.returncode == 2
    assert "resolution" in out.stderr and "target_fps" in out.stderr
    out = run_cli(["submit", "--model", catalog.STARLIGHT, "--input", str(tmp_path / "nope.mp4")], env)
    assert out.returncode == 1 and "error:" in out.stderr and "Traceback" not in out.stderr
