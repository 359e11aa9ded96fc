"""One sandbox per data dir: the ``sandbox.lock`` file.

Owns the rule that two sandbox processes never serve one data dir (each would fail the
other's running generations at start-up and race on the same SQLite file and result folders).
A running sandbox holds an exclusive ``flock`` on ``<data dir>/sandbox.lock`` for its whole
life and writes into it, once it listens, one line of JSON::

    {"pid": 1234, "url": "http://127.0.0.1:8765", "started_at": 1767225600.0}

The kernel drops the lock when the process ends, however it ends, so a leftover file from a
killed sandbox is recognised as stale (nobody holds its lock). Launchers
(:mod:`studio.local_sandbox`) read the same file to reuse a running sandbox instead of
starting a second one; a second ``python -m sandbox`` on a locked data dir exits with
:data:`EXIT_LOCKED` and names the one that is running.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import IO, Any

LOCK_FILE = "sandbox.lock"
EXIT_LOCKED = 3
READER_GRACE_S = 1.0


class DataDirLocked(Exception):
    """Another live sandbox serves this data dir; ``holder`` is its lock record (may be
    empty while it is still starting)."""

    def __init__(self, data_dir: Path, holder: dict[str, Any]):
        who = f"pid {holder['pid']}" if holder.get("pid") else "another process"
        where = f" at {holder['url']}" if holder.get("url") else ""
        super().__init__(
            f"Another sandbox ({who}{where}) is already serving {data_dir}. Use it, or stop it "
            "before starting a new one on this data dir."
        )
        self.holder = holder


def read_record(fh: IO[str]) -> dict[str, Any]:
    fh.seek(0)
    try:
        record = json.loads(fh.read() or "{}")
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


class DataDirLock:
    """The exclusive lock of a data dir, held from :meth:`acquire` until :meth:`release` (or
    the process's end)."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.path = data_dir / LOCK_FILE
        self._fh: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`DataDirLocked`. Waits at most
        :data:`READER_GRACE_S`: a launcher reading the record holds a shared lock for a
        moment, which must not pass for a running sandbox."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the process life
        deadline = time.monotonic() + READER_GRACE_S
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                holder = read_record(fh)
                fh.close()
                raise DataDirLocked(self.data_dir, holder) from None
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"pid": os.getpid(), "url": None, "started_at": time.time()}))
        fh.flush()
        self._fh = fh

    def announce(self, url: str) -> None:
        """Record the URL the sandbox listens on, for launchers that want to reuse it."""
        if self._fh is None:
            raise RuntimeError("announce() before acquire()")
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(json.dumps({"pid": os.getpid(), "url": url, "started_at": time.time()}))
        self._fh.flush()

    def release(self) -> None:
        """Empty the record and drop the lock (idempotent)."""
        if self._fh is None:
            return
        try:
            self._fh.seek(0)
            self._fh.truncate()
        finally:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None
