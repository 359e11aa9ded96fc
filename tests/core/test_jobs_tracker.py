"""Job store durability and the tracker's polling, transitions and downloads."""

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from studio.errors import NetworkError, NotFoundError
from studio.jobs import Job, JobStore
from studio.providers.oxen import OxenGeneration
from studio.tracker import (
    RemoteState,
    Tracker,
    map_status,
    next_poll_delay,
    polls_for,
    transition,
)


def make_job(**kw):
    base = dict(model_id="topazlabs-rhea-video", provider="oxen", owner="abc",
                params={"resolution": "1080p"}, source={"kind": "sample", "label": "x.mp4"})
    base.update(kw)
    return Job(**base)


def test_store_round_trips_and_survives_reopen(tmp_path):
    db = tmp_path / "jobs.sqlite3"
    store = JobStore(db)
    job = store.insert(make_job(quote={"amount_usd": "2.0916"}, remote_id="g-1", status="queued"))
    store.update(job.id, status="succeeded", result_urls={"video": "http://x/out.mp4"},
                 completed_at=datetime.now(UTC))
    store.close()
    again = JobStore(db).get(job.id)  # a restart sees the same row
    assert again.status == "succeeded" and again.quote_usd == Decimal("2.0916")
    assert again.result_urls == {"video": "http://x/out.mp4"}
    assert again.created_at.tzinfo is not None


def test_store_lists_newest_first_with_filters(tmp_path):
    store = JobStore(tmp_path / "j.db")
    a = store.insert(make_job(status="queued", remote_id="a"))
    time.sleep(0.001)
    b = store.insert(make_job(model_id="ltx-video-to-video-hdr", provider="ltx", status="failed"))
    assert [j.id for j in store.list()] == [b.id, a.id]
    assert [j.id for j in store.list(model_id="topazlabs-rhea-video")] == [a.id]
    assert store.count_active() == 1
    assert [j.id for j in store.due(time.time())] == [a.id]
    with pytest.raises(KeyError):
        store.update("nope", status="failed")


def test_poll_schedule_backs_off_to_30s_and_bounds_requests():
    assert next_poll_delay(0) == 5.0
    assert next_poll_delay(1) == 7.5
    assert next_poll_delay(20) == 30.0
    assert polls_for(600) <= 40  # a 10-minute generation


def test_status_maps_and_unknown_raises():
    assert map_status("ltx", "pending") == "queued"
    assert map_status("ltx", "completed") == "succeeded"
    assert map_status("oxen", "cancelled") == "cancelled"
    with pytest.raises(ValueError):
        map_status("oxen", "exploded")


def test_transition_terminal_and_in_flight():
    job = make_job(status="queued", remote_id="g", poll_count=2)
    ch = transition(job, RemoteState("processing"), now=100.0)
    assert ch["status"] == "processing" and ch["next_poll_at"] == 100.0 + next_poll_delay(3)
    ch = transition(job, RemoteState("failed", error="resolution: must be one of …"), now=1.0)
    assert ch["status"] == "failed" and "resolution" in ch["error"] and ch["completed_at"]
    done = make_job(status="succeeded")
    assert "status" not in transition(done, RemoteState("processing"), now=1.0)


class FakeOxen:
    """Our own client's surface, scripted."""

    def __init__(self, answers, tmp_path=None, history=None):
        self.answers = list(answers)
        self.history = history
        self.calls = 0
        self.tmp_path = tmp_path

    def get_generation(self, gid):
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def generation_history(self, gid):
        self.calls += 1
        if isinstance(self.history, Exception):
            raise self.history
        return self.history or gen("succeeded", cost=Decimal("0.5236"))

    payload = b"video"  # what the fake result link serves

    def download(self, url, dest, progress=None, **_bounds):
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(self.payload)
        if progress:
            progress(len(self.payload), len(self.payload))

        class D:
            path = dest
        return D()


def gen(status, **kw):
    return OxenGeneration(generation_id="g", model_name="m", status=status, enqueued_at=None, **kw)


def test_tracker_moves_a_job_to_succeeded_and_downloads(tmp_path, realshort):
    store = JobStore(tmp_path / "j.db")
    job = store.insert(make_job(status="queued", remote_id="g"))
    fake = FakeOxen([gen("processing"), gen("succeeded", artifacts={"video": "http://s/o.mp4"})])
    fake.payload = realshort.read_bytes()  # a real MP4: results are checked before they count
    tracker = Tracker(store, lambda j: fake, tmp_path / "results")
    tracker.poll_due(now=time.time())
    assert store.get(job.id).status == "processing"
    assert tracker.poll_due(now=time.time()) == 0  # not due yet: backoff respected
    tracker.poll_due(now=time.time() + 60)
    done = store.get(job.id)
    # the queue row has no cost: the charge comes from the history route, once
    assert done.status == "succeeded" and done.charge_usd == Decimal("0.5236") and fake.calls == 3
    assert done.charge_source == "sandbox"  # the job ran on the sandbox (make_job's target)
    assert tracker.download_results() >= 1  # the download (then its preview, if needed)
    files = store.get(job.id).result_files
    # named after the generation and the artifact, never after the link's last segment
    assert (tmp_path / "results" / job.id / "video.mp4").read_bytes() == fake.payload
    assert files["video"].endswith("video.mp4")


def test_tracker_keeps_job_on_network_error_and_fails_on_404(tmp_path):
    store = JobStore(tmp_path / "j.db")
    job = store.insert(make_job(status="queued", remote_id="g"))
    fake = FakeOxen([NetworkError("down", maybe_sent=False),
                     NotFoundError("gone", status=404)], history=NotFoundError("gone", status=404))
    tracker = Tracker(store, lambda j: fake, tmp_path)
    tracker.poll_due(now=time.time())
    kept = store.get(job.id)
    assert kept.status == "queued" and kept.poll_count == 1 and tracker.last_error == "down"
    tracker.poll_due(now=time.time() + 60)
    gone = store.get(job.id)
    assert gone.status == "failed" and "404 on status and history" in gone.error


def test_oxen_404_on_the_queue_route_falls_back_to_history(tmp_path):
    store = JobStore(tmp_path / "j.db")
    job = store.insert(make_job(status="processing", remote_id="g"))
    fake = FakeOxen([NotFoundError("gone", status=404)],
                    history=gen("succeeded", artifacts={"video": "http://s/o.mp4"},
                                cost=Decimal("1.5")))
    Tracker(store, lambda j: fake, tmp_path).poll_due(now=time.time())
    done = store.get(job.id)
    assert done.status == "succeeded" and done.result_urls == {"video": "http://s/o.mp4"}
    assert done.charge_usd == Decimal("1.5")


class FakeLtx:
    def get_hdr(self, gid):
        raise NotFoundError("gone", status=404)


def test_ltx_404_after_24h_is_expired_not_failed(tmp_path):
    store = JobStore(tmp_path / "j.db")
    old = datetime.now(UTC) - timedelta(hours=25)
    job = store.insert(make_job(model_id="ltx-video-to-video-hdr", provider="ltx", status="processing",
                                remote_id="l", created_at=old, submitted_at=old))
    fresh = store.insert(make_job(model_id="ltx-video-to-video-hdr", provider="ltx",
                                  status="processing", remote_id="m"))
    Tracker(store, lambda j: FakeLtx(), tmp_path).poll_due(now=time.time())
    assert store.get(job.id).status == "expired" and "24 h" in store.get(job.id).error
    assert store.get(fresh.id).status == "failed"


class FakeLister:
    def __init__(self, rows):
        self.rows = rows

    def list_queue(self, **kw):
        return [r for r in self.rows if r.status in ("queued", "processing")]

    def list_generations(self, **kw):
        return [r for r in self.rows if r.status not in ("queued", "processing")], None, 1


def test_unknown_enqueue_is_matched_by_model_input_and_time_never_resent(tmp_path):
    store = JobStore(tmp_path / "j.db")
    src = {"kind": "url", "label": "c.mp4", "url": "http://s/in.mp4"}
    now = datetime.now(UTC)
    lost = now + timedelta(seconds=10)  # when the answer was lost (row marked unknown)
    a = store.insert(make_job(status="unknown", source=src, batch_id="b", created_at=now,
                              updated_at=lost))
    b = store.insert(make_job(status="unknown", source=src, batch_id="b", created_at=now,
                              updated_at=lost))
    def row(gid, status, inp="http://s/in.mp4", t=now, model="topazlabs-rhea-video"):
        return OxenGeneration(generation_id=gid, model_name=model, status=status,
                              enqueued_at=t, params={"input_video": inp})
    lister = FakeLister([
        row("g1", "processing"), row("g2", "succeeded"),
        row("other-input", "queued", inp="http://s/else.mp4"),
        row("too-old", "queued", t=now - timedelta(hours=2)),
        row("other-model", "queued", model="topazlabs-upscale-starlight-2-5-video"),
        row("a-later-submit", "queued", t=now + timedelta(seconds=40)),  # not ours: too late
    ])
    tracker = Tracker(store, lambda j: lister, tmp_path)
    assert tracker.reconcile_unknown(now=time.time()) == 2
    got = {store.get(a.id).remote_id, store.get(b.id).remote_id}
    assert got == {"g1", "g2"}
    # adopted rows go back through a poll, which brings result URLs and the charge
    assert {store.get(x.id).status for x in (a, b)} == {"queued"}
    assert all(store.get(x.id).next_poll_at == 0.0 for x in (a, b))
    assert all("not resubmitted" in store.get(x.id).error for x in (a, b))
    assert tracker.reconcile_unknown(now=time.time()) == 0  # nothing left, nothing re-adopted


def test_reconnect_backoff_grows_to_30s_with_jitter():
    import random

    from studio.events import backoff_s
    rng = random.Random(1)
    waits = [backoff_s(n, rng) for n in range(1, 9)]
    assert 1 <= waits[0] <= 1.5 and 2 <= waits[1] <= 3
    assert all(30 <= w <= 45 for w in waits[5:])


def test_a_send_interrupted_by_a_crash_becomes_unknown_not_resent(tmp_path):
    store = JobStore(tmp_path / "j.db")
    old = datetime.now(UTC) - timedelta(minutes=5)
    stuck = store.insert(make_job(status="submitting", updated_at=old))
    fresh = store.insert(make_job(status="submitting"))
    sync = store.insert(make_job(status="processing", mode="sync", updated_at=old - timedelta(hours=1)))
    tracker = Tracker(store, lambda j: None, tmp_path)
    assert tracker.sweep_interrupted() == 2
    assert store.get(stuck.id).status == "unknown" and "not resent" in store.get(stuck.id).error
    assert store.get(sync.id).status == "unknown"
    assert store.get(fresh.id).status == "submitting"


def test_two_replicas_sharing_a_store_poll_each_job_once(tmp_path):
    import threading
    from collections import Counter

    db = tmp_path / "shared.sqlite3"
    seed = JobStore(db)
    ids = [seed.insert(make_job(status="processing", remote_id=f"g{i}")).id for i in range(40)]
    polls: Counter = Counter()
    lock = threading.Lock()

    class Slow:
        def get_generation(self, gid):
            with lock:
                polls[gid] += 1
            time.sleep(0.005)  # long enough for the other replica to race for the same row
            return gen("processing")

    replicas = [Tracker(JobStore(db), lambda j: Slow(), tmp_path) for _ in range(2)]
    now = time.time()
    threads = [threading.Thread(target=r.poll_due, args=(now,)) for r in replicas]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(polls) == sorted(f"g{i}" for i in range(40))
    assert set(polls.values()) == {1}  # no generation polled twice
    assert all(seed.get(i).lease_owner is None for i in ids)  # leases handed back


def test_a_transient_error_on_the_history_lookup_keeps_the_job(tmp_path):
    from studio.errors import ServerError
    store = JobStore(tmp_path / "j.db")
    job = store.insert(make_job(status="processing", remote_id="g"))
    fake = FakeOxen([NotFoundError("gone", status=404)], history=ServerError("x", status=500))
    tracker = Tracker(store, lambda j: fake, tmp_path)
    tracker.poll_due(now=time.time())
    kept = store.get(job.id)
    assert kept.status == "processing" and kept.poll_count == 1  # retried later, not failed


def test_no_adoption_while_a_same_input_submit_is_in_the_air(tmp_path):
    store = JobStore(tmp_path / "j.db")
    src = {"kind": "url", "label": "c.mp4", "url": "http://s/in.mp4"}
    now = datetime.now(UTC)
    lost = store.insert(make_job(status="unknown", source=src, created_at=now,
                                 updated_at=now + timedelta(seconds=5)))
    store.insert(make_job(status="submitting", source=src, created_at=now))
    gen_row = OxenGeneration(generation_id="g", model_name="topazlabs-rhea-video",
                             status="queued", enqueued_at=now, params={"input_video": src["url"]})
    tracker = Tracker(store, lambda j: FakeLister([gen_row]), tmp_path)
    assert tracker.reconcile_unknown(now=time.time()) == 0
    assert store.get(lost.id).remote_id is None


def test_unusable_answers_put_a_sentence_on_the_generation_and_slow_it_down(tmp_path):
    from studio.errors import UnreadableAnswerError
    from studio.tracker import SSE_SAFETY_POLL_S, STALL_AFTER, needs_person

    store = JobStore(tmp_path / "j.db")
    job = store.insert(make_job(status="queued", remote_id="g"))
    odd = UnreadableAnswerError("Oxen reports this generation as “exploding”, a status this "
                                "app does not know; it keeps checking.", status=200)
    fake = FakeOxen([odd] * STALL_AFTER + [gen("processing")])
    tracker = Tracker(store, lambda j: fake, tmp_path / "results")
    now = time.time()
    for n in range(1, STALL_AFTER + 1):
        tracker.poll_due(now=now + 1000 * n)
        row = store.get(job.id)
        assert row.status == "queued" and row.poll_failures == n and "exploding" in row.error
    assert needs_person(row)  # `track --until-done` no longer waits for it...
    assert row.next_poll_at == pytest.approx(now + 1000 * STALL_AFTER + SSE_SAFETY_POLL_S)
    tracker.poll_due(now=row.next_poll_at)  # ...but it is still checked, slowly
    row = store.get(job.id)
    assert row.status == "processing" and row.poll_failures == 0 and row.error is None


def test_network_trouble_is_not_counted_against_a_generation(tmp_path):
    store = JobStore(tmp_path / "j.db")
    job = store.insert(make_job(status="queued", remote_id="g"))
    fake = FakeOxen([NetworkError("down", maybe_sent=False)] * 5)
    tracker = Tracker(store, lambda j: fake, tmp_path / "results")
    for n in range(5):
        tracker.poll_due(now=time.time() + 1000 * (n + 1))
    row = store.get(job.id)
    assert row.poll_failures == 0 and row.error is None and row.poll_count == 5
