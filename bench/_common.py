"""Shared helpers for the benchmark scripts: repo paths, shared media, timing."""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("STUDIO_SHARED_DATA", REPO.parent / "shared" / "data"))
sys.path.insert(0, str(REPO))


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    """Wall-clock seconds of ``repeat`` calls of ``fn``."""
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def seed_jobs(store, rows: int, *, statuses: tuple[str, ...], owners: int = 1,
              downloaded: bool = True) -> None:
    """Insert ``rows`` realistic generations across the five models (seeded, repeatable):
    statuses drawn from ``statuses``, ``owners`` distinct owners, succeeded rows with a
    result URL and — when ``downloaded`` — a local file path (else marked missing, so no
    tracker would try to fetch them)."""
    import random
    from datetime import UTC, datetime, timedelta

    from studio.jobs import Job
    from studio.models import MODELS

    rng = random.Random(7)
    now = datetime.now(UTC)
    ids = list(MODELS)
    jobs = []
    for i in range(rows):
        mid = ids[i % len(ids)]
        status = rng.choice(statuses)
        ok = status == "succeeded"
        jobs.append(Job(
            model_id=mid, provider=MODELS[mid].provider, owner=f"owner-{i % owners}",
            params={"resolution": "4k"}, source={"kind": "sample", "label": f"clip-{i}.mp4"},
            status=status, remote_id=f"gen-{i}", quote={"amount_usd": "1.2345"},
            clip={"width": 1920, "height": 1080, "fps": 30.0, "duration_s": 14.0},
            created_at=now - timedelta(minutes=i), completed_at=now - timedelta(minutes=i - 5),
            result_urls={"video": f"https://cdn/{i}.mp4"} if ok else {},
            result_files=({"video": f"/data/{i}.mp4"} if downloaded else {"missing": ""})
            if ok else {},
            error="bench" if status == "failed" else None, next_poll_at=float(i),
        ))
    for i in range(0, len(jobs), 1000):
        store.insert_many(jobs[i:i + 1000])


def on_each_backend(run: Callable[[str, object], None]) -> None:
    """``run(label, store)`` on a fresh SQLite store, then on PostgreSQL in a throwaway schema
    when ``TEST_DATABASE_URL`` (or ``DATABASE_URL``) names one (``scripts/test-postgres``
    prints one); the schema is dropped afterwards."""
    import tempfile
    import uuid

    import sqlalchemy as sa

    from studio.store import JobStore

    with tempfile.TemporaryDirectory() as tmp:
        store = JobStore(Path(tmp) / "jobs.sqlite3")
        run("SQLite", store)
        store.close()
    url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not url:
        print("PostgreSQL skipped: set TEST_DATABASE_URL (scripts/test-postgres prints one)")
        return
    base = sa.make_url(url).set(drivername="postgresql+psycopg")
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, poolclass=sa.NullPool)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        store = JobStore(base.update_query_dict({"options": f"-csearch_path={schema}"})
                         .render_as_string(hide_password=False))
        run("PostgreSQL", store)
        store.close()
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()
