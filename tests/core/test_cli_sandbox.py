"""The sandbox's lifetime under the command line (issue 10, item 18), with real processes.

Read-only commands never start a server; a sandbox a command starts stops with it; a running
sandbox on the data dir — the app's — is reused; two sandboxes never serve one data dir.
Each command runs with no key and no base URL (sandbox mode) on its own data dir.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from studio.local_sandbox import free_port, lock_record, start_sandbox
from tests.conftest import REPO
from tests.model_ids import STARLIGHT


def sandbox_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OXEN_API_KEY", "LTXV_API_KEY", "OXEN_BASE_URL", "LTX_BASE_URL",
                        "DATABASE_URL")}
    env["STUDIO_DATA_DIR"] = str(data_dir)
    return env


def run_cli(args: list[str], data_dir: Path, timeout: float = 300
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "studio", *args], cwd=REPO,
                          env=sandbox_env(data_dir), capture_output=True, text=True,
                          timeout=timeout)


def answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/_sandbox/health", timeout=2).ok
    except requests.RequestException:
        return False


def test_read_only_commands_start_no_server(tmp_path):
    for args in (["status"], ["status", "--json"]):
        out = run_cli(args, tmp_path, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "sandbox" not in out.stderr.lower()
    plan = tmp_path / "plan.csv"
    plan.write_text("clip,duration_s,width,height,fps,model_id,params,generations\n"
                    f"a,14,1280,720,20,{STARLIGHT},,1\n")
    assert run_cli(["forecast", str(plan)], tmp_path, timeout=60).returncode == 0
    assert not (tmp_path / "sandbox").exists()  # no sandbox data dir, so no sandbox ever ran


def test_a_sandbox_a_command_starts_stops_with_it(tmp_path, realshort):
    out = run_cli(["submit", "--model", STARLIGHT, "--input", str(realshort),
                   "--param", "resolution=1080p"], tmp_path)
    assert out.returncode == 0, out.stderr
    started = re.search(r"started one at (http://127\.0\.0\.1:\d+) for this command", out.stderr)
    assert started, out.stderr
    assert "Following the generation(s) to the end" in out.stderr
    # The command followed its generation to the end (the sandbox goes with it)...
    [row] = json.loads(run_cli(["status", "--json"], tmp_path, timeout=60).stdout)
    assert row["status"] == "succeeded" and row["result_files"].get("video")
    # ...and left nothing running.
    deadline = time.monotonic() + 10
    while answers(started.group(1)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not answers(started.group(1))
    assert lock_record(tmp_path / "sandbox") is None


def test_a_running_sandbox_is_reused_and_never_doubled(tmp_path, realshort):
    """The app's sandbox (here: one this test starts on the same data dir) serves the command;
    a second ``python -m sandbox`` on that data dir refuses to start."""
    app_sandbox = start_sandbox(tmp_path / "sandbox", port=None, workers=1)
    try:
        assert app_sandbox.owned
        out = run_cli(["submit", "--model", STARLIGHT, "--input", str(realshort),
                       "--param", "resolution=1080p"], tmp_path)
        assert out.returncode == 0, out.stderr
        assert "started one" not in out.stderr and "Following" not in out.stderr
        stats = requests.get(f"{app_sandbox.url}/_sandbox/stats", timeout=10).json()
        assert stats["paid_posts"] == 1  # the command's generation went to the running sandbox
        assert lock_record(tmp_path / "sandbox")["pid"] == app_sandbox.process.pid

        second = subprocess.run(
            [sys.executable, "-m", "sandbox", "--port", "0", "--data-dir",
             str(tmp_path / "sandbox")], cwd=REPO, capture_output=True, text=True, timeout=60)
        assert second.returncode == 3
        assert f"pid {app_sandbox.process.pid}" in second.stderr
        assert app_sandbox.url in second.stderr and "already serving" in second.stderr

        # A launcher in this process reuses it too rather than starting another.
        again = start_sandbox(tmp_path / "sandbox", port=None)
        assert not again.owned and again.url == app_sandbox.url
        again.stop()  # not ours: a no-op
        assert answers(app_sandbox.url)

        out = run_cli(["track", "--until-done", "--interval", "0.5"], tmp_path)
        assert out.returncode == 0 and "succeeded" in out.stdout, out.stderr
        assert answers(app_sandbox.url)  # the command did not stop a sandbox it did not start
    finally:
        app_sandbox.stop()
    assert lock_record(tmp_path / "sandbox") is None  # the lock died with the process


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGKILL"])
def test_a_stopped_sandbox_leaves_no_lock_behind(tmp_path, signal_name):
    sb = start_sandbox(tmp_path, port=None, workers=1)
    getattr(sb.process, "terminate" if signal_name == "SIGTERM" else "kill")()
    sb.process.wait(15)
    assert lock_record(tmp_path) is None  # a leftover file nobody holds is not a sandbox
    fresh = start_sandbox(tmp_path, port=None, workers=1)
    try:
        assert fresh.owned and answers(fresh.url)
    finally:
        fresh.stop()


class _Impostor(http.server.BaseHTTPRequestHandler):
    """Something else on the port: answers every GET with 200, as a sandbox's health does."""

    seen: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's name
        type(self).seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def test_a_started_sandbox_is_its_own_when_another_process_takes_its_port(
        tmp_path, monkeypatch):
    """ci9: the command's sandbox lost port 8765 to another process between the launcher
    choosing it and the sandbox binding it; the launcher took the other process's answer for
    its sandbox's, submitted there, and followed a generation nobody would finish. Here the
    port is taken at exactly that moment, by a server that answers like a sandbox."""
    impostors: list[http.server.ThreadingHTTPServer] = []
    real_popen = subprocess.Popen

    def popen_after_the_port_is_taken(cmd, *args, **kwargs):
        port = int(cmd[cmd.index("--port") + 1])
        if port:  # the preferred port: another process binds it first
            server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Impostor)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            impostors.append(server)
        return real_popen(cmd, *args, **kwargs)

    monkeypatch.setattr("studio.local_sandbox.subprocess.Popen", popen_after_the_port_is_taken)
    preferred = free_port()
    sandbox = start_sandbox(tmp_path / "sandbox", port=preferred, workers=1)
    try:
        assert impostors, "the preferred port was never tried"
        assert sandbox.url != f"http://127.0.0.1:{preferred}"
        record = lock_record(tmp_path / "sandbox")
        assert record["pid"] == sandbox.process.pid and record["url"] == sandbox.url
        stats = requests.get(f"{sandbox.url}/_sandbox/stats", timeout=10).json()
        assert stats["paid_posts"] == 0  # a real sandbox's answer, not the impostor's "{}"
        log = (tmp_path / "sandbox" / "sandbox.log").read_text(encoding="utf-8")
        assert f"could not listen on 127.0.0.1:{preferred}" in log
    finally:
        sandbox.stop()
        for server in impostors:
            server.shutdown()
            server.server_close()
