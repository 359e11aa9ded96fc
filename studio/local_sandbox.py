"""Starting the local sandbox as a child process of the app, a command or a test — or reusing
the one that already serves the data dir.

The sandbox is its own package and process (``python -m sandbox``, installed with the
``sandbox`` extra) so its video processing never competes with the app for the GIL; the core
never imports it. One sandbox serves a data dir at a time: a running sandbox holds an
exclusive ``flock`` on ``<data dir>/sandbox.lock`` and writes ``{"pid", "url",
"started_at"}`` into it once it listens (the sandbox's side is ``sandbox/lock.py``). Before
starting one, :func:`start_sandbox` reads that file and reuses the running sandbox; a sandbox
that a process starts is told its PID and exits by itself when that process is gone (we also
stop it at interpreter exit), so nothing outlives the app or the command that started it.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from studio.errors import ConfigError

READY_PREFIX = "Sandbox listening on "
LOCK_FILE = "sandbox.lock"
EXIT_LOCKED = 3  # the sandbox's exit code when another one holds the data dir
EXIT_NO_PORT = 4  # the sandbox's exit code when its port is taken


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


def lock_record(data_dir: Path) -> dict[str, Any] | None:
    """The lock record of the sandbox serving ``data_dir`` (``pid``, ``url`` — ``None`` while
    it starts — and ``started_at``), or ``None`` when no live sandbox holds the lock."""
    path = Path(data_dir) / LOCK_FILE
    try:
        fh = open(path, encoding="utf-8")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return None
    with fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                record = json.loads(fh.read() or "{}")
            except ValueError:
                record = {}
            return record if isinstance(record, dict) else {}
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return None  # nobody holds it: a leftover of a sandbox that has ended


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/_sandbox/health", timeout=2).ok
    except requests.RequestException:
        return False


def running_sandbox_url(data_dir: Path, *, wait_s: float = 10.0) -> str | None:
    """The base URL of the sandbox serving ``data_dir`` if one is running and answers, else
    ``None``. Starts nothing. A sandbox still starting up is waited for up to ``wait_s``."""
    deadline = time.monotonic() + wait_s
    while True:
        record = lock_record(data_dir)
        if record is None:
            return None
        url = record.get("url")
        if url and _answers(url):
            return str(url)
        if time.monotonic() > deadline:
            return None
        time.sleep(0.2)


@dataclass
class SandboxProcess:
    """A sandbox to talk to: its base ``url``, and ``process`` when this process started it
    (``None`` for one that was already serving the data dir, which :meth:`stop` leaves
    alone)."""

    url: str
    process: subprocess.Popen[str] | None
    log_path: Path
    data_dir: Path | None = None

    @property
    def owned(self) -> bool:
        """Whether this process started it (and so stops it)."""
        return self.process is not None

    def stop(self, timeout: float = 5.0) -> None:
        """Stop a sandbox we started (a reused one is not ours to stop)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()

    @property
    def alive(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return self.data_dir is not None and lock_record(self.data_dir) is not None


def start_sandbox(
    data_dir: Path,
    *,
    port: int | None = None,
    workers: int = 2,
    timeout_s: float = 60.0,
    extra_args: list[str] | None = None,
    detached: bool = False,
    reuse: bool = True,
) -> SandboxProcess:
    """The sandbox serving ``data_dir``: the running one (``reuse=True``, the default), else
    ``python -m sandbox`` started on 127.0.0.1 and waited for until it answers.

    ``data_dir`` keeps the sandbox's generations and files across restarts; ``port`` is a
    preferred port (a free one is used when it is taken); ``extra_args`` go to the sandbox's
    command line (e.g. ``["--price-skew", "0.05"]``; a reused sandbox keeps its own options).
    A started sandbox exits when this process does, unless ``detached=True``. With
    ``reuse=False`` a running sandbox on ``data_dir`` is an error rather than reused. Raises
    ``ConfigError`` with the sandbox's log tail when it does not come up within ``timeout_s``
    seconds.
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "sandbox.log"
    running = running_sandbox_url(data_dir)
    if running is not None:
        if not reuse:
            raise ConfigError(f"A sandbox is already serving {data_dir} at {running}.")
        return SandboxProcess(running, None, log_path, data_dir)
    deadline = time.monotonic() + timeout_s
    # The preferred port first; if another process binds it first (checking it is free
    # and then starting would race), the sandbox exits with EXIT_NO_PORT and the next one
    # binds port 0: the system picks, and the sandbox announces where in its lock record.
    for chosen in ([port, 0] if port else [0]):
        proc = _spawn(data_dir, log_path, chosen, workers, extra_args, detached)
        code, url = _wait_ready(proc, data_dir, deadline)
        if url is not None:
            sandbox = SandboxProcess(url, proc, log_path, data_dir)
            if not detached:
                atexit.register(sandbox.stop)
            return sandbox
        if code == EXIT_LOCKED and reuse:  # another launcher won the race: use its sandbox
            winner = running_sandbox_url(data_dir, wait_s=max(0.0, deadline - time.monotonic()))
            if winner is not None:
                return SandboxProcess(winner, None, log_path, data_dir)
        if code != EXIT_NO_PORT:
            break
    ended = proc.poll()
    if ended is None:
        proc.kill()
        proc.wait(5)
    tail = log_path.read_text(encoding="utf-8", errors="replace")[-800:]
    what = (f"exited (code {ended}) before it answered" if ended is not None
            else f"did not start within {timeout_s:.0f} s")
    raise ConfigError(f"The local sandbox {what}. Its log ends with: {tail}")


def _spawn(data_dir: Path, log_path: Path, port: int, workers: int,
           extra_args: list[str] | None, detached: bool) -> subprocess.Popen[str]:
    log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - owned by the child's lifetime
    cmd = [sys.executable, "-m", "sandbox", "--host", "127.0.0.1", "--port", str(port),
           "--data-dir", str(data_dir), "--workers", str(workers), *(extra_args or [])]
    if not detached:
        cmd += ["--parent-pid", str(os.getpid())]
    env = {k: v for k, v in os.environ.items() if k not in ("OXEN_API_KEY", "LTXV_API_KEY")}
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True, env=env,
                            cwd=str(Path(__file__).resolve().parents[1]),
                            start_new_session=detached)
    log.close()  # the child has its own descriptor
    return proc


def _wait_ready(proc: subprocess.Popen[str], data_dir: Path,
                deadline: float) -> tuple[int | None, str | None]:
    """``(None, url)`` once *this* child serves: its lock record names its PID and the URL it
    listens on, and that URL answers. (A URL answering is not enough: whatever else listens
    on a port the child failed to bind would answer too.) ``(exit code, None)`` when the
    child ended first, ``(None, None)`` at the deadline."""
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            return code, None
        record = lock_record(data_dir) or {}
        url = record.get("url")
        if record.get("pid") == proc.pid and url and _answers(str(url)):
            return None, str(url)
        time.sleep(0.2)
    return None, None


_lock = threading.Lock()
_running: dict[Path, SandboxProcess] = {}


def ensure_sandbox(data_dir: Path, *, port: int | None = 8765) -> SandboxProcess:
    """The process-wide sandbox for ``data_dir``: the one already serving it, or one started
    (or restarted) on demand."""
    with _lock:
        sandbox = _running.get(data_dir)
        if sandbox is None or not sandbox.alive:
            sandbox = start_sandbox(data_dir, port=port)
            _running[data_dir] = sandbox
        return sandbox
