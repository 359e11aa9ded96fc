"""The media work queue: downloads, previews and analyses claimed from the database with leases.

Heavy work that follows a finished generation — downloading its result, making a
browser-playable preview, an HDR analysis — is a row in the ``work`` table (one per
generation and *kind*), claimed the way polls are (:meth:`studio.jobs.JobStore.claim_due`):
whoever claims a row holds a lease on it, renews it while it works, and hands it back done,
failed, or due again later. So the same queue serves

- the app's own bounded pool (:class:`WorkPool`, ``STUDIO_MEDIA_WORKERS`` threads, default 2),
  beside the poller so a slow download never holds up status polling; and
- ``python -m studio worker`` processes on other machines sharing the PostgreSQL store, when
  one machine is not enough (the app then runs with ``STUDIO_MEDIA_WORKERS=0``).

A crashed worker's lease expires and another claims the row. Per-host limits are part of
the claim (no more than ``per_host`` leased rows per result host, across every process).

Kinds are registered by name (:func:`register`) with the function that runs them, how often
a transient failure is tried again (exponential backoff with a cap) and which kind they
follow: ``preview`` follows ``download``; an HDR analysis registers as, e.g.,
``WorkKind("hdr_analysis", run=..., follows="download")``. See :mod:`studio.tracking.results`.

Row states: ``pending`` (due at ``next_at``; being worked on while its lease runs),
``done``, ``failed`` (settled: its ``error`` is the sentence shown, a person may retry).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Text,
    and_,
    case,
    cast,
    func,
    insert,
    not_,
    or_,
    select,
    text,
    update,
)

from studio.errors import (
    NetworkError,
    RateLimitedError,
    ServerError,
    StudioError,
    UnreadableAnswerError,
)
from studio.jobs import Job, JobStore, jobs_table, utcnow
from studio.store import Status
from studio.store.schema import work_table  # created by migration v5

log = logging.getLogger(__name__)



class WorkStatus(StrEnum):
    """A work row's status: ``pending`` (waiting, or leased while it runs), ``done``, or
    ``failed`` (no attempt left, or a failure no retry mends)."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


LEASE_S = 120.0
_PG_CLAIM_LOCK = 0x5654_574F_524B  # "VTWORK": serialises claims so per-host limits hold


def worker_name(role: str = "worker") -> str:
    """A unique id for one pool or worker process: ``role@host:pid:random``."""
    return f"{role}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def backoff_s(attempts: int, base_s: float, cap_s: float) -> float:
    """Seconds before try number ``attempts + 1`` after ``attempts`` failed ones:
    ``base_s × 2^(attempts-1)``, at most ``cap_s``."""
    return min(cap_s, base_s * 2 ** max(0, attempts - 1))


@dataclass(frozen=True)
class WorkItem:
    """One row of the ``work`` table (times are Unix seconds)."""

    id: str
    job_id: str
    kind: str
    status: WorkStatus
    attempts: int
    next_at: float
    host: str | None
    lease_owner: str | None
    lease_until: float | None
    progress: float | None
    detail: str | None
    failure: str | None
    error: str | None
    done_by: str | None

    def running(self, now: float | None = None) -> bool:
        """True while a worker holds the row's lease."""
        now = time.time() if now is None else now
        return (self.status == WorkStatus.PENDING and self.lease_until is not None
                and self.lease_until > now)

    @property
    def settled(self) -> bool:
        return self.status in (WorkStatus.DONE, WorkStatus.FAILED)


def _item(row: Any) -> WorkItem:
    m = row._mapping
    fields = {k: m[k] for k in WorkItem.__dataclass_fields__}
    return WorkItem(**{**fields, "status": WorkStatus(fields["status"])})


class WorkFailed(StudioError):
    """A work function's failure with its class: ``failure`` names it (a
    :class:`studio.tracking.downloads.FailureKind` value or ``"error"``), ``transient``
    says whether to try again, ``retry_after`` (s) overrides the backoff."""

    def __init__(self, message: str, *, failure: str = "error", transient: bool = False,
                 retry_after: float | None = None):
        self.failure = failure
        self.transient = transient
        self.retry_after = retry_after
        super().__init__(message)


def classify(exc: BaseException) -> WorkFailed:
    """Any exception from a work function as a :class:`WorkFailed`: the classes that know
    (``DownloadError``, ``WorkFailed``) keep theirs; network trouble, 5xx, 429 and answers
    that could not be read are transient; any other ``StudioError`` settles with its
    sentence; anything else settles with a sentence and goes to the log with its traceback."""
    if isinstance(exc, WorkFailed):
        return exc
    kind = getattr(exc, "kind", None)
    if isinstance(exc, StudioError) and kind is not None and hasattr(exc, "transient"):
        return WorkFailed(str(exc), failure=str(kind), transient=bool(exc.transient),
                          retry_after=getattr(exc, "retry_after", None))
    if isinstance(exc, NetworkError | ServerError | RateLimitedError | UnreadableAnswerError):
        return WorkFailed(str(exc), failure="transient", transient=True,
                          retry_after=getattr(exc, "retry_after", None))
    if isinstance(exc, StudioError):
        return WorkFailed(str(exc), failure="error")
    if isinstance(exc, MemoryError):
        return WorkFailed("it ran out of memory", failure="too_large")
    log.error("work function failed", exc_info=exc)
    return WorkFailed("an unexpected problem stopped it (the server log has the details)",
                      failure="internal")


@dataclass
class WorkContext:
    """What a work function gets: the row, its generation (as it is now), the services of
    the process (a :class:`studio.tracking.results.MediaServices`), and hooks.

    ``progress(fraction or None, detail)`` records progress (and renews the lease; call it
    often, it writes at most every second). ``cancel`` is set when the process stops: stop
    at the next chance. ``on_response(resp)`` / ``on_process(proc)`` register a live HTTP
    response or child process so stopping can interrupt it; ``cleanup(path)`` registers a
    file to delete when the work is interrupted.
    """

    item: WorkItem
    job: Job
    services: Any
    progress: Callable[[float | None, str], None]
    cancel: threading.Event
    on_response: Callable[[Any], None] = lambda resp: None
    on_process: Callable[[Any], None] = lambda proc: None
    cleanup: Callable[[Any], None] = lambda path: None


@dataclass(frozen=True)
class WorkKind:
    """A kind of media work: ``run(ctx)`` does it (raising on failure); ``settle(ctx,
    sentence)`` records a settled failure on the generation; ``follows`` is the kind after
    whose success this one is queued for the same generation; ``max_tries`` and the backoff
    (``backoff_base_s`` doubling up to ``backoff_cap_s``) bound transient retries;
    ``lease_s`` is how long a claim lasts without renewal."""

    name: str
    run: Callable[[WorkContext], None]
    settle: Callable[[WorkContext, str], None] | None = None
    follows: str | None = None
    max_tries: int = 5
    backoff_base_s: float = 15.0
    backoff_cap_s: float = 600.0
    lease_s: float = LEASE_S


REGISTRY: dict[str, WorkKind] = {}


def register(kind: WorkKind, registry: dict[str, WorkKind] | None = None) -> WorkKind:
    """Add (or replace) ``kind`` in ``registry`` (default: the process-wide one)."""
    (REGISTRY if registry is None else registry)[kind.name] = kind
    return kind


class WorkQueue:
    """The ``work`` table of a :class:`studio.jobs.JobStore` (its migration creates it)."""

    def __init__(self, store: JobStore):
        self.store = store

    # -- writes ---------------------------------------------------------------------------
    def enqueue(self, job_id: str, kind: str, *, host: str | None = None,
                now: float | None = None) -> bool:
        """Queue ``kind`` for ``job_id`` (due now) unless a row for the pair exists; returns
        whether one was added. Idempotent across processes."""
        now = time.time() if now is None else now
        stamp = utcnow().isoformat(timespec="microseconds")
        w = work_table
        values = {"id": uuid.uuid4().hex, "job_id": job_id, "kind": kind,
                  "status": WorkStatus.PENDING, "attempts": 0, "next_at": now, "host": host,
                  "created_at": stamp, "updated_at": stamp}
        with self.store.transaction() as conn:
            exists = conn.execute(select(w.c.id).where(w.c.job_id == job_id,
                                                       w.c.kind == kind)).first()
            if exists is not None:
                return False
            conn.execute(insert(w).values(values))
        return True

    def ensure_downloads(self, host_of: Callable[[str], str] | None = None,
                         kind: str = "download") -> int:
        """Queue a ``download`` row for every succeeded generation with result links, no
        downloaded files and no such row yet (sync results, generations found by
        reconciliation, stores from before the queue). Returns how many were queued."""
        t, w = jobs_table, work_table
        has_row = select(w.c.id).where(w.c.job_id == t.c.id, w.c.kind == kind).exists()
        # JSON columns compared as text: "{}" is the stored empty map on both backends.
        urls_text, files_text = cast(t.c.result_urls, Text), cast(t.c.result_files, Text)
        stmt = select(t.c.id, t.c.result_urls).where(
            t.c.status == Status.SUCCEEDED, t.c.result_urls.is_not(None), urls_text != "{}",
            or_(t.c.result_files.is_(None), files_text == "{}"), not_(has_row))
        with self.store.connection() as conn:
            rows = conn.execute(stmt).all()
        added = 0
        for job_id, urls in rows:
            host = None
            if host_of is not None and urls:
                found = json.loads(urls) if isinstance(urls, str | bytes) else urls
                first = next(iter((found or {}).values()), "")
                host = host_of(str(first))
            added += self.enqueue(job_id, kind, host=host)
        return added

    def reset(self, job_id: str, kind: str, *, now: float | None = None,
              only_settled: bool = False) -> bool:
        """Make ``kind`` for ``job_id`` due again from scratch (attempts 0): the retry
        action. The last failure's sentence stays on the row (so the one written on the
        generation can be recognised and cleared after a success). Creates the row when
        missing; with ``only_settled`` a row still pending is left alone. Returns whether a
        row changed or was made."""
        now = time.time() if now is None else now
        w = work_table
        where = [w.c.job_id == job_id, w.c.kind == kind]
        if only_settled:
            where.append(w.c.status != WorkStatus.PENDING)
        with self.store.transaction() as conn:
            n = conn.execute(update(w).where(*where).values(
                status=WorkStatus.PENDING, attempts=0, next_at=now, progress=None, detail=None,
                lease_owner=None, lease_until=None,
                updated_at=utcnow().isoformat(timespec="microseconds"))).rowcount
        return bool(n) or self.enqueue(job_id, kind, now=now)

    def claim(self, worker_id: str, now: float, *, kinds: Sequence[str],
              lease_s: float = LEASE_S, per_host: int = 2) -> WorkItem | None:
        """Lease the oldest due ``pending`` row of one of ``kinds`` whose lease is free or
        expired and whose host has fewer than ``per_host`` rows leased (by anyone); returns
        it or ``None``. Claims are serialised (SQLite ``BEGIN IMMEDIATE``, a PostgreSQL
        advisory lock), so per-host limits hold across processes."""
        if not kinds:
            return None
        w = work_table
        busy_hosts = (select(w.c.host).where(w.c.status == WorkStatus.PENDING,
                                             w.c.lease_until > now, w.c.host.is_not(None))
                      .group_by(w.c.host).having(func.count() >= per_host))
        free = or_(w.c.lease_until.is_(None), w.c.lease_until <= now)
        # Downloads first: result links expire, a preview can wait.
        pick = (select(w.c.id).where(w.c.status == WorkStatus.PENDING, w.c.next_at <= now, free,
                                     w.c.kind.in_(list(kinds)),
                                     or_(w.c.host.is_(None), w.c.host.not_in(busy_hosts)))
                .order_by(case((w.c.kind == "download", 0), else_=1), w.c.next_at,
                          w.c.created_at).limit(1))
        with self.store.transaction() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_CLAIM_LOCK})
            picked = conn.execute(pick).scalar()
            if picked is None:
                return None
            row = conn.execute(update(w).where(w.c.id == picked, free).values(
                lease_owner=worker_id, lease_until=now + lease_s, progress=None,
                detail=None).returning(*w.c)).first()
        return _item(row) if row is not None else None

    def renew(self, item_id: str, worker_id: str, *, lease_s: float = LEASE_S,
              progress: float | None = None, detail: str | None = None) -> bool:
        """Extend the lease and record progress; ``False`` when the lease was lost."""
        w = work_table
        with self.store.transaction() as conn:
            return conn.execute(update(w).where(w.c.id == item_id,
                                                w.c.lease_owner == worker_id).values(
                lease_until=time.time() + lease_s, progress=progress,
                detail=detail)).rowcount > 0

    def finish(self, item_id: str, worker_id: str) -> None:
        """Mark the row done by ``worker_id`` (its lease is released)."""
        self._end(item_id, worker_id, status=WorkStatus.DONE, done_by=worker_id, failure=None,
                  error=None)

    def fail(self, item_id: str, worker_id: str, *, failure: str, error: str,
             retry_at: float | None, attempts: int) -> None:
        """Record a failure: due again at ``retry_at`` (transient), or settled ``failed``
        when ``retry_at`` is ``None``."""
        if retry_at is None:
            self._end(item_id, worker_id, status=WorkStatus.FAILED, failure=failure, error=error,
                      attempts=attempts, done_by=worker_id)
        else:
            self._end(item_id, worker_id, status=WorkStatus.PENDING, failure=failure, error=error,
                      attempts=attempts, next_at=retry_at)

    def release(self, item_id: str, worker_id: str) -> bool:
        """Hand the row back untouched (the process is stopping); ``False`` if not held."""
        w = work_table
        with self.store.transaction() as conn:
            return conn.execute(update(w).where(w.c.id == item_id,
                                                w.c.lease_owner == worker_id).values(
                lease_owner=None, lease_until=None, progress=None, detail=None)).rowcount > 0

    def _end(self, item_id: str, worker_id: str, **values: Any) -> None:
        w = work_table
        values.update(lease_owner=None, lease_until=None, progress=None, detail=None,
                      updated_at=utcnow().isoformat(timespec="microseconds"))
        with self.store.transaction() as conn:
            conn.execute(update(w).where(w.c.id == item_id).values(**values))

    # -- reads ----------------------------------------------------------------------------
    def for_job(self, job_id: str) -> dict[str, WorkItem]:
        """The rows of one generation by kind."""
        return {i.kind: i for i in self._select(work_table.c.job_id == job_id)}

    def for_jobs(self, job_ids: Iterable[str]) -> dict[str, dict[str, WorkItem]]:
        """Rows of several generations: job id → kind → row (one query)."""
        ids = list(job_ids)
        out: dict[str, dict[str, WorkItem]] = {}
        if not ids:
            return out
        for item in self._select(work_table.c.job_id.in_(ids)):
            out.setdefault(item.job_id, {})[item.kind] = item
        return out

    def unsettled(self) -> list[WorkItem]:
        """Rows not done and not failed (due, waiting for a retry, or being worked on)."""
        return self._select(work_table.c.status == WorkStatus.PENDING)

    def running(self, now: float | None = None) -> list[WorkItem]:
        """Rows someone holds a lease on right now."""
        now = time.time() if now is None else now
        w = work_table
        return self._select(and_(w.c.status == WorkStatus.PENDING, w.c.lease_until > now))

    def get(self, item_id: str) -> WorkItem:
        rows = self._select(work_table.c.id == item_id)
        if not rows:
            raise KeyError(item_id)
        return rows[0]

    def _select(self, where: Any) -> list[WorkItem]:
        w = work_table
        with self.store.connection() as conn:
            rows = conn.execute(select(w).where(where).order_by(w.c.created_at)).all()
        return [_item(r) for r in rows]


@dataclass
class _Live:
    """What one running work item holds that stopping must interrupt or remove."""

    item: WorkItem
    responses: list[Any] = field(default_factory=list)
    processes: list[Any] = field(default_factory=list)
    paths: list[Any] = field(default_factory=list)


class WorkPool:
    """Runs claimed work in ``threads`` threads of this process (0: none, the work is left
    to ``studio worker`` processes).

    ``services`` is handed to every work function; ``kinds`` limits which kinds this pool
    runs (default: all registered); ``per_host`` caps leased rows per result host. Threads
    wake on :meth:`wake` and otherwise look for due work every ``idle_s`` seconds.
    :meth:`stop` interrupts running work (sockets shut, child processes ended, partial
    files removed, leases handed back) and returns within about ``timeout`` seconds.
    """

    def __init__(self, queue: WorkQueue, services: Any, *, threads: int = 2,
                 per_host: int = 2, kinds: Sequence[str] | None = None,
                 registry: Mapping[str, WorkKind] | None = None,
                 worker_id: str | None = None, idle_s: float = 1.0,
                 on_change: Callable[[], None] | None = None):
        self.queue = queue
        self.services = services
        self.threads = max(0, int(threads))
        self.per_host = max(1, int(per_host))
        self.registry = registry if registry is not None else REGISTRY
        self._kinds = tuple(kinds) if kinds is not None else None
        self.worker_id = worker_id or worker_name("pool")
        self.idle_s = idle_s
        self.on_change = on_change
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._live: dict[str, _Live] = {}
        self._lock = threading.Lock()
        self.completed = 0
        self.failed = 0

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds this pool runs (default: every registered kind)."""
        return self._kinds if self._kinds is not None else tuple(self.registry)

    @kinds.setter
    def kinds(self, names: Sequence[str] | None) -> None:
        self._kinds = tuple(names) if names is not None else None

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def start(self) -> WorkPool:
        self._stop.clear()
        self._threads = [t for t in self._threads if t.is_alive()]
        while len(self._threads) < self.threads:
            t = threading.Thread(target=self._loop, name=f"studio-work-{len(self._threads)}",
                                 daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 1.5) -> None:
        """Stop: interrupt running work, hand its rows back, remove partial files."""
        self._stop.set()
        self._wake.set()
        with self._lock:
            live = list(self._live.values())
        for entry in live:
            self._interrupt(entry)
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            left = list(self._live.values())
            self._live.clear()
        for entry in left:  # threads that did not get out in time: clean up for them
            self._interrupt(entry)
            self._remove_paths(entry)
            try:
                self.queue.release(entry.item.id, self.worker_id)
            except Exception:  # noqa: BLE001 - the store may be gone at exit
                log.debug("could not release %s", entry.item.id, exc_info=True)

    # -- running --------------------------------------------------------------------------
    def run_due(self, now: float | None = None, *, limit: int | None = None) -> int:
        """Claim and run due work in the calling thread until none is due (or ``limit``
        items ran); returns how many ran. For the CLI, tests and benches."""
        ran = 0
        while limit is None or ran < limit:
            item = self.queue.claim(self.worker_id, time.time() if now is None else now,
                                    kinds=self.kinds, per_host=self.per_host,
                                    lease_s=self._lease_for(None))
            if item is None:
                break
            self.run_item(item)
            ran += 1
        return ran

    def _lease_for(self, kind: str | None) -> float:
        spec = self.registry.get(kind or "")
        return spec.lease_s if spec else LEASE_S

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                item = self.queue.claim(self.worker_id, time.time(), kinds=self.kinds,
                                        per_host=self.per_host, lease_s=LEASE_S)
            except Exception:  # noqa: BLE001 - a store hiccup: wait and look again
                log.warning("claiming media work failed", exc_info=True)
                item = None
            if item is None:
                self._wake.wait(self.idle_s)
                self._wake.clear()
                continue
            self.run_item(item)

    def run_item(self, item: WorkItem) -> None:
        """Run one claimed row to its end: done, due again later, or settled failed."""
        spec = self.registry.get(item.kind)
        entry = _Live(item)
        with self._lock:
            self._live[item.id] = entry
        last_write = [0.0]

        def progress(fraction: float | None, detail: str) -> None:
            now = time.monotonic()
            if now - last_write[0] >= 1.0:
                last_write[0] = now
                try:
                    self.queue.renew(item.id, self.worker_id, progress=fraction,
                                     detail=detail[:200],
                                     lease_s=spec.lease_s if spec else LEASE_S)
                except Exception:  # noqa: BLE001 - progress is best effort
                    log.debug("progress write failed", exc_info=True)

        try:
            if spec is None:
                raise WorkFailed(f"this process does not know media work of kind "
                                 f"{item.kind!r}", failure="internal")
            job = self.queue.store.get(item.job_id)
            ctx = WorkContext(item=item, job=job, services=self.services, progress=progress,
                              cancel=self._stop, on_response=entry.responses.append,
                              on_process=entry.processes.append, cleanup=entry.paths.append)
            try:
                spec.run(ctx)
            except BaseException as exc:  # noqa: BLE001 - classified below, never escapes
                if self._stop.is_set():
                    self._remove_paths(entry)
                    self.queue.release(item.id, self.worker_id)
                    return
                if not self._failed(spec, ctx, classify(exc)):
                    self._remove_paths(entry)  # settled: no partial file waits for a resume
                return
            self.queue.finish(item.id, self.worker_id)
            self.completed += 1
            for follower in self.registry.values():
                if follower.follows == item.kind:  # a new result: its follow-ups run again
                    self.queue.reset(item.job_id, follower.name, only_settled=True)
            self._wake.set()
        except KeyError:
            # The generation was deleted: nothing to do for it.
            self.queue.fail(item.id, self.worker_id, failure="internal",
                            error="the generation no longer exists", retry_at=None,
                            attempts=item.attempts)
        except Exception:  # noqa: BLE001 - the store failed mid-way: the lease will expire
            log.exception("media work %s for %s failed to record", item.kind, item.job_id)
        finally:
            with self._lock:
                self._live.pop(item.id, None)
            if self.on_change:
                self.on_change()

    def _failed(self, spec: WorkKind, ctx: WorkContext, failed: WorkFailed) -> bool:
        """Record a failure; returns True when the row will be tried again."""
        item = ctx.item
        attempts = item.attempts + 1
        sentence = str(failed)
        if failed.transient and attempts < spec.max_tries:
            wait = failed.retry_after if failed.retry_after is not None else \
                backoff_s(attempts, spec.backoff_base_s, spec.backoff_cap_s)
            wait = min(max(wait, 1.0), spec.backoff_cap_s)
            log.info("%s of %s failed (try %d of %d), again in %.0f s: %s", item.kind,
                     item.job_id, attempts, spec.max_tries, wait, sentence)
            self.queue.fail(item.id, self.worker_id, failure=failed.failure, error=sentence,
                            retry_at=time.time() + wait, attempts=attempts)
            return True
        if failed.transient:
            sentence = f"{sentence} (gave up after {attempts} tries)"
        log.info("%s of %s settled as failed: %s", item.kind, item.job_id, sentence)
        self.failed += 1
        self.queue.fail(item.id, self.worker_id, failure=failed.failure, error=sentence,
                        retry_at=None, attempts=attempts)
        if spec.settle is not None:
            try:
                spec.settle(ctx, sentence)
            except Exception:  # noqa: BLE001 - recording the sentence must not stop others
                log.exception("recording the failure of %s for %s failed", item.kind,
                              item.job_id)
        return False

    def _interrupt(self, entry: _Live) -> None:
        from studio.tracking.downloads import abort

        for resp in list(entry.responses):
            abort(resp)
        for proc in list(entry.processes):
            try:
                if proc.poll() is None:
                    proc.kill()
            except Exception:  # noqa: BLE001
                pass

    @staticmethod
    def _remove_paths(entry: _Live) -> None:
        from pathlib import Path

        for path in entry.paths:
            try:
                Path(path).unlink(missing_ok=True)
            except OSError:
                pass


__all__ = ["REGISTRY", "WorkStatus", "WorkContext", "WorkFailed", "WorkItem",
           "WorkKind", "WorkPool", "WorkQueue", "backoff_s", "classify", "register",
           "work_table", "worker_name"]
