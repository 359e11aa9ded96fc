"""Job-store reads with 1,000 generations, on SQLite and PostgreSQL (goal: list() ≤ 50 ms, half
of the Generations page's 100 ms rerun budget).

SQLite runs in a temporary file. PostgreSQL runs when ``TEST_DATABASE_URL`` (or
``DATABASE_URL``) is set, in a throwaway schema that is dropped afterwards.
"""

from __future__ import annotations

from _common import median_ms, on_each_backend, seed_jobs, timed

from studio.jobs import JobStore

ROWS = 1000
REPEAT = 30


def seed(store: JobStore) -> None:
    """1,000 generations like a busy team's store (terminal only on the page bench)."""
    seed_jobs(store, ROWS, statuses=("succeeded", "succeeded", "failed", "cancelled", "queued"), owners=3)


def run(label: str, store: JobStore) -> None:
    seed(store)
    store.list(limit=1)  # warm the connection pool
    cases = {
        "list() all 1000": lambda: store.list(),
        "list(limit=500) (Generations page)": lambda: store.list(limit=500),
        "list(model_id=…, limit=50)": lambda: store.list(model_id="topazlabs-rhea-video",
                                                         limit=50),
        "search(text='clip-1', owner=…)": lambda: store.search(text="clip-1", owner="owner-1"),
        "count_active()": store.count_active,
        "due(now)": lambda: store.due(1e12),
    }
    for name, fn in cases.items():
        print(f"{label:10} {name:36} median {median_ms(timed(fn, REPEAT)):6.1f} ms")
    # Each call comes 61 s after the last, so the previous 60 s leases have run out and every
    # call really claims 50 rows.
    calls = iter(range(10**6))
    claim = timed(lambda: store.claim_due("w", now=1e12 + 61 * next(calls), limit=50), REPEAT)
    print(f"{label:10} {'claim_due(limit=50)':36} median {median_ms(claim):6.1f} ms")


def main() -> None:
    on_each_backend(run)


if __name__ == "__main__":
    main()
