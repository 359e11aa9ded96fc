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


# -- submit --yes (no sandbox: a stand-in Studio records what the command asks of it) -----------

class _FakeStore:
    def list(self, *a, **k):
        return []


class _FakeStudio:
    """The two Studio calls ``submit`` makes; ``submit`` needs ``confirmed`` above $5."""

    def __init__(self):
        self.store = _FakeStore()
        self.calls = []

    def prepare(self, model_id, source, params):
        from types import SimpleNamespace
        return SimpleNamespace(problems=(), quote=None, model_id=model_id, params=params)

    def submit(self, prepared, *, mode="queue", num_generations=1, confirmed=False):
        from decimal import Decimal
        from types import SimpleNamespace

        from studio.errors import ConfirmationRequired
        self.calls.append(confirmed)
        if not confirmed:
            raise ConfirmationRequired(Decimal("12.5"), Decimal("5"))
        return [SimpleNamespace(id="job-1", status="queued", remote_id="gen-1")]


def _submit_args(*extra):
    return ["submit", "--model", catalog.STARLIGHT, "--input", "https://example.com/a.mp4",
            *extra]


def test_submit_needing_confirmation_says_to_rerun_with_yes(monkeypatch, capsys):
    from studio import cli
    fake = _FakeStudio()
    monkeypatch.setattr(cli, "open_studio", lambda settings: fake)
    assert cli.main(_submit_args()) == 1
    err = capsys.readouterr().err
    assert "error: This request is quoted at" in err and "--yes" in err
    assert "Traceback" not in err and fake.calls == [False]
    assert cli.main(_submit_args("--yes")) == 0
    assert capsys.readouterr().out.strip() == "job-1" and fake.calls[-1] is True


def test_yes_is_only_passed_to_a_submit_that_takes_it(monkeypatch, capsys):
    from types import SimpleNamespace

    from studio import cli

    class OldStudio(_FakeStudio):
        def submit(self, prepared, *, mode="queue", num_generations=1):
            self.calls.append("old")
            return [SimpleNamespace(id="job-2", status="queued", remote_id=None)]

    fake = OldStudio()
    monkeypatch.setattr(cli, "open_studio", lambda settings: fake)
    assert cli.main(_submit_args("--yes")) == 0 and fake.calls == ["old"]


def test_forecast_target_resolution_lists_every_model(monkeypatch, capsys, tmp_path):
    from studio import cli

    def no_provider(*_a, **_k):
        raise AssertionError("forecast must not open a studio or start a sandbox")

    monkeypatch.setattr(cli, "open_studio", no_provider)
    monkeypatch.setattr(cli, "start_sandbox", no_provider)
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path))
    plan = tmp_path / "plan.csv"
    plan.write_text("clip,duration_s,width,height,fps,model_id,params,generations\n"
                    'a,14,1280,720,20,Starlight upscale,"{""resolution"": ""1080p""}",1\n')
    assert cli.main(["forecast", str(plan), "--target-resolution", "4k"]) == 0
    out = capsys.readouterr().out
    assert "Total: $0.5236" in out
    assert "← cheapest meeting 4k" in out and "Topaz Rhea" in out
    assert cli.main(["forecast", str(plan), "--json", "--target-resolution", "4k"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total_usd"] == "0.5236"
    assert [c["model_id"] for c in data["comparison"] if c["cheapest_meeting_target"]] == [
        catalog.RHEA]
