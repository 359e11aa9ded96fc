"""Command line: ``python -m sandbox --port PORT [options]``.

Owns process-level concerns of a standalone sandbox: taking the data dir's lock (one sandbox
per data dir, :mod:`sandbox.lock`; a second one exits with code 3 and names the first),
binding the socket (``--port 0`` picks a free port), printing exactly one line ``Sandbox
listening on http://HOST:PORT`` (flushed) once connections are accepted — the app and the test
fixtures wait for it — and, with ``--parent-pid``, exiting by itself within ~2 s of that
process going away, so a sandbox started by the app or a command never outlives it. Without
``--data-dir`` state lives in a temp dir that is removed at exit.

Options: ``--host`` (default 127.0.0.1), ``--data-dir``, ``--workers`` (job threads, default 2),
``--preset`` (encoder speed preset, default ``$SANDBOX_PRESET`` or veryfast), ``--keepalive`` (SSE keep-alive seconds,
default 15), ``--log-level`` (uvicorn, default warning).

Misbehaving on purpose, for testing clients: ``--fault-rate F`` (0..1, default 0) injects a
fault into that share of client-facing requests, drawn with ``random.Random(--seed S)``;
``--slow-s`` (default 3) is the delay of the ``slow`` fault (kinds and routes:
:mod:`sandbox.faults`; a request can force one with ``X-Sandbox-Fault: <kind>``).
``--ttl S`` makes terminal generations 404 on the Oxen queue routes (history keeps them) and
LTX jobs 404 after S seconds instead of 24 h. ``--credits USD`` gives every user that balance
and refuses paid POSTs it does not cover with 402 (:mod:`sandbox.credits`).
``--price-skew F`` (−1 < F < 1, default 0) bills every generation off the sandbox's list
price by the relative difference F, measured against the charge as the client's ledger
measures quote error (charge = list ÷ (1 − F); :mod:`sandbox.prices`), so demos show a real
estimate-vs-actual error. ``--result-ttl S`` makes result URLs signed links that answer 403
S seconds after they were handed out (:mod:`sandbox.signing`).
``GET /_sandbox/stats`` reports requests per route, accepted paid POSTs and injected faults.

More endpoints: ``--model-file PATH`` (repeatable) serves one more Oxen model described by a
JSON file outside the package — its id, request schema, price list with sources, processor
and output geometry rule (format: :mod:`sandbox.model_files`). The five built-in models stay
as they are. A file with a problem stops the start-up with one sentence naming the file and
every field at fault (exit code 2); each model served is named on stderr.

Exit codes: 0 stopped normally; 2 the port could not be bound, or a ``--model-file`` cannot
be used; 3 another sandbox serves the data dir.
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

try:
    import uvicorn
    import uvicorn.config

    from sandbox import codec
    from sandbox.faults import DEFAULT_SLOW_S
    from sandbox.model_files import ModelFileError, install_files
    from sandbox.server import KEEPALIVE_S, create_app
except ModuleNotFoundError as _missing:  # the [sandbox] extra is not installed
    sys.exit(
        f"The sandbox needs its web dependencies ({_missing.name} is missing). Install them "
        "with: pip install -e '.[sandbox]' (scripts/run and scripts/test do this)."
    )
except ValueError as _bad_setting:  # e.g. SANDBOX_PRESET names no x264 preset
    sys.exit(str(_bad_setting))

from sandbox.lock import EXIT_LOCKED, DataDirLock, DataDirLocked

PARENT_POLL_S = 2.0
EXIT_USAGE = 2  # a --model-file cannot be used
EXIT_NO_PORT = 4  # the port cannot be bound (taken): a launcher may try another
# Seconds open connections get to finish at shutdown before uvicorn cancels them.
GRACEFUL_SHUTDOWN_S = 3


def _fraction(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {raw!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (got {raw})")
    return value


def _seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {raw!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 seconds (got {raw})")
    return value


def _usd(raw: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount in USD: {raw!r}") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite amount >= 0 (got {raw})")
    return value


def _skew(raw: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a number: {raw!r}") from None
    if not value.is_finite() or not Decimal(-1) < value < Decimal(1):
        raise argparse.ArgumentTypeError(f"must be between -1 and 1, exclusive (got {raw})")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="Local sandbox speaking the Oxen.ai and LTX HTTP APIs.",
    )
    p.add_argument("--port", type=int, required=True, help="TCP port; 0 picks a free one")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--data-dir", type=Path, default=None, help="state dir (default: a temp dir)")
    p.add_argument("--workers", type=int, default=2, help="job worker threads")
    p.add_argument("--preset", default=codec.DEFAULT_PRESET, choices=codec.ENCODER_PRESETS,
                   help="x264/x265 speed preset (default: $SANDBOX_PRESET or veryfast)")
    p.add_argument("--parent-pid", type=int, default=None, help="exit when this process is gone")
    p.add_argument("--keepalive", type=float, default=KEEPALIVE_S, help="SSE keep-alive seconds")
    p.add_argument("--log-level", default="warning", help="uvicorn log level")
    p.add_argument(
        "--fault-rate", type=_fraction, default=0.0, help="share of requests given a fault (0..1)"
    )
    p.add_argument("--seed", type=int, default=None, help="seed of the fault picker")
    p.add_argument(
        "--slow-s", type=_seconds, default=DEFAULT_SLOW_S, help="delay of the 'slow' fault"
    )
    p.add_argument(
        "--ttl", type=_seconds, default=None, help="seconds terminal generations stay on the queue"
    )
    p.add_argument("--credits", type=_usd, default=None, help="every user's balance in USD")
    p.add_argument(
        "--price-skew", type=_skew, default=Decimal(0),
        help="relative difference of every charge from the list price, e.g. 0.05",
    )
    p.add_argument(
        "--result-ttl", type=_seconds, default=None,
        help="seconds a result URL stays valid (default: result URLs never expire)",
    )
    p.add_argument(
        "--model-file", type=Path, action="append", default=[], metavar="PATH",
        help="serve one more Oxen model described by this JSON file (repeatable; format: "
             "sandbox/model_files.py)",
    )
    return p.parse_args(argv)


def pid_alive(pid: int, *, original_ppid: int | None = None) -> bool:
    """Whether process ``pid`` still exists.

    When ``pid`` was our parent, being re-parented (``os.getppid()`` changed) also means it
    died — this catches a parent that is a zombie nobody has reaped yet.
    """
    if original_ppid == pid and os.getppid() != pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class _Server(uvicorn.Server):
    """uvicorn server that announces itself once it accepts connections and ends the SSE
    streams as soon as shutdown begins (uvicorn waits for open connections before it runs
    the app's lifespan shutdown, and an event stream never ends by itself)."""

    def __init__(self, config: uvicorn.Config, announce: str, on_shutdown: Callable[[], None]):
        super().__init__(config)
        self._announce = announce
        self._on_shutdown = on_shutdown

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            print(self._announce, flush=True)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._on_shutdown()
        await super().shutdown(sockets=sockets)


def _watch_parent(server: uvicorn.Server, pid: int) -> None:
    original_ppid = os.getppid()
    while not server.should_exit:
        time.sleep(PARENT_POLL_S)
        if not pid_alive(pid, original_ppid=original_ppid):
            server.should_exit = True
            return


def _log_config() -> dict[str, Any]:
    """uvicorn's logging config with the access log moved from stdout to stderr: stdout
    carries exactly one line, the announcement the launcher waits for."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    return config


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        extras = install_files(args.model_file)
    except ModelFileError as exc:
        print(f"Sandbox cannot start: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for extra in extras:
        print(f"Sandbox serves {extra.id} ({extra.spec.display_name}, {extra.spec.processor} "
              f"processor) from {extra.path}", file=sys.stderr, flush=True)
    temp_dir = None
    data_dir = args.data_dir
    if data_dir is None:
        temp_dir = tempfile.mkdtemp(prefix="sandbox-")
        data_dir = Path(temp_dir)
    lock = DataDirLock(data_dir)
    try:
        lock.acquire()
    except DataDirLocked as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_LOCKED
    try:
        sock = _bind(args.host, args.port)
    except OSError as exc:
        lock.release()
        print(f"Sandbox could not listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return EXIT_NO_PORT
    port = sock.getsockname()[1]
    shown_host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{shown_host}:{port}"
    try:
        app = create_app(
            data_dir,
            workers=args.workers,
            preset=args.preset,
            keepalive_s=args.keepalive,
            fault_rate=args.fault_rate,
            seed=args.seed,
            slow_s=args.slow_s,
            ttl_s=args.ttl,
            credits_usd=args.credits,
            price_skew=args.price_skew,
            result_ttl_s=args.result_ttl,
        )
        config = uvicorn.Config(
            app,
            log_level=args.log_level,
            log_config=_log_config(),
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
            lifespan="on",
        )
        lock.announce(url)
        server = _Server(
            config,
            f"Sandbox listening on {url}",
            on_shutdown=app.state.sandbox.broker.close,
        )
        # uvicorn shuts down gracefully on SIGTERM, then re-raises it under the handler that
        # was installed before; make that one a normal exit so the temp dir is removed.
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
        if args.parent_pid is not None:
            threading.Thread(
                target=_watch_parent,
                args=(server, args.parent_pid),
                name="sandbox-parent-watch",
                daemon=True,
            ).start()
        server.run(sockets=[sock])
    finally:
        sock.close()
        lock.release()
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
