"""The job store on both backends: SQLite (a temporary file) and PostgreSQL.

PostgreSQL comes from ``TEST_DATABASE_URL`` (``scripts/test`` starts a local cluster and sets
it). Each PostgreSQL test gets a schema of its own, dropped afterwards. Without the variable
the PostgreSQL cases are skipped locally and *fail* under CI (``CI`` set), so CI always
exercises both backends.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from studio import jobs
from studio.config import Settings
from studio.jobs import (
    ACTIVE_STATUSES,
    ALL_STATUSES,
    SCHEMA_VERSION,
    TERMINAL_STATUSES,
    Job,
    JobStore,
    job_to_dict,
    jobs_table,
)
from studio.store import ChargeSource, SpendSums, Status

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

# The DDL of the original SQLite-only store (schema v1, PRAGMA user_version=1), copied from
# studio/jobs.py before versioned migrations: what existing users' files look like.
V1_COLUMNS = (
    "model_id", "provider", "owner", "params", "source", "id", "status", "remote_id", "mode",
    "target", "owner_name", "clip", "quote", "client_token", "batch_id", "created_at",
    "updated_at", "submitted_at", "started_at", "completed_at", "error", "result_urls",
    "result_files", "preview_path", "charge_usd", "poll_count", "next_poll_at",
)
V1_DDL = f"""
    CREATE TABLE IF NOT EXISTS jobs (
        {", ".join(f"{c} {'REAL' if c == 'next_poll_at' else 'INTEGER' if c == 'poll_count' else 'TEXT'}"
                   + (" PRIMARY KEY" if c == "id" else "") for c in V1_COLUMNS)}
    );
    CREATE INDEX IF NOT EXISTS jobs_created ON jobs(created_at);
    CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status);
    CREATE INDEX IF NOT EXISTS jobs_model ON jobs(model_id, created_at);
    CREATE TABLE IF NOT EXISTS uploads (
        provider TEXT, target TEXT, sha256 TEXT, url TEXT, expires_at TEXT,
        PRIMARY KEY (provider, target, sha256)
    );
"""


def pg_base_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    if os.environ.get("CI"):
        pytest.fail("CI must test the PostgreSQL job store, but TEST_DATABASE_URL is not set "
                    "(scripts/test starts PostgreSQL and sets it)")
    pytest.skip("PostgreSQL backend not tested: TEST_DATABASE_URL is unset (scripts/test "
                "starts a local PostgreSQL and sets it)")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """Where a fresh, empty job store lives: a file path, or a PostgreSQL URL whose
    search_path is a new schema."""
    if backend == "sqlite":
        yield str(tmp_path / "jobs.sqlite3")
        return
    base = sa.make_url(pg_base_url()).set(drivername="postgresql+psycopg")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, poolclass=sa.NullPool)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        url = base.update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture
def open_store(db_url: str) -> Iterator[Callable[[], JobStore]]:
    """Opens store instances on the test's database; all are closed at the end."""
    opened: list[JobStore] = []

    def open_() -> JobStore:
        opened.append(JobStore(db_url))
        return opened[-1]

    yield open_
    for s in opened:
        s.close()


@pytest.fixture
def store(open_store: Callable[[], JobStore]) -> JobStore:
    return open_store()


def make_job(**kw: object) -> Job:
    base: dict[str, object] = dict(
        model_id="topazlabs-rhea-video", provider="oxen", owner="abc",
        params={"resolution": "1080p"}, source={"kind": "sample", "label": "x.mp4"})
    base.update(kw)
    return Job(**base)  # type: ignore[arg-type]


def due_job(i: int, **kw: object) -> Job:
    return make_job(status="queued", remote_id=f"g-{i}", next_poll_at=float(i), **kw)


# -- rows ---------------------------------------------------------------------------------
def test_every_field_round_trips_and_survives_reopen(open_store):
    cest = timezone(timedelta(hours=2))
    job = Job(
        model_id="ltx-2-3-quality-hdr", provider="oxen", owner="f1e2d3c4b5a6",
        params={"fps": 24, "nested": {"a": [1, 2.5, None, True]}, "prompt": "ciel étoilé ✨"},
        source={"kind": "upload", "label": "Café.mp4", "path": "/d/x.mp4", "sha256": "ab" * 32},
        status="succeeded", remote_id="gen-42", mode="sync", target="live",
        owner_name="Zoë", clip={"width": 1920, "height": 1080, "fps": 29.97},
        quote={"amount_usd": "2.0916", "provenance": "proxy"}, client_token="tok",
        batch_id="batch-1",
        created_at=T0, updated_at=T0 + timedelta(seconds=1, microseconds=5),
        submitted_at=datetime(2025, 3, 1, 14, 0, 2, tzinfo=cest),  # 12:00:02 UTC
        started_at=T0 + timedelta(seconds=3), completed_at=T0 + timedelta(minutes=5),
        error="none", result_urls={"video": "http://x/out.mp4", "exr_frames": "http://x/f.zip"},
        result_files={"video": "/r/out.mp4"}, preview_path="/r/p.mp4", charge_usd="0.5236",
        poll_count=7, next_poll_at=1740830400.25, parent_id="failed-1", attempts=2,
        lease_owner="host:1", lease_until=1740830460.5, charge_source="reported",
    )
    first = open_store()
    first.insert(job)
    assert first.get(job.id) == job
    first.close()
    again = open_store().get(job.id)  # a restart sees the same row
    assert again == job
    assert job_to_dict(again) == job_to_dict(job) | {"submitted_at": "2025-03-01T12:00:02+00:00"}
    for name in ("created_at", "updated_at", "submitted_at", "started_at", "completed_at"):
        assert getattr(again, name).tzinfo is UTC
    assert again.charge_usd == Decimal("0.5236") and type(again.charge_usd) is Decimal
    assert again.quote_usd == Decimal("2.0916") and again.status is Status.SUCCEEDED
    assert again.charge_source is ChargeSource.REPORTED


def test_columns_are_typed_in_the_database(store):
    """Money is NUMERIC (an exact nano-dollar INTEGER on SQLite), times are timestamptz (ISO
    text on SQLite), JSON is JSONB on PostgreSQL; quote_usd is filled from the quote."""
    job = store.insert(make_job(quote={"amount_usd": "2.0916"}, charge_usd=Decimal("1.81"),
                                charge_source="computed", created_at=T0))
    with store._engine.connect() as conn:
        if store.backend == "postgresql":
            types = dict(conn.exec_driver_sql(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'jobs' AND table_schema = current_schema()").all())
            assert types["charge_usd"] == types["quote_usd"] == "numeric"
            assert types["created_at"] == "timestamp with time zone"
            assert types["params"] == types["quote"] == "jsonb"
            row = conn.exec_driver_sql(
                "SELECT charge_usd, quote_usd, quote->>'amount_usd', created_at "
                f"FROM jobs WHERE id = '{job.id}'").one()
            assert (row[0], row[1], row[2]) == (Decimal("1.81"), Decimal("2.0916"), "2.0916")
            assert row[3] == T0
        else:
            row = conn.exec_driver_sql(
                "SELECT charge_usd, typeof(charge_usd), quote_usd, created_at, charge_source "
                f"FROM jobs WHERE id = '{job.id}'").one()
            # $1.81 = 1,810,000,000 nano-dollars; $2.0916 = 2,091,600,000.
            assert tuple(row) == (1_810_000_000, "integer", 2_091_600_000,
                                  "2025-03-01T12:00:00.000000+00:00", "computed")


def test_status_is_an_enum_and_unknown_ones_raise(store):
    job = store.insert(make_job(status="queued"))
    assert store.get(job.id).status is Status.QUEUED
    assert store.update(job.id, status=Status.FAILED).status == "failed"
    with pytest.raises(ValueError):
        store.update(job.id, status="exploded")
    with pytest.raises(ValueError):
        make_job(status="exploded")


def test_sort_by_cost_is_sql_charge_else_quote_empty_last(store):
    """Cost = the charge when known, else the quote: 3.00 (charge) > 2.50 (quote) > 0.75
    (charge below its 9.00 quote) > no cost at all."""
    a = store.insert(make_job(created_at=T0, quote={"amount_usd": "2.50"}))
    b = store.insert(make_job(created_at=T0 + timedelta(seconds=1), quote={"amount_usd": "9"},
                              charge_usd="0.75"))
    c = store.insert(make_job(created_at=T0 + timedelta(seconds=2), charge_usd="3.00"))
    d = store.insert(make_job(created_at=T0 + timedelta(seconds=3)))
    assert [j.id for j in store.search(sort="cost")] == [c.id, a.id, b.id, d.id]
    assert [j.id for j in store.search(sort="cost", descending=False)] == [b.id, a.id, c.id,
                                                                           d.id]
    assert [j.id for j in store.search(sort="cost", limit=2)] == [c.id, a.id]


def test_defaults_round_trip(store):
    job = store.insert(make_job())
    got = store.get(job.id)
    assert got == job
    assert (got.result_urls, got.result_files, got.clip, got.quote) == ({}, {}, None, None)
    assert (got.attempts, got.parent_id, got.lease_owner, got.lease_until) == (0, None, None, None)


def test_naive_datetimes_are_refused(store):
    with pytest.raises(ValueError, match="naive"):
        store.insert(make_job(created_at=datetime(2025, 1, 1)))


def test_update_returns_the_new_row_and_unknowns_raise(store):
    job = store.insert(make_job(updated_at=T0))
    new = store.update(job.id, status="failed", error="boom", attempts=1, next_poll_at=5)
    assert (new.status, new.error, new.attempts, new.next_poll_at) == ("failed", "boom", 1, 5)
    assert new.updated_at > T0 and store.get(job.id) == new
    with pytest.raises(KeyError):
        store.update("nope", status="failed")
    with pytest.raises(KeyError, match="colour"):
        store.update(job.id, colour="red")


def test_insert_many_is_all_or_nothing(store):
    kept = store.insert(make_job())
    with pytest.raises(IntegrityError):
        store.insert_many([make_job(), make_job(id=kept.id)])
    assert [j.id for j in store.list()] == [kept.id]
    assert store.insert_many([]) == []


def test_list_filters_and_orders_newest_first(store):
    a = store.insert(make_job(status="queued", remote_id="a", created_at=T0))
    b = store.insert(make_job(model_id="ltx-video-to-video-hdr", provider="ltx", status="failed",
                              created_at=T0 + timedelta(minutes=2)))
    c = store.insert(make_job(owner="other", status="waiting",
                              created_at=T0 + timedelta(minutes=1, microseconds=1)))
    assert [j.id for j in store.list()] == [b.id, c.id, a.id]
    assert [j.id for j in store.list(model_id="topazlabs-rhea-video")] == [c.id, a.id]
    assert [j.id for j in store.list(owner="abc")] == [b.id, a.id]
    assert [j.id for j in store.list(statuses=["failed", "waiting"])] == [b.id, c.id]
    assert [j.id for j in store.list(limit=1)] == [b.id]
    assert store.count_active() == 2  # queued + waiting
    assert store.count_active(model_id="ltx-video-to-video-hdr") == 0


def test_statuses():
    assert "waiting" in ACTIVE_STATUSES and "expired" in TERMINAL_STATUSES
    assert set(ALL_STATUSES) == {*ACTIVE_STATUSES, *TERMINAL_STATUSES, "unknown"}
    assert make_job(status="waiting").is_active and make_job(status="expired").is_terminal


def test_due_and_needing_download(store):
    now = 1000.0
    late = store.insert(make_job(status="processing", remote_id="p", next_poll_at=now - 5))
    early = store.insert(make_job(status="queued", remote_id="q", next_poll_at=now - 50))
    store.insert(make_job(status="queued", remote_id="later", next_poll_at=now + 1))
    store.insert(make_job(status="queued", next_poll_at=0))  # no provider id yet
    store.insert(make_job(status="succeeded", remote_id="s", next_poll_at=0))
    assert [j.id for j in store.due(now)] == [early.id, late.id]

    ready = store.insert(make_job(status="succeeded", result_urls={"video": "http://v"}))
    store.insert(make_job(status="succeeded", result_urls={"video": "http://v"},
                          result_files={"video": "/v.mp4"}))
    store.insert(make_job(status="succeeded"))  # nothing to download
    store.insert(make_job(status="failed", result_urls={"video": "http://v"}))
    assert [j.id for j in store.needing_download()] == [ready.id]


def test_upload_cache_expires_and_is_replaced(store):
    now = T0
    assert store.cached_upload("ltx", "sandbox:u", "sha", now) is None
    store.remember_upload("ltx", "sandbox:u", "sha", "ltx://one", now + timedelta(hours=23))
    assert store.cached_upload("ltx", "sandbox:u", "sha", now) == "ltx://one"
    assert store.cached_upload("ltx", "sandbox:u", "sha", now + timedelta(hours=23)) is None
    assert store.cached_upload("ltx", "live:u", "sha", now) is None  # per target
    store.remember_upload("ltx", "sandbox:u", "sha", "ltx://two", None)  # replaced, no expiry
    assert store.cached_upload("ltx", "sandbox:u", "sha", now + timedelta(days=999)) == "ltx://two"


# -- schema -------------------------------------------------------------------------------
def test_new_store_is_at_the_latest_schema_matching_the_table(store, open_store):
    with store._engine.connect() as conn:
        versions = [r[0] for r in conn.exec_driver_sql(
            "SELECT version FROM schema_version ORDER BY version")]
        columns = {c["name"] for c in sa.inspect(conn).get_columns("jobs")}
        indexes = {i["name"] for i in sa.inspect(conn).get_indexes("jobs")}
    assert versions == list(range(1, SCHEMA_VERSION + 1))
    assert columns == set(jobs_table.c.keys())
    assert {"jobs_created", "jobs_model", "jobs_due", "jobs_owner"} <= indexes
    open_store()  # opening again applies nothing and fails nothing


def test_a_database_newer_than_the_code_is_refused(store, db_url):
    with store._engine.begin() as conn:
        conn.exec_driver_sql(
            f"INSERT INTO schema_version VALUES ({SCHEMA_VERSION + 1}, '2099-01-01')")
    with pytest.raises(RuntimeError, match="newer"):
        JobStore(db_url)


def test_v1_file_from_the_old_store_is_upgraded_in_place(tmp_path):
    db = tmp_path / "jobs.sqlite3"
    old = sqlite3.connect(db, isolation_level=None)
    old.executescript("BEGIN;" + V1_DDL + "PRAGMA user_version=1;COMMIT;")
    row = dict(model_id="topazlabs-rhea-video", provider="oxen", owner="abc",
               params='{"resolution": "1080p"}', source='{"kind": "sample", "label": "x.mp4"}',
               id="old-1", status="queued", remote_id="g-1", mode="queue", target="sandbox",
               owner_name=None, clip=None, quote='{"amount_usd": "1.5"}', client_token="t",
               batch_id=None, created_at="2025-01-02T03:04:05.123456+00:00",
               updated_at="2025-01-02T03:04:05+00:00", submitted_at=None, started_at=None,
               completed_at=None, error=None, result_urls="{}", result_files="{}",
               preview_path=None, charge_usd=None, poll_count=3, next_poll_at=10.0)
    old.execute(f"INSERT INTO jobs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                list(row.values()))
    old.execute("INSERT INTO uploads VALUES ('oxen', 't', 'sha', 'https://u', NULL)")
    old.close()

    store = JobStore(db)
    job = store.get("old-1")
    assert (job.status, job.poll_count, job.quote_usd) == ("queued", 3, Decimal("1.5"))
    assert job.created_at == datetime(2025, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    assert (job.attempts, job.parent_id, job.lease_owner, job.lease_until) == (0, None, None, None)
    assert store.cached_upload("oxen", "t", "sha", T0) == "https://u"
    assert [j.id for j in store.claim_due("w", now=20.0)] == ["old-1"]
    store.insert(make_job(parent_id="old-1"))
    store.close()

    check = sqlite3.connect(db)
    assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert [r[0] for r in check.execute("SELECT version FROM schema_version")] == list(
        range(1, SCHEMA_VERSION + 1))
    assert check.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 2
    check.close()
    assert JobStore(db).get("old-1").lease_owner == "w"  # reopening applies nothing twice


def test_a_v1_store_is_upgraded_keeping_its_rows(db_url):
    url, _ = jobs._resolve(db_url)
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        assert jobs._apply_migrations(conn, upto=1) == 0
        conn.execute(sa.text(
            "INSERT INTO jobs (id, model_id, provider, owner, params, source, status, mode, "
            "target, client_token, created_at, updated_at, result_urls, result_files, "
            "poll_count, next_poll_at) VALUES ('v1', 'm', 'oxen', 'o', '{}', '{}', 'queued', "
            "'queue', 'sandbox', 't', '2025-01-01T00:00:00+00:00', "
            "'2025-01-01T00:00:00+00:00', '{}', '{}', 0, 0)"))
    engine.dispose()
    store = JobStore(db_url)
    old = store.get("v1")
    assert (old.status, old.attempts, old.lease_until, old.created_at) == (
        "queued", 0, None, datetime(2025, 1, 1, tzinfo=UTC))
    store.update("v1", attempts=3, parent_id="p")
    assert store.get("v1").attempts == 3
    store.close()


# -- leases -------------------------------------------------------------------------------
def test_claim_due_leases_due_rows_once(store):
    rows = [store.insert(due_job(i)) for i in range(5)]
    store.insert(make_job(status="queued", remote_id="later", next_poll_at=99.0))
    store.insert(make_job(status="waiting", next_poll_at=0))
    store.insert(make_job(status="failed", remote_id="f", next_poll_at=0))

    first = store.claim_due("w1", now=10.0, lease_s=30, limit=3)
    assert [j.id for j in first] == [r.id for r in rows[:3]]  # oldest next_poll_at first
    assert all(j.lease_owner == "w1" and j.lease_until == 40.0 for j in first)
    assert store.get(rows[0].id).updated_at == rows[0].updated_at  # a lease is not an edit
    rest = store.claim_due("w2", now=10.0, lease_s=30)
    assert [j.id for j in rest] == [r.id for r in rows[3:]]
    assert store.claim_due("w1", now=10.0) == []  # held, even for the same worker
    assert store.claim_due("w3", now=10.0, limit=0) == []
    assert [j.id for j in store.due(10.0)] == [r.id for r in rows]  # due() ignores leases

    assert store.release(rows[0].id, "w1") and not store.release(rows[0].id, "w1")
    assert not store.release(rows[1].id, "w2")  # not w2's
    freed = store.get(rows[0].id)
    assert (freed.lease_owner, freed.lease_until) == (None, None)
    assert [j.id for j in store.claim_due("w3", now=10.0)] == [rows[0].id]
    with pytest.raises(ValueError):
        store.claim_due("w1", now=10.0, lease_s=0)


def test_expired_leases_are_claimable_and_can_be_cleared_by_update(store):
    job = store.insert(due_job(1))
    assert store.claim_due("a", now=100.0, lease_s=10)
    assert store.claim_due("b", now=109.9) == []
    taken = store.claim_due("b", now=110.0, lease_s=10)  # a's lease ran out
    assert [(j.id, j.lease_owner, j.lease_until) for j in taken] == [(job.id, "b", 120.0)]
    assert not store.release(job.id, "a")  # a lost it
    done = store.update(job.id, next_poll_at=200.0, lease_owner=None, lease_until=None)
    assert done.lease_owner is None
    assert store.claim_due("c", now=150.0) == []  # free, but not due
    assert [j.lease_owner for j in store.claim_due("c", now=200.0)] == ["c"]


def test_claim_one_row(store):
    job = store.insert(make_job(status="waiting"))
    assert store.claim(job.id, "a", now=0.0, lease_s=5).lease_owner == "a"
    assert store.claim(job.id, "b", now=1.0) is None
    assert store.claim(job.id, "b", now=5.0).lease_owner == "b"
    with pytest.raises(KeyError):
        store.claim("nope", "a", now=0.0)


def test_concurrent_claimers_never_share_a_row(store, open_store):
    """Four threads over two store instances (two connection pools, as two replicas would
    have) drain 120 due rows in small batches; every row goes to exactly one of them."""
    store.insert_many(due_job(i) for i in range(120))
    stores = [store, open_store()]
    got: dict[str, list[str]] = {}
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def drain(worker: str, s: JobStore) -> None:
        try:
            start.wait()
            mine = got.setdefault(worker, [])
            while batch := s.claim_due(worker, now=1000.0, lease_s=300, limit=7):
                mine.extend(j.id for j in batch)
                assert all(j.lease_owner == worker for j in batch)
        except BaseException as exc:  # surfaced below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=drain, args=(f"w{i}", stores[i % 2])) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    claimed = [jid for ids in got.values() for jid in ids]
    assert len(claimed) == len(set(claimed)) == 120
    owners = {j.id: j.lease_owner for j in store.list()}
    assert all(owners[jid] == w for w, ids in got.items() for jid in ids)


# -- search -------------------------------------------------------------------------------
def test_search_matches_text_fields_case_insensitively(store):
    def add(minutes: int, **kw: object) -> Job:
        return store.insert(make_job(created_at=T0 + timedelta(minutes=minutes), **kw))

    beach = add(0, source={"kind": "upload", "label": "Beach_Sunset.MP4"}, remote_id="gen-AAA",
                status="succeeded", completed_at=T0 + timedelta(hours=2))
    city = add(1, source={"kind": "sample", "label": "city 100%.mp4"}, error="Resolution TOO big",
               status="failed", completed_at=T0 + timedelta(hours=1))
    cafe = add(2, source={"kind": "url", "label": "Été.mp4", "url": "http://beach.example/x"},
               owner_name="Zoë", owner="zoe", model_id="ltx-video-to-video-hdr", provider="ltx")

    def ids(**kw: object) -> list[str]:
        return [j.id for j in store.search(**kw)]  # type: ignore[arg-type]

    assert ids() == [cafe.id, city.id, beach.id]
    assert ids(text="beach") == [beach.id]  # the label, not the URL inside source
    assert ids(text="sunset.mp4") == [beach.id]
    assert ids(text="gen-aaa") == [beach.id]
    assert ids(text="too BIG") == [city.id]
    assert ids(text="big resolution") == [city.id]  # every word, anywhere, in any order
    assert ids(text="beach gen-aaa") == [beach.id] and ids(text="beach zoë") == []
    assert ids(text=cafe.id.upper()) == [cafe.id]
    assert ids(text="ZOË") == [cafe.id]  # non-ASCII case folding on both backends
    assert ids(text="été") == [cafe.id]
    assert ids(text="LTX-VIDEO") == [cafe.id]
    assert ids(text="100%") == [city.id] and ids(text="y_1") == []  # wildcards are literal
    assert ids(text="  ") == ids()
    assert ids(owner="zoe") == [cafe.id]
    assert ids(statuses=["succeeded", "failed"], text=".mp4") == [city.id, beach.id]
    assert ids(model_id="topazlabs-rhea-video") == [city.id, beach.id]
    assert ids(sort="completed_at") == [beach.id, city.id, cafe.id]  # empty last
    assert ids(sort="completed_at", descending=False) == [city.id, beach.id, cafe.id]
    assert ids(sort="created_at", descending=False, limit=2) == [beach.id, city.id]
    with pytest.raises(ValueError, match="sort"):
        store.search(sort="params")


# -- opening ------------------------------------------------------------------------------
def test_from_settings_prefers_database_url(tmp_path, db_url):
    default = JobStore.from_settings(tmp_path / "data")
    assert default.path == tmp_path / "data" / "jobs.sqlite3" and default.path.exists()
    default.close()
    chosen = JobStore.from_settings(tmp_path / "other", db_url)
    assert chosen.backend == ("sqlite" if "://" not in db_url else "postgresql")
    assert not (tmp_path / "other" / "jobs.sqlite3").exists()
    chosen.close()


def test_urls_and_settings(tmp_path):
    with pytest.raises(ValueError, match="mysql"):
        JobStore("mysql://u:p@h/db")
    s = JobStore(f"sqlite:///{tmp_path / 'x.db'}")
    assert s.path == tmp_path / "x.db" and s.backend == "sqlite"
    s.close()
    settings = Settings.from_mapping({"DATABASE_URL": "postgresql://app:hunter2@db/studio"})
    assert settings.database_url == "postgresql://app:hunter2@db/studio"
    assert "hunter2" not in repr(settings)
    assert Settings.from_mapping({}).database_url is None


def test_repr_hides_the_password(store, db_url):
    password = sa.make_url(db_url).password if "://" in db_url else None
    if password:
        assert password not in repr(store) and "***" in repr(store)


def test_list_of_1000_rows_is_every_row_newest_first(store):
    """(How fast is bench/store_list.py's to measure, on both databases, not a unit test's.)"""
    store.insert_many(make_job(created_at=T0 + timedelta(seconds=i), status="succeeded",
                               result_urls={"video": f"http://v/{i}"}) for i in range(1000))
    rows = store.list()
    assert len(rows) == 1000
    assert [r.result_urls["video"] for r in rows[:2]] == ["http://v/999", "http://v/998"]


def test_spend_is_one_sql_aggregate_that_follows_every_write(store, open_store):
    """Spend by the budget rule, summed in SQL, seen at once by another store object:
    charged 2.10 + 0.40 (failed, but charged) = 2.50; pending 1.25 (succeeded, no charge
    yet); in flight 2.0916 + 0.30 (unknown) = 2.3916; the cancelled quote, the row of last
    month and the live row (targets: sandbox only) count nothing."""
    start, end = T0.replace(day=1), T0.replace(month=4, day=1)
    sb = {"oxen": "sandbox", "ltx": "sandbox"}

    def add(**kw: object) -> Job:
        kw.setdefault("created_at", T0)
        return store.insert(make_job(**kw))

    a = add(status="queued", quote={"amount_usd": "2.0916"}, owner="ana")
    add(status="succeeded", quote={"amount_usd": "2"}, charge_usd="2.10", owner="ana")
    add(status="failed", quote={"amount_usd": "1"}, charge_usd="0.40", owner="bo")
    add(status="succeeded", quote={"amount_usd": "1.25"}, owner="bo")
    add(status="unknown", quote={"amount_usd": "0.30"}, owner="ana")
    add(status="cancelled", quote={"amount_usd": "5"}, owner="ana")
    add(status="queued", quote={"amount_usd": "7"}, created_at=T0.replace(month=2), owner="ana")
    add(status="queued", quote={"amount_usd": "8"}, target="live", owner="ana")
    other = open_store()
    team, ana = other.spend(start=start, end=end, owner="ana", targets=sb)
    assert team == SpendSums(Decimal("2.5"), Decimal("1.25"), Decimal("2.3916"))
    assert ana == SpendSums(Decimal("2.1"), Decimal(0), Decimal("2.3916"))
    assert store.spend(start=start, end=end)[0].in_flight == Decimal("10.3916")  # all targets
    store.update(a.id, status="succeeded", charge_usd="2.0900")
    team, ana = other.spend(start=start, end=end, owner="ana", targets=sb)
    assert team == SpendSums(Decimal("4.59"), Decimal("1.25"), Decimal("0.3"))
    assert store.spend(start=end, end=end.replace(month=5), owner="x") == (SpendSums(),
                                                                           SpendSums())


def test_exclusive_transactions_of_two_stores_do_not_overlap(store, open_store):
    """The budget's check-then-insert step: a second store's exclusive block waits for the
    first one's to commit, then sees its rows."""
    other = open_store()
    order: list[str] = []
    inside = threading.Event()

    def second() -> None:
        inside.wait(10)
        with other.exclusive() as txn:
            order.append("second in")
            seen = txn.spend(start=T0 - timedelta(days=1), end=T0 + timedelta(days=1))[0]
            order.append(f"second sees {seen.in_flight}")

    t = threading.Thread(target=second)
    t.start()
    with store.exclusive() as txn:
        inside.set()
        time.sleep(0.5)  # the other store tries to start meanwhile
        txn.insert_many([make_job(status="queued", quote={"amount_usd": "1.5"},
                                  created_at=T0)])
        order.append("first commits")
    t.join(20)
    assert order == ["first commits", "second in", "second sees 1.5"]
