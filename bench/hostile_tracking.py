"""Polls keep moving while a download crawls, and ``track`` stops within 2 s (issue 9 §2).

The hostile provider (``tests/hostile/server.py``) serves ``drip`` at 1 byte per 5 s and makes
``late`` succeed on its second status answer. ``python -m studio track`` tracks both; the
script prints how long after the provider said ``late`` had succeeded its result was
downloaded (goal: within two poll intervals, while the drip download runs), then sends
SIGTERM and prints how long ``track`` took to exit (goal ≤ 2 s) and whether a partial file
was left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO

from studio.jobs import Job, JobStore, utcnow
from studio.tracker import next_poll_delay
from tests.hostile.server import HostileProvider, build_files

KEY = "sk-live-BENCH0123456789abcdef"


def main() -> None:
    server = HostileProvider(build_files(REPO / "artifacts" / "hostile"), KEY).start()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        store = JobStore(data / "jobs.sqlite3")
        ids = {case: store.insert(Job(
            model_id="topazlabs-rhea-video", provider="oxen", owner="bench", params={},
            source={"kind": "url", "label": case, "url": "https://example.com/in.mp4"},
            status="queued", remote_id=case, target="live", next_poll_at=0.0,
            submitted_at=utcnow())).id for case in ("drip", "late")}
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("OXEN_", "LTX", "STUDIO_"))}
        env.update(OXEN_API_KEY=KEY, OXEN_BASE_URL=server.url, LTX_BASE_URL=server.url,
                   STUDIO_DATA_DIR=str(data), PYTHONPATH=str(REPO))
        t0 = time.time()
        proc = subprocess.Popen([sys.executable, "-m", "studio", "track"], cwd=tmp, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while time.time() - t0 < 120 and not store.get(ids["late"]).result_files:
                time.sleep(0.1)
            succeeded = server.first("late", "succeeded", t0)
            sent = server.first("late", "result sent", t0)
            dripping = any(start < sent and (end is None or end > sent)
                           for start, end in server.drips if start >= t0)
            interval = next_poll_delay(1)
            lag = sent - succeeded
            print(f"late: result downloaded {lag:.2f} s after the provider said succeeded "
                  f"(two poll intervals = {2 * interval:.1f} s), drip download still running: "
                  f"{dripping}: {'PASS' if lag <= 2 * interval and dripping else 'FAIL'}")
            time.sleep(2.0)  # let the drip download hold its worker a little longer
            stop = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
            took = time.monotonic() - stop
            parts = list(data.rglob("*.part"))
            print(f"track stopped {took:.2f} s after SIGTERM (goal ≤ 2 s), partial files left: "
                  f"{len(parts)}: {'PASS' if took <= 2 and not parts else 'FAIL'}")
        finally:
            if proc.poll() is None:
                proc.kill()
            store.close()
            server.stop()


if __name__ == "__main__":
    main()
