"""Media work on untrusted files in a child process with a memory cap.

Decoding what a provider sent (an EXR frame whose header claims 16384×16384, a member that
unpacks to a gigabyte) is the riskiest thing the tracker does, and the tracker shares its
process with the app. :func:`run_isolated` runs one function (``"module:function"`` inside
``studio``) in ``python -m studio.tracking.isolate`` with ``RLIMIT_AS`` set to
``memory_mb``: if the file needs more, the child fails (``MemoryError`` or killed) and the
caller gets a sentence, while the app's own memory does not move. The child can be killed at
once when the process stops, which a thread decoding a frame cannot.

Protocol: one JSON request on the child's stdin (``{"fn", "kwargs", "memory_mb"}``); the child
writes JSON lines on stdout — ``{"progress": f}`` while working, then ``{"ok": result}`` or
``{"error": sentence, "type": name}``. A ``progress`` keyword argument (a callable taking a
fraction) is passed to the function.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.errors import MediaError, StudioError

REPO_ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger(__name__)


class IsolatedFailure(StudioError):
    """The child could not do the work; ``str()`` says why (``out_of_memory`` tells the
    memory cap apart from a bad file)."""

    def __init__(self, message: str, *, out_of_memory: bool = False):
        self.out_of_memory = out_of_memory
        super().__init__(message)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def run_isolated(fn: str, kwargs: dict[str, Any], *, memory_mb: int,
                 progress: Callable[[float], None] | None = None,
                 cancel: threading.Event | None = None,
                 on_process: Callable[[subprocess.Popen[str]], None] | None = None,
                 timeout_s: float = 3600.0) -> Any:
    """Run ``fn`` (``"studio.module:function"``) with ``kwargs`` (JSON-able; ``Path``s become
    strings) in a child process limited to ``memory_mb`` MB of address space; returns the
    function's JSON result.

    Raises ``MediaError`` with the child's sentence when the function raised a
    ``StudioError``, :class:`IsolatedFailure` when the child ran out of memory, was killed,
    or ran past ``timeout_s`` seconds, and ``IsolatedFailure`` too when ``cancel`` is set
    (the child is killed at once)."""
    if not fn.startswith("studio.") or ":" not in fn:
        raise ValueError(f"only studio functions run isolated, not {fn!r}")
    request = json.dumps({"fn": fn, "kwargs": _jsonable(kwargs), "memory_mb": int(memory_mb)})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env.setdefault(name, "1")  # each thread arena costs address space under RLIMIT_AS
    proc = subprocess.Popen(
        [sys.executable, "-m", "studio.tracking.isolate"], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=str(REPO_ROOT))
    if on_process:
        on_process(proc)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    stdout, stderr = proc.stdout, proc.stderr
    proc.stdin.write(request)
    proc.stdin.close()
    lines: list[str] = []
    errors: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(stdout.readline, "")),
                              daemon=True)
    err_reader = threading.Thread(target=lambda: errors.extend(iter(stderr.readline, "")),
                                  daemon=True)
    reader.start()
    err_reader.start()
    seen = 0
    result: dict[str, Any] | None = None
    started = time.monotonic()
    try:
        while True:
            finished = proc.poll() is not None
            while seen < len(lines):
                try:
                    msg = json.loads(lines[seen])
                except ValueError:
                    msg = {}
                seen += 1
                if "progress" in msg and progress:
                    progress(float(msg["progress"]))
                elif "ok" in msg or "error" in msg:
                    result = msg
            if finished and not reader.is_alive():
                break
            if cancel is not None and cancel.is_set():
                proc.kill()
                raise IsolatedFailure("it was stopped because the process is shutting down")
            if time.monotonic() - started > timeout_s:
                proc.kill()
                raise IsolatedFailure(f"it took longer than {timeout_s / 60:.0f} min")
            reader.join(0.1)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        err_reader.join(1.0)
        proc.stderr.close()
        proc.stdout.close()
    if errors:
        log.info("media child %s said: %s", fn, "".join(errors)[-2000:])
    if result is not None and "ok" in result:
        return result["ok"]
    if result is not None and result.get("type") == "MemoryError":
        raise IsolatedFailure(f"it needed more than the {memory_mb} MB of memory media work "
                              "may use (STUDIO_MEDIA_MEMORY_MB)", out_of_memory=True)
    if result is not None:
        raise MediaError(str(result.get("error") or "the media step failed"))
    code = proc.returncode
    if code is not None and code < 0:
        raise IsolatedFailure(f"it was stopped by signal {-code}, most likely for using more "
                              f"than the {memory_mb} MB media work may use "
                              "(STUDIO_MEDIA_MEMORY_MB)", out_of_memory=True)
    raise IsolatedFailure(f"the media process ended without an answer (exit code {code})")


def _child() -> int:
    """The child side: read the request, cap memory, run, answer on stdout."""
    request = json.loads(sys.stdin.read())
    out = sys.stdout
    try:
        import resource

        limit = int(request["memory_mb"]) << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass

    def say(msg: dict[str, Any]) -> None:
        out.write(json.dumps(msg) + "\n")
        out.flush()

    last = [0.0]

    def progress(fraction: float) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.25:
            last[0] = now
            say({"progress": float(fraction)})

    try:
        module, _, name = request["fn"].partition(":")
        func = getattr(importlib.import_module(module), name)
        result = func(**request["kwargs"], progress=progress)
        say({"ok": _jsonable(result)})
    except MemoryError:
        say({"error": "out of memory", "type": "MemoryError"})
    except StudioError as exc:
        say({"error": str(exc), "type": type(exc).__name__})
    except Exception as exc:  # noqa: BLE001 - the parent turns it into a sentence
        import traceback

        traceback.print_exc()  # to stderr: the parent logs it
        say({"error": f"the media step failed ({type(exc).__name__})", "type": "internal"})
    return 0


if __name__ == "__main__":
    sys.exit(_child())
