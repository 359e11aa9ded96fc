"""Model-page rerun median with 10,000 generations in the store (goal: ≤ 100 ms; issue 11).

Seeds a fresh data dir with 10,000 finished generations across the five models, opens the
Starlight page with Streamlit's AppTest (against a real local sandbox), then times N reruns.
AppTest's own overhead is included, so the figure is an upper bound for the server.

Each page is timed twice: with no budget cap (the budget is then not queried at all) and
with a team and a per-person cap saved in the store, where every rerun reads the caps and this
month's spend (one SQL aggregate) for the sidebar, the 80 % banner and the quote card's
verdict. ``DATABASE_URL`` puts the store in PostgreSQL instead of SQLite.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from _common import REPO, seed_jobs

from studio.budget import BudgetStore
from studio.jobs import JobStore
from studio.local_sandbox import start_sandbox
from tests.app.server_process import one_server_process

N = 30
ROWS = 10_000


def seed(store: JobStore) -> None:
    """10,000 generations like a busy team's store (terminal only on the page bench)."""
    seed_jobs(store, ROWS, statuses=("succeeded", "succeeded", "failed", "cancelled"),
              downloaded=False)


def main() -> None:
    from streamlit.testing.v1 import AppTest

    load = os.getloadavg()
    print(f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} "
          "cores: wall times grow with it; a quiet machine reads lower")
    with tempfile.TemporaryDirectory() as tmp:
        sandbox = start_sandbox(Path(tmp) / "sandbox", port=None, workers=1)
        os.environ.update(STUDIO_DATA_DIR=str(Path(tmp) / "data"), OXEN_BASE_URL=sandbox.url,
                          LTX_BASE_URL=sandbox.url)
        # The store the app will open: DATABASE_URL (e.g. a PostgreSQL schema) or SQLite.
        store = JobStore.from_settings(Path(tmp) / "data", os.environ.get("DATABASE_URL"))
        seed(store)
        runs = [(slug, label, caps) for caps in (False, True)
                for slug, label in (("starlight", "Starlight page"),
                                    ("generations", "Generations page"))]
        for slug, label, caps in runs:
            if caps:
                BudgetStore(store).save(period="month", team_usd="100000",
                                        default_owner_usd="50000")
            else:
                BudgetStore(store).clear()
            label = f"{label} ({'team + per-person cap' if caps else 'no budget cap'})"
            # AppTest alone would restart Streamlit's legacy pages/ check on every run
            with one_server_process():
                at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
                _time_page(at, slug, label)
        sandbox.stop()


def _time_page(at, slug: str, label: str) -> None:
    """Open ``slug`` and print the median of N reruns."""
    at.run()
    at.switch_page(f"pages/{slug}.py")
    at.run()  # first run fills the probe/thumbnail caches
    assert not at.exception, at.exception
    if slug == "starlight":  # the timed page is the full one: chart, table, detail
        assert at.get("plotly_chart") and at.title[0].value == "Topaz Starlight 2.5"
    assert len(at.dataframe) == 1, "generations table missing"
    samples = []
    cpu0 = time.process_time()
    for _ in range(N):
        t0 = time.perf_counter()
        at.run()
        samples.append(time.perf_counter() - t0)
    # CPU time of this process (script thread, tracker, AppTest) per rerun: what the rerun
    # costs, whatever else the machine is doing.
    cpu = (time.process_time() - cpu0) / N * 1000
    med = statistics.median(samples) * 1000
    print(f"{label} rerun with {ROWS:,} generations in the store: median {med:.0f} ms, "
          f"p90 {sorted(samples)[int(N * 0.9)] * 1000:.0f} ms wall, {cpu:.0f} ms CPU "
          f"over {N} reruns (goal ≤ 100 ms): {'PASS' if med <= 100 else 'FAIL'}")


if __name__ == "__main__":
    main()
