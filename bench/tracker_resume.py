"""Tracker resume time with 1,000 stored generations (goal ≤ 2 s).

A restarted process opens the store and re-attaches to every non-terminal generation: this
times opening the store plus the first tracker pass that polls each in-flight job once
(800 finished + 200 in flight; the client answers at once, so the figure is our overhead:
store reads, transitions and writes).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from _common import REPO  # noqa: F401

from studio.jobs import Job, JobStore
from studio.providers.oxen import OxenGeneration
from studio.tracker import Tracker


class Instant:
    calls = 0

    def get_generation(self, gid):
        Instant.calls += 1
        return OxenGeneration(generation_id=gid, model_name="m", status="processing",
                              enqueued_at=None)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "jobs.sqlite3"
        store = JobStore(db)
        store.insert_many(
            Job(model_id="topazlabs-rhea-video", provider="oxen", owner="o", params={"r": i},
                source={"label": f"{i}.mp4"}, status="processing" if i < 200 else "succeeded",
                remote_id=f"g{i}", result_files={"video": "/x"} if i >= 200 else {})
            for i in range(1000))
        store.close()
        t0 = time.perf_counter()
        store = JobStore(db)
        tracker = Tracker(store, lambda j: Instant(), Path(tmp))
        polled = tracker.poll_due(now=time.time())
        elapsed = time.perf_counter() - t0
    print(f"resume with 1,000 stored generations: {elapsed:.2f} s to reopen and re-attach to "
          f"{polled} in flight ({Instant.calls} status polls) (goal ≤ 2 s): "
          f"{'PASS' if elapsed <= 2 else 'FAIL'}")


if __name__ == "__main__":
    main()
