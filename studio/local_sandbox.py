"""Starting the local sandbox as a child process of the app (or of a test).

The sandbox runs in its own process (``python -m studio.sandbox``) so its video processing
never competes with the app for the GIL. It is told our PID and exits by itself when we are
gone; we also stop it at interpreter exit.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from studio.errors import ConfigError

READY_PREFIX = "Sandbox listening on "


def free_port(preferred: int | None = None) -> int:
    """``preferred`` when it is free on 127.0.0.1, else any free port."""
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise ConfigError("No free local port for the sandbox.")


@dataclass
class SandboxProcess:
    """A running sandbox: its base ``url`` and the child process."""

    url: str
    process: subprocess.Popen[str]
    log_path: Path

    def stop(self, timeout: float = 5.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


def start_sandbox(
    data_dir: Path,
    *,
    port: int | None = None,
    workers: int = 2,
    timeout_s: float = 60.0,
    extra_args: list[str] | None = None,
    detached: bool = False,
) -> SandboxProcess:
    """Start ``python -m studio.sandbox`` on 127.0.0.1 and wait until it answers.

    ``data_dir`` keeps the sandbox's generations and files across restarts; ``port`` is a
    preferred port (a free one is used when it is taken). ``detached=True`` (the CLI) lets it
    outlive this process; otherwise it exits when we do. Raises ``ConfigError`` with the
    sandbox's log tail when it does not come up within ``timeout_s`` seconds.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    chosen = free_port(port)
    log_path = data_dir / "sandbox.log"
    log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - owned by the child's lifetime
    cmd = [sys.executable, "-m", "studio.sandbox", "--host", "127.0.0.1", "--port", str(chosen),
           "--data-dir", str(data_dir), "--workers", str(workers), *(extra_args or [])]
    if not detached:
        cmd += ["--parent-pid", str(os.getpid())]
    env = {k: v for k, v in os.environ.items() if k not in ("OXEN_API_KEY", "LTXV_API_KEY")}
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True, env=env,
                            cwd=str(Path(__file__).resolve().parents[1]),
                            start_new_session=detached)
    url = f"http://127.0.0.1:{chosen}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if requests.get(f"{url}/_sandbox/health", timeout=1).ok:
                sandbox = SandboxProcess(url, proc, log_path)
                if not detached:
                    atexit.register(sandbox.stop)
                return sandbox
        except requests.RequestException:
            pass
        time.sleep(0.2)
    proc.kill()
    tail = log_path.read_text(encoding="utf-8", errors="replace")[-800:]
    raise ConfigError(f"The local sandbox did not start within {timeout_s:.0f} s. Its log ends "
                      f"with: {tail}")


_lock = threading.Lock()
_running: dict[Path, SandboxProcess] = {}


def ensure_sandbox(data_dir: Path, *, port: int | None = 8765) -> SandboxProcess:
    """The process-wide sandbox for ``data_dir``, started (or restarted) on demand."""
    with _lock:
        sandbox = _running.get(data_dir)
        if sandbox is None or not sandbox.alive:
            sandbox = start_sandbox(data_dir, port=port)
            _running[data_dir] = sandbox
        return sandbox
