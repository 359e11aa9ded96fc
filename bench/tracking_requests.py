"""HTTP status requests per 10-minute generation: polling only (goal ≤ 40) and with the
SSE completion stream (goal ≤ 2 polls plus the shared stream).

Runs the real Tracker on a simulated clock: a scripted Oxen client answers "processing"
until t = 600 s and "succeeded" after, and counts every request. With SSE, the completion
event arrives at t = 600 s through the same handler the live stream calls.
"""

from __future__ import annotations

import tempfile
import time
from decimal import Decimal
from pathlib import Path

from _common import REPO  # noqa: F401  (puts the repo on sys.path)

from studio.events import mark_due
from studio.jobs import Job, JobStore
from studio.providers.oxen import OxenGeneration
from studio.tracker import Tracker, next_poll_delay

DURATION_S = 600.0


class ScriptedOxen:
    def __init__(self, clock):
        self.clock, self.polls, self.history = clock, 0, 0

    def get_generation(self, gid):
        self.polls += 1
        done = self.clock() >= DURATION_S
        return OxenGeneration(generation_id=gid, model_name="m", status="succeeded" if done
                              else "processing", enqueued_at=None,
                              artifacts={"video": "http://x/o.mp4"} if done else {})

    def generation_history(self, gid):
        self.history += 1
        return OxenGeneration(generation_id=gid, model_name="m", status="succeeded",
                              enqueued_at=None, cost=Decimal("1"))


def run(sse: bool) -> tuple[int, int]:
    t = [0.0]
    with tempfile.TemporaryDirectory() as tmp:
        store = JobStore(Path(tmp) / "j.db")
        client = ScriptedOxen(lambda: t[0])
        tracker = Tracker(store, lambda j: client, Path(tmp), sse_healthy=(lambda j: sse))
        job = store.insert(Job(model_id="topazlabs-rhea-video", provider="oxen", owner="o",
                               params={}, source={}, status="queued", remote_id="g",
                               next_poll_at=next_poll_delay(0)))
        event_sent = False
        while store.get(job.id).is_active and t[0] < 3 * DURATION_S:
            if sse and not event_sent and t[0] >= DURATION_S:
                mark_due(store, "g")  # what CompletionStream does on the event
                event_sent = True
            tracker.poll_due(now=t[0])
            t[0] += 0.5
        assert store.get(job.id).status == "succeeded"
        return client.polls, client.history


def main() -> None:
    t0 = time.perf_counter()
    polls, hist = run(sse=False)
    print(f"polling only: {polls} status polls + {hist} history GET for the charge "
          f"per 10-minute generation (goal ≤ 40): {'PASS' if polls <= 40 else 'FAIL'}")
    polls, hist = run(sse=True)
    print(f"with SSE:     {polls} status polls + {hist} history GET + the shared stream "
          f"(goal ≤ 2 polls): {'PASS' if polls <= 2 else 'FAIL'}")
    print(f"(simulated clock; {time.perf_counter() - t0:.1f} s wall)")


if __name__ == "__main__":
    main()
