"""The command line: same store, rules and sandbox as the UI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio import models
from studio.cli import parse_param
from studio.errors import ParamError
from studio.local_sandbox import start_sandbox
from studio.money import cents
from tests.model_ids import HYPERION, RHEA, STARLIGHT

REPO = Path(__file__).resolve().parents[2]


def test_params_are_typed_by_the_model_spec():
    spec = models.MODELS[RHEA]
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
    out = run_cli(["submit", "--model", STARLIGHT, "--input", str(realshort),
                   "--param", "resolution=1080p"], env)
    assert out.returncode == 0, out.stderr
    job_id = out.stdout.strip()
    assert "Quote: $" in out.stderr and "published" in out.stderr
    out = run_cli(["track", "--until-done", "--interval", "0.5"], env)
    assert out.returncode == 0 and f"{job_id[:8]}" in out.stdout and "succeeded" in out.stdout
    rows = json.loads(run_cli(["status", "--json"], env).stdout)
    assert rows[0]["id"] == job_id and rows[0]["status"] == "succeeded"
    # 1.2 output s (36 frames at 30 frames/s) × $0.0374 (pricing.md row 1) = $0.0449, quoted by
    # the client's rate book and charged by the sandbox's own price list.
    assert rows[0]["charge_usd"] == rows[0]["quote"]["amount_usd"] == "0.0449"


def test_invalid_request_exits_2_with_every_problem(tmp_path, sandbox, realshort):
    env = {**os.environ, "STUDIO_DATA_DIR": str(tmp_path), "OXEN_BASE_URL": sandbox,
           "LTX_BASE_URL": sandbox}
    out = run_cli(["submit", "--model", STARLIGHT, "--input", str(realshort),
                   "--param", "resolution=8k", "--param", "target_fps=48"], env)
    assert out.returncode == 2
    assert "resolution" in out.stderr and "target_fps" in out.stderr
    out = run_cli(["submit", "--model", STARLIGHT, "--input", str(tmp_path / "nope.mp4")], env)
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
    return ["submit", "--model", STARLIGHT, "--input", "https://example.com/a.mp4",
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


# -- submit against the sandbox: the budget refusal and the confirmation, end to end -----------

def sandbox_env(data_dir, sandbox, **extra):
    """The CLI's environment in sandbox mode: no keys, no caps or thresholds from the shell."""
    drop = {"OXEN_API_KEY", "LTXV_API_KEY", "DATABASE_URL", "STUDIO_CONFIRM_ABOVE_USD",
            "STUDIO_BUDGET_PERIOD", "STUDIO_BUDGET_TEAM_USD", "STUDIO_BUDGET_OWNER_USD"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(STUDIO_DATA_DIR=str(data_dir), OXEN_BASE_URL=sandbox, LTX_BASE_URL=sandbox,
               **extra)
    return env


def sandbox_traffic(url):
    import requests

    return requests.get(f"{url}/_sandbox/stats", timeout=10).json()["routes"]


def test_submit_over_the_saved_budget_is_refused_with_the_arithmetic(tmp_path, sandbox, cockatoo):
    """Team cap $1 saved from the app; a $2.0916 Starlight 4K request exits 1, prints the
    refusal's figures on stderr, and stores, uploads and sends nothing."""
    from studio.budget import BudgetStore
    from studio.store import JobStore

    BudgetStore(JobStore.from_settings(tmp_path)).save(period="month", team_usd="1")
    env = sandbox_env(tmp_path, sandbox)
    before = sandbox_traffic(sandbox)
    out = run_cli(["submit", "--model", STARLIGHT, "--input", str(cockatoo),
                   "--param", "resolution=4k", "--yes"], env)
    assert out.returncode == 1, out.stderr
    assert "error: Refused: team budget for " in out.stderr
    for figure in ("is $1.00", "this request $2.09", "= $2.09", "$1.09 over",
                   "Raise the budget or wait until"):
        assert figure in out.stderr
    assert out.stdout == "" and "Traceback" not in out.stderr and "--yes" not in out.stderr
    assert json.loads(run_cli(["status", "--json"], env).stdout) == []
    assert sandbox_traffic(sandbox) == before  # no upload, no paid request


def test_submit_above_the_confirmation_threshold_needs_yes(tmp_path, sandbox, realshort):
    """STUDIO_CONFIRM_ABOVE_USD=0.01: without --yes, exit 1 with the hint and nothing sent;
    the same command with --yes is submitted."""
    env = sandbox_env(tmp_path, sandbox, STUDIO_CONFIRM_ABOVE_USD="0.01")
    args = ["submit", "--model", STARLIGHT, "--input", str(realshort),
            "--param", "resolution=1080p"]
    before = sandbox_traffic(sandbox)
    out = run_cli(args, env)
    assert out.returncode == 1, out.stderr
    assert "error: This request is quoted at $" in out.stderr and "above the $0.01" in out.stderr
    assert "hint: rerun the same command with --yes to confirm this spend." in out.stderr
    assert out.stdout == "" and "Traceback" not in out.stderr
    assert json.loads(run_cli(["status", "--json"], env).stdout) == []
    assert sandbox_traffic(sandbox) == before

    out = run_cli([*args, "--yes"], env)
    assert out.returncode == 0, out.stderr
    job_id = out.stdout.strip()
    [row] = json.loads(run_cli(["status", "--json"], env).stdout)
    assert row["id"] == job_id and row["remote_id"] and row["status"] in ("queued", "processing")


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
    assert "Total: $0.52" in out
    assert "← cheapest meeting 4k" in out and "Topaz Rhea" in out
    assert cli.main(["forecast", str(plan), "--json", "--target-resolution", "4k"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total_usd"] == "0.5236"
    assert [c["model_id"] for c in data["comparison"] if c["cheapest_meeting_target"]] == [
        RHEA]


# -- forecast rate sources: bundled + team overrides (+ live Oxen pricing with a key) ------------

STARLIGHT_PLAN = ("clip,duration_s,width,height,fps,model_id,params,generations\n"
                  'a,14,1280,720,20,Starlight upscale,"{""resolution"": ""4k""}",1\n'
                  "b,10,1920,1080,24,Hyperion HDR,,1\n")


@pytest.fixture
def forecast_env(monkeypatch, tmp_path):
    """In-process forecast with a clean environment; opening a studio or starting a sandbox
    fails the test."""
    from studio import cli

    def no_provider(*_a, **_k):
        raise AssertionError("forecast must not open a studio or start a sandbox")

    monkeypatch.setattr(cli, "open_studio", no_provider)
    monkeypatch.setattr(cli, "start_sandbox", no_provider)
    for name in ("OXEN_API_KEY", "LTXV_API_KEY", "OXEN_BASE_URL", "LTX_BASE_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path))
    plan = tmp_path / "plan.csv"
    plan.write_text(STARLIGHT_PLAN)
    return plan


def test_forecast_in_sandbox_mode_fetches_nothing_and_names_its_rates(monkeypatch, capsys,
                                                                      forecast_env):
    from studio import cli

    def no_fetch(*_a, **_k):
        raise AssertionError("no live lookup without OXEN_API_KEY")

    monkeypatch.setattr(cli, "fetch_live_model", no_fetch)
    assert cli.main(["forecast", str(forecast_env)]) == 0
    captured = capsys.readouterr()
    assert "rates: bundled + 0 team overrides\n" in captured.err
    assert "Total: $2.22\n" in captured.out and "live" not in captured.out


def test_forecast_uses_live_oxen_pricing_when_a_key_is_set(monkeypatch, capsys, forecast_env,
                                                            sandbox, tmp_path):
    """With OXEN_API_KEY the Oxen models of the plan are priced from GET /api/ai/models/{id}
    (here the sandbox stands in for Oxen) and the totals equal the page's book."""
    from studio import cli, forecast
    from studio.ratebook import OverrideStore, load_book
    from studio.store import JobStore

    db = JobStore.from_settings(tmp_path)
    OverrideStore(db).set(RHEA, "4k", "0.2", reason="deal", who="lead")
    monkeypatch.setenv("OXEN_API_KEY", "test-key")
    monkeypatch.setenv("OXEN_BASE_URL", sandbox)
    assert cli.main(["forecast", str(forecast_env)]) == 0
    captured = capsys.readouterr()
    assert "rates: bundled + 1 team override + live Oxen pricing for 2 models\n" in captured.err
    assert "live:" in captured.out  # Starlight is per second on Oxen's object
    rows = forecast.read_plan_csv(forecast_env)
    live = {m: cli.fetch_live_model(cli.Settings.from_env(), m)["pricing"]
            for m in (STARLIGHT, HYPERION)}
    page = forecast.price_plan(rows, book=load_book(db, live=live))
    assert f"Total: {cents(page.total_usd)}\n" in captured.out
    assert page.rows[0].quote.provenance == "live"

    # with --target-resolution every Oxen model of the plan's tasks is fetched too
    assert cli.main(["forecast", str(forecast_env), "--target-resolution", "4k"]) == 0
    assert "live Oxen pricing for 4 models" in capsys.readouterr().err


def test_forecast_falls_back_to_bundled_when_live_pricing_fails(monkeypatch, capsys,
                                                                 forecast_env):
    from studio import cli
    from studio.errors import NetworkError

    calls = []

    def unreachable(settings, model_id, **_k):
        calls.append(model_id)
        raise NetworkError("Oxen could not be reached (connection refused).", maybe_sent=False)

    monkeypatch.setattr(cli, "fetch_live_model", unreachable)
    monkeypatch.setenv("OXEN_API_KEY", "test-key")
    assert cli.main(["forecast", str(forecast_env)]) == 0
    captured = capsys.readouterr()
    assert "note: live Oxen pricing is unavailable (" in captured.err
    assert "connection refused" in captured.err and "bundled rates" in captured.err
    assert "rates: bundled + 0 team overrides\n" in captured.err
    assert "Total: $2.22\n" in captured.out and len(calls) == 1  # gave up at once
