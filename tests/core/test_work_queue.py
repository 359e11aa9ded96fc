"""The media work queue (studio.tracking.work): leases across store instances, per-host
limits, backoff with a cap on tries, settling, retry, and the pool's stop."""

from __future__ import annotations

import threading
import time

import pytest

from studio.jobs import Job, JobStore
from studio.tracking.work import (
    WorkContext,
    WorkFailed,
    WorkKind,
    WorkPool,
    WorkQueue,
    backoff_s,
    classify,
)


def job(store: JobStore, **kw) -> Job:
    base = dict(model_id="topazlabs-rhea-video", provider="oxen", owner="o", params={},
                source={}, status="succeeded", remote_id="g",
                result_urls={"video": "https://cdn/x.mp4"})
    return store.insert(Job(**{**base, **kw}))


@pytest.fixture
def store(tmp_path):
    s = JobStore(tmp_path / "jobs.sqlite3")
    yield s
    s.close()


def test_backoff_doubles_up_to_its_cap():
    assert [backoff_s(n, 15, 600) for n in (1, 2, 3, 4, 5, 6, 7)] == [15, 30, 60, 120, 240,
                                                                      480, 600]


def test_a_row_is_claimed_by_one_worker_until_its_lease_expires(store, tmp_path):
    other = JobStore(tmp_path / "jobs.sqlite3")  # another process on the same database
    a, b = WorkQueue(store), WorkQueue(other)
    j = job(store)
    assert a.enqueue(j.id, "download", host="cdn") and not b.enqueue(j.id, "download")
    now = time.time()
    got = a.claim("w1", now, kinds=["download"], lease_s=30)
    assert got is not None and got.lease_owner == "w1"
    assert b.claim("w2", now, kinds=["download"], lease_s=30) is None  # held
    again = b.claim("w2", now + 31, kinds=["download"], lease_s=30)  # w1 died: lease expired
    assert again is not None and again.lease_owner == "w2"
    other.close()


def test_per_host_limit_holds_across_workers(store):
    q = WorkQueue(store)
    jobs = [job(store) for _ in range(4)]
    for j in jobs[:3]:
        q.enqueue(j.id, "download", host="slow-cdn")
    q.enqueue(jobs[3].id, "download", host="other-cdn")
    now = time.time()
    claimed = [q.claim(f"w{i}", now, kinds=["download"], per_host=2) for i in range(4)]
    hosts = sorted(c.host for c in claimed if c is not None)
    assert hosts == ["other-cdn", "slow-cdn", "slow-cdn"]  # the third slow-cdn row waits


def test_downloads_are_claimed_before_previews(store):
    q = WorkQueue(store)
    a, b = job(store), job(store)
    q.enqueue(a.id, "preview", now=1.0)
    q.enqueue(b.id, "download", now=2.0)
    assert q.claim("w", 10.0, kinds=["download", "preview"]).kind == "download"


def _pool(store, run, **kind):
    registry = {"download": WorkKind("download", run=run, settle=kind.pop("settle", None),
                                     **{"max_tries": 3, "backoff_base_s": 10.0, **kind})}
    return WorkPool(WorkQueue(store), services=None, threads=0, registry=registry,
                    worker_id="pool-1")


def test_transient_failures_back_off_then_settle_with_the_sentence(store):
    settled = []
    tries = []

    def run(ctx: WorkContext) -> None:
        tries.append(time.time())
        raise WorkFailed("the CDN answered 503", failure="transient", transient=True)

    pool = _pool(store, run, settle=lambda ctx, s: settled.append(s))
    j = job(store)
    pool.queue.enqueue(j.id, "download")
    assert pool.run_due() == 1
    row = pool.queue.for_job(j.id)["download"]
    assert row.status == "pending" and row.attempts == 1
    assert row.next_at == pytest.approx(time.time() + 10, abs=2)  # first backoff: 10 s
    assert pool.run_due() == 0  # not due yet
    pool.run_due(now=row.next_at + 1)
    pool.run_due(now=time.time() + 100)
    row = pool.queue.for_job(j.id)["download"]
    assert row.status == "failed" and row.attempts == 3 and len(tries) == 3
    assert settled == ["the CDN answered 503 (gave up after 3 tries)"]
    assert pool.run_due(now=time.time() + 10_000) == 0  # settled: never again by itself
    pool.queue.reset(j.id, "download")  # the retry action
    assert pool.run_due() == 1 and len(tries) == 4


def test_a_permanent_failure_settles_at_once(store):
    def run(ctx):
        raise WorkFailed("the link is a file: address", failure="unsupported_scheme")

    pool = _pool(store, run)
    j = job(store)
    pool.queue.enqueue(j.id, "download")
    pool.run_due()
    row = pool.queue.for_job(j.id)["download"]
    assert (row.status, row.attempts, row.failure) == ("failed", 1, "unsupported_scheme")


def test_an_unexpected_exception_in_one_item_never_stops_the_others(store, caplog):
    done = []

    def run(ctx):
        if ctx.job.remote_id == "bad":
            raise OSError(36, "File name too long")
        done.append(ctx.job.id)

    pool = _pool(store, run)
    bad, good = job(store, remote_id="bad"), job(store)
    pool.queue.enqueue(bad.id, "download", now=1.0)
    pool.queue.enqueue(good.id, "download", now=2.0)
    pool.run_due()
    assert done == [good.id]
    row = pool.queue.for_job(bad.id)["download"]
    assert row.status == "failed" and "server log" in row.error and "OSError" not in row.error


def test_classify_maps_the_error_tree():
    from studio.errors import MediaError, NetworkError, ServerError

    assert classify(NetworkError("down", maybe_sent=True)).transient
    assert classify(ServerError("503", status=503)).transient
    assert not classify(MediaError("damaged")).transient


def test_stopping_the_pool_hands_running_work_back(store):
    started = threading.Event()

    def run(ctx: WorkContext) -> None:
        started.set()
        ctx.cancel.wait(30)
        raise WorkFailed("stopped", failure="cancelled", transient=True)

    pool = _pool(store, run)
    pool.threads = 1
    j = job(store)
    pool.queue.enqueue(j.id, "download")
    pool.start()
    assert started.wait(10)
    t = time.monotonic()
    pool.stop(timeout=1.5)
    assert time.monotonic() - t < 10  # the task would otherwise wait 30 s for its cancel
    row = pool.queue.for_job(j.id)["download"]
    assert row.status == "pending" and row.lease_owner is None and row.attempts == 0
