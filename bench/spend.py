"""Spend for the budget banner with 10,000 generations in the store, on SQLite and
PostgreSQL (goal: ≤ 10 ms; issue 11 §1).

What every page rerun does for the sidebar and the 80 % banner when a cap is set: read the
saved caps, then this period's team and owner spend by the budget rule — one SQL aggregate
(``JobStore.spend``). All 10,000 rows are in the current month (charged, pending, in flight
and free ones; three owners; sandbox and live targets). The bare baseline is a
``SELECT count(*)`` over the same period. SQLite runs in a temporary file; PostgreSQL when
``TEST_DATABASE_URL`` (or ``DATABASE_URL``) is set, in a throwaway schema.
"""

from __future__ import annotations

import os
import random
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from _common import median_ms, on_each_backend, timed

from studio import budget
from studio.config import Settings
from studio.store import Job, JobStore, jobs_table

ROWS = 10_000
REPEAT = 50
STATUSES = ("succeeded", "succeeded", "succeeded", "failed", "cancelled", "queued",
            "processing", "unknown")


def seed(store: JobStore, now: datetime) -> None:
    rng = random.Random(11)
    start = budget.period_for("month", now).start
    span = (now - start).total_seconds()
    rows = []
    for i in range(ROWS):
        status = rng.choice(STATUSES)
        charged = status == "succeeded" and rng.random() < 0.8
        quote = Decimal(rng.randint(10, 50000)) / 10000
        rows.append(Job(
            model_id="topazlabs-rhea-video", provider=rng.choice(("oxen", "ltx")),
            owner=f"owner-{i % 3}", params={"resolution": "4k"},
            source={"kind": "sample", "label": f"clip-{i}.mp4"}, status=status,
            target=rng.choice(("sandbox", "live")),
            quote={"amount_usd": str(quote), "provenance": "proxy"},
            charge_usd=quote * Decimal("1.05") if charged else None,
            created_at=datetime.fromtimestamp(start.timestamp() + rng.random() * span, UTC)))
    for i in range(0, ROWS, 1000):
        store.insert_many(rows[i:i + 1000])


def run(label: str, store: JobStore) -> None:
    now = datetime.now(UTC)
    seed(store, now)
    BudgetStoreCaps = budget.BudgetStore(store)
    BudgetStoreCaps.save(period="month", team_usd="100000", default_owner_usd="50000")
    settings = Settings(data_dir=Path("/nonexistent"))
    targets = {"oxen": "sandbox", "ltx": "sandbox"}
    period = budget.period_for("month", now)
    t = jobs_table
    baseline_sql = sa.select(sa.func.count()).where(t.c.created_at >= period.start,
                                                    t.c.created_at < period.end)

    def baseline() -> None:
        with store._read() as conn:
            conn.execute(baseline_sql).scalar_one()

    def aggregate() -> None:
        store.spend(start=period.start, end=period.end, owner="owner-1", targets=targets)

    def banner() -> None:  # what Studio.budget_status does: caps and spend, one connection
        with store.reading() as conn:
            config = BudgetStoreCaps.load(settings, conn=conn)
            budget.status(store, config, "owner-1", now, targets=targets, conn=conn)

    if store.backend == "postgresql":  # what autovacuum does to a table this size
        with store._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE jobs")
    aggregate()  # warm the pool
    base = median_ms(timed(baseline, REPEAT))
    agg = median_ms(timed(aggregate, REPEAT))
    ban = median_ms(timed(banner, REPEAT))
    cpu0 = time.process_time()
    for _ in range(REPEAT):
        banner()
    cpu = (time.process_time() - cpu0) / REPEAT * 1000
    team, mine = store.spend(start=period.start, end=period.end, owner="owner-1",
                             targets=targets)
    print(f"{label:10} bare count(*) over the period      median {base:6.2f} ms")
    print(f"{label:10} spend aggregate (team + owner)     median {agg:6.2f} ms "
          f"({agg / base:.1f}× the bare count)")
    print(f"{label:10} banner: saved caps + spend status  median {ban:6.2f} ms "
          f"({ban / base:.1f}× the bare count) — goal ≤ 10 ms: "
          f"{'PASS' if ban <= 10 else 'FAIL'}")
    where = "in this process" if store.backend == "sqlite" else "client side; the server's not"
    print(f"{label:10} banner CPU time {where}: {cpu:.2f} ms per rerun")
    print(f"{label:10} (team spend {team.charged + team.pending + team.in_flight:.2f} USD, "
          f"owner-1 {mine.charged + mine.pending + mine.in_flight:.2f} USD over {ROWS:,} rows)")


def main() -> None:
    load = os.getloadavg()
    print(f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} "
          "cores: wall times grow with it; a quiet machine reads lower")
    on_each_backend(run)


if __name__ == "__main__":
    main()
