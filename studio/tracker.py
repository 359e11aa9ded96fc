"""Keeps submitted generations moving: polling with backoff, status mapping, result download.

Owns the pure pieces (poll schedule, provider status → our status, the transition applied
to a job when a provider answers) and one :class:`Tracker` per process: a background
thread that polls due jobs and queues the media work of finished ones (downloads, previews:
:mod:`studio.tracking`), which the work pool runs beside it so a slow download never holds
up a poll. Browser sessions never poll providers themselves; they read the store, so many
open tabs cost no extra requests.

Provider answers are untrusted: error text is scrubbed of keys before it is stored
(:mod:`studio.redact`), and an answer the tracker cannot use (too large, too slow, not JSON,
an unknown status, a refused key) puts a sentence on that generation instead of stopping
anything. After :data:`STALL_AFTER` such answers in a row the generation is polled only
every :data:`SSE_SAFETY_POLL_S` seconds and counts as needing a person
(:func:`needs_person`), so ``track --until-done`` ends.

Poll schedule: 5 s after submit, growing ×1.5 per poll up to 30 s — a 10-minute generation
costs about 25 status requests (oxen.md §5 suggests 10–30 s for video; ltx.md §4.3 5 s).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from studio.errors import (
    ApiError,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    StudioError,
    UnreadableAnswerError,
)
from studio.jobs import Job, JobStore, utcnow
from studio.redact import remove_secrets, scrub
from studio.store.types import ChargeSource, Status, reported_charge_source

log = logging.getLogger(__name__)

LTX_RETENTION_S = 24 * 3600  # ltx.md §4.2: jobs and results are kept 24 h after they finish
RECONCILE_EVERY_S = 30.0
RECONCILE_WINDOW_S = 15 * 60  # how far after the submit a matching enqueue may be
CLOCK_SLACK_S = 5.0  # provider vs local clock
SSE_SAFETY_POLL_S = 600.0
LEASE_S = 60.0  # a poll holds its job this long at most (a crashed poller's lease expires)
STALE_SUBMIT_S = 120.0  # a submit whose process has not finished it by then died mid-send
STALE_SYNC_S = 35 * 60.0  # a sync generate outlives its 30-min read timeout  # with a healthy SSE stream, poll only as a safety net

STALL_AFTER = 3  # unusable status answers in a row before a generation needs a person

BASE_DELAY_S = 5.0
MAX_DELAY_S = 30.0
GROWTH = 1.5

OXEN_STATUS_MAP = {
    "queued": Status.QUEUED,
    "processing": Status.PROCESSING,
    "succeeded": Status.SUCCEEDED,
    "failed": Status.FAILED,
    "cancelled": Status.CANCELLED,
}
LTX_STATUS_MAP = {
    "pending": Status.QUEUED,
    "processing": Status.PROCESSING,
    "completed": Status.SUCCEEDED,
    "failed": Status.FAILED,
}


def next_poll_delay(poll_count: int) -> float:
    """Seconds to wait before poll number ``poll_count + 1``: 5 s × 1.5ⁿ, capped at 30 s."""
    return min(MAX_DELAY_S, BASE_DELAY_S * GROWTH ** max(0, poll_count))


def polls_for(duration_s: float) -> int:
    """How many status requests this schedule sends for a job lasting ``duration_s`` seconds."""
    t, n = 0.0, 0
    while t < duration_s:
        t += next_poll_delay(n)
        n += 1
    return n


def needs_person(job: Job) -> bool:
    """True when the provider's answers about ``job`` have been unusable
    :data:`STALL_AFTER` times in a row: it is still polled, slowly, but nothing will move
    without a person (a key to fix, a provider to ask)."""
    return job.poll_failures >= STALL_AFTER


def _counts_against(exc: StudioError) -> bool:
    """An error that will not go away by itself: an answer that could not be read, a
    refused key, a refused request. Network trouble, 5xx and 429 pass with time."""
    if isinstance(exc, NetworkError | ServerError | RateLimitedError):
        return False
    return isinstance(exc, UnreadableAnswerError | ApiError)


def map_status(provider: str, remote_status: str) -> Status:
    """A provider status (Oxen: queued/processing/succeeded/failed/cancelled; LTX:
    pending/processing/completed/failed) as ours. Raises ``ValueError`` when unknown."""
    table = OXEN_STATUS_MAP if provider == "oxen" else LTX_STATUS_MAP
    try:
        return table[remote_status]
    except KeyError:
        raise ValueError(f"unknown {provider} status {remote_status!r}") from None


@dataclass(frozen=True)
class RemoteState:
    """What a provider said about one generation, already in our terms."""

    status: str
    started_at: datetime | None = None
    completed_at: datetime | None = None
    error: str | None = None
    artifacts: dict[str, str] = field(default_factory=dict)
    charge_usd: str | None = None


def transition(job: Job, remote: RemoteState, now: float) -> dict[str, Any]:
    """The changes to write to ``job`` after a poll answered ``remote`` at Unix time ``now``.

    Pure. Terminal jobs are never moved back; the next poll is scheduled with backoff.
    """
    changes: dict[str, Any] = {"poll_count": job.poll_count + 1}
    if job.is_terminal:
        return changes
    changes["status"] = remote.status
    if remote.started_at and not job.started_at:
        changes["started_at"] = remote.started_at
    if remote.status in (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED):
        changes["completed_at"] = remote.completed_at or utcnow()
        if remote.status == Status.FAILED:
            changes["error"] = remote.error or "The provider reported a failure without a reason."
        if remote.artifacts:
            changes["result_urls"] = dict(remote.artifacts)
    else:
        changes["next_poll_at"] = now + next_poll_delay(job.poll_count + 1)
    if remote.charge_usd is not None:
        changes["charge_usd"] = remote.charge_usd
        changes["charge_source"] = reported_charge_source(job.target)
    return changes


def fetch_remote(client: Any, job: Job) -> RemoteState:
    """Ask the provider about ``job`` (one GET) and return it in our terms."""
    if job.provider == "oxen":
        gen = client.get_generation(job.remote_id)
        return RemoteState(
            status=map_status("oxen", gen.status),
            started_at=gen.started_at,
            completed_at=gen.completed_at,
            error=gen.error_message,
            artifacts=gen.artifacts,
            charge_usd=str(gen.cost) if gen.cost is not None else None,
        )
    ltx = client.get_hdr(job.remote_id)
    error = f"{ltx.error[0]}: {ltx.error[1]}" if ltx.error else None
    return RemoteState(
        status=map_status("ltx", ltx.status),
        completed_at=ltx.completed_at,
        error=error,
        artifacts=ltx.artifacts,
    )


def find_candidates(client: Any, job: Job, taken: set[str]) -> list[Any]:
    """Oxen generations that could be the lost answer of ``job``'s enqueue, oldest first:
    same model and ``input_video``, not already adopted by another row, and enqueued while
    this row's request was in the air — after the row was written (it is written before
    the POST leaves) and before it was marked ``unknown`` (``updated_at``), give or take
    ``CLOCK_SLACK_S`` for clock skew. A generation enqueued later belongs to a later submit."""
    source_url = (job.source or {}).get("url")
    lo = job.created_at.timestamp() - CLOCK_SLACK_S
    hi = min(job.updated_at.timestamp(), job.created_at.timestamp() + RECONCILE_WINDOW_S) \
        + CLOCK_SLACK_S
    seen: dict[str, Any] = {}
    rows = client.list_queue(model=job.model_id)
    rows += client.list_generations(model=job.model_id, page_size=100)[0]
    for gen in rows:
        if gen.generation_id in taken or gen.generation_id in seen:
            continue
        if gen.model_name != job.model_id or gen.params.get("input_video") != source_url:
            continue
        if gen.enqueued_at is None or not lo <= gen.enqueued_at.timestamp() <= hi:
            continue
        seen[gen.generation_id] = gen
    return sorted(seen.values(), key=lambda g: g.enqueued_at)


ClientFactory = Callable[[Job], Any]


@dataclass
class Activity:
    """What the tracker is doing for one job right now (for progress bars in the UI)."""

    phase: str  # "downloading", "making preview", "measuring MaxCLL/MaxFALL"
    fraction: float | None = None
    detail: str = ""


ANALYSIS_PHASE = "measuring MaxCLL/MaxFALL"
_PHASES = {"download": "downloading", "preview": "making preview",
           "hdr_analysis": ANALYSIS_PHASE}  # what Activity.phase reads


class Tracker:
    """One per process: polls due jobs and queues the media work of finished ones.

    ``client_for(job)`` returns the provider client for the job's provider and target
    (shared and reused; see :class:`studio.providers.http.HttpClient`). ``results_dir`` holds
    downloads as ``<results_dir>/<job id>/<label><ext>``. ``media`` is the work pool that
    downloads and previews (:class:`studio.tracking.work.WorkPool`); without one, the tracker
    builds an inline pool (no threads) that :meth:`download_results` drives. ``secrets``
    are scrubbed from every provider string before it is stored.
    """

    def __init__(
        self,
        store: JobStore,
        client_for: ClientFactory,
        results_dir: Path,
        *,
        postprocess: Any = None,  # unused; previews are media work (studio.tracking.results)
        charge_for: Callable[[Job], str | None] | None = None,
        sse_healthy: Callable[[Job], bool] | None = None,
        media: Any = None,
        secrets: tuple[Any, ...] = (),
    ):
        self.store = store
        self.client_for = client_for
        self.results_dir = results_dir
        self.charge_for = charge_for
        self.sse_healthy = sse_healthy
        self.secrets = secrets
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._reconciled_at: dict[str, float] = {}
        self.reconcile_attempts: dict[str, int] = {}
        self.extra_passes: list[Callable[[], Any]] = []  # e.g. sending waiting LTX jobs
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self.media = media if media is not None else self._inline_pool()

    def _inline_pool(self) -> Any:
        from studio import media as media_module
        from studio.tracking.downloads import DownloadLimits
        from studio.tracking.results import MediaServices, default_registry
        from studio.tracking.work import WorkPool, WorkQueue

        services = MediaServices(
            self.store, self.client_for, self.results_dir, self.results_dir.parent / "previews",
            DownloadLimits(), media_memory_mb=None, scrub=self.scrub,
            refresh=self.refresh_links, probe=media_module.probe)
        return WorkPool(WorkQueue(self.store), services, threads=0,
                        registry=default_registry(), worker_id=self.worker_id)

    def scrub(self, text: str) -> str:
        """Provider text without any configured key or token-shaped string."""
        return scrub(text, self.secrets)

    @property
    def activity(self) -> dict[str, Activity]:
        """What media work is running now, by job id (from the work table, so it shows
        work done by any process sharing the store)."""
        out: dict[str, Activity] = {}
        # Several rows of one generation may run at once (a preview beside its HDR
        # analysis): the one a result's player waits for is shown — download, then preview.
        order = {"download": 0, "preview": 1}
        for item in sorted(self.media.queue.running(), key=lambda i: -order.get(i.kind, 2)):
            phase = _PHASES.get(item.kind, item.kind.replace("_", " "))
            out[item.job_id] = Activity(phase, item.progress, item.detail or "")
        return out

    def refresh_links(self, job: Job) -> dict[str, str]:
        """Fresh result links for ``job`` from a new status read (signed links expire);
        any configured key in them is removed."""
        artifacts = fetch_remote(self.client_for(job), job).artifacts
        return {k: remove_secrets(v, self.secrets) for k, v in artifacts.items()}

    # -- one pass -------------------------------------------------------------------------
    def poll_due(self, now: float | None = None) -> int:
        """Poll every due job once; returns how many were polled.

        Jobs are leased first (``JobStore.claim_due``), so several processes sharing one
        store — app replicas, a CLI tracker — never poll the same generation twice.
        """
        now = time.time() if now is None else now
        polled = 0
        while jobs := self.store.claim_due(self.worker_id, now, lease_s=LEASE_S, limit=50):
            for job in jobs:
                try:
                    self.poll_job(job, now)
                finally:
                    self.store.release(job.id, self.worker_id)
                polled += 1
        return polled

    def poll_job(self, job: Job, now: float) -> Job:
        """One status request for ``job`` and the resulting store update.

        A 404 is not taken as "deleted": an Oxen id unknown to the queue route is looked up in
        the history (``GET /api/ai/generations/{id}``, oxen.md §4.3 — older builds dropped
        finished rows from the queue); an LTX job past its 24 h retention becomes ``expired``
        (ltx.md §4.2).
        """
        client = self.client_for(job)
        try:
            try:
                remote = fetch_remote(client, job)
            except NotFoundError:
                found = self._after_404(client, job)  # 404 here too: gone; other errors: retry
                if found is None:
                    return self._gone(job)
                remote = found
        except NotFoundError:
            return self._gone(job)
        except StudioError as exc:
            return self._poll_failed(job, exc, now)
        if remote.error or remote.artifacts:
            # A key never reaches the store, even inside a link the provider made up.
            remote = RemoteState(
                remote.status, remote.started_at, remote.completed_at,
                self.scrub(remote.error) if remote.error else None,
                {k: remove_secrets(v, self.secrets) for k, v in remote.artifacts.items()},
                remote.charge_usd)
        changes = transition(job, remote, now)
        if job.poll_failures:
            changes["poll_failures"] = 0
            if job.error and "error" not in changes:
                changes["error"] = None  # the last unusable answer's sentence no longer holds
        if self.sse_healthy is not None and job.provider == "oxen" and "next_poll_at" in changes \
                and self.sse_healthy(job):
            # Completion arrives by SSE; polling is only a safety net (and finds cancellations).
            changes["next_poll_at"] = now + SSE_SAFETY_POLL_S
        if changes.get("status") == Status.SUCCEEDED and "charge_usd" not in changes:
            charge = self._charge(job)
            if charge is not None:
                changes["charge_usd"] = charge
                changes["charge_source"] = (ChargeSource.COMPUTED if job.provider == "ltx"
                                            else reported_charge_source(job.target))
        updated = self.store.update(job.id, **changes)
        if updated.status == Status.SUCCEEDED and job.status != Status.SUCCEEDED and updated.result_urls:
            self.queue_media()
        return updated

    def _poll_failed(self, job: Job, exc: StudioError, now: float) -> Job:
        """A status read that failed: keep the job and back off. Network trouble just waits;
        an answer that cannot be used (too large, not JSON, unknown status, a refused key)
        also goes on the generation as a sentence, and after :data:`STALL_AFTER` in a row
        the generation is polled only every :data:`SSE_SAFETY_POLL_S` s."""
        sentence = self.scrub(str(exc))
        self.last_error = sentence
        changes: dict[str, Any] = {"poll_count": job.poll_count + 1,
                                   "next_poll_at": now + next_poll_delay(job.poll_count + 1)}
        if _counts_against(exc):
            failures = job.poll_failures + 1
            changes["poll_failures"] = failures
            if failures >= STALL_AFTER:
                changes["next_poll_at"] = now + SSE_SAFETY_POLL_S
                sentence += (f" This happened {failures} times in a row, so the app now checks "
                             f"only every {SSE_SAFETY_POLL_S / 60:.0f} min; the generation's "
                             "record is kept.")
            changes["error"] = sentence
            log.warning("status of %s unusable (%d in a row): %s", job.id, failures, sentence)
        return self.store.update(job.id, **changes)

    def _after_404(self, client: Any, job: Job) -> RemoteState | None:
        """The history row after a 404 on the queue route (Oxen); ``None`` for LTX. Raises
        ``NotFoundError`` when the history does not know it either, and any other
        ``StudioError`` for a transient failure (the caller retries later)."""
        if job.provider != "oxen":
            return None
        gen = client.generation_history(job.remote_id)
        return RemoteState(
            status=map_status("oxen", gen.status), started_at=gen.started_at,
            completed_at=gen.completed_at, error=gen.error_message, artifacts=gen.artifacts,
            charge_usd=str(gen.cost) if gen.cost is not None else None)

    def _gone(self, job: Job) -> Job:
        age = (utcnow() - (job.completed_at or job.submitted_at or job.created_at)).total_seconds()
        if job.provider == "ltx" and age >= LTX_RETENTION_S:
            return self.store.update(
                job.id, status=Status.EXPIRED, completed_at=job.completed_at or utcnow(),
                error="LTX keeps jobs and their results for 24 h after they finish; this one "
                      "is past that, so its outcome can no longer be read.")
        return self.store.update(
            job.id, status=Status.FAILED, completed_at=utcnow(),
            error=f"{'Oxen' if job.provider == 'oxen' else 'LTX'} does not know generation "
                  f"{job.remote_id} (404 on status and history). Its record is kept here.")

    # -- unknown outcomes -----------------------------------------------------------------
    def reconcile_unknown(self, now: float | None = None) -> int:
        """Try to find the generations of Oxen rows whose submit outcome is unknown.

        Oxen has no idempotency key, so a lost answer may or may not have created
        generations. Matching (model, input URL, enqueue time within the window) against
        ``GET /api/ai/queue`` and ``GET /api/ai/generations`` adopts the ids; nothing is ever
        resubmitted here. LTX has no list endpoint: those rows stay ``unknown`` for the user
        to resolve. Returns how many rows were matched.
        """
        now = time.time() if now is None else now
        unknown = [j for j in self.store.list(statuses=[Status.UNKNOWN])
                   if j.provider == "oxen" and j.remote_id is None
                   and self._reconciled_at.get(j.id, 0) + RECONCILE_EVERY_S <= now]
        if not unknown:
            return 0
        everything = self.store.list()
        taken = {j.remote_id for j in everything if j.remote_id}
        # A generation appears on Oxen a moment before its own row records the id: while
        # another row with the same model and input is mid-submit, wait for it.
        in_air = {(j.model_id, (j.source or {}).get("url")) for j in everything
                  if j.status == Status.SUBMITTING}
        unknown = [j for j in unknown if (j.model_id, (j.source or {}).get("url")) not in in_air]
        matched = 0
        by_batch: dict[str, list[Job]] = {}
        for job in unknown:
            by_batch.setdefault(job.batch_id or job.id, []).append(job)
        for jobs in by_batch.values():
            first = jobs[0]
            self._reconciled_at.update({j.id: now for j in jobs})
            for j in jobs:
                self.reconcile_attempts[j.id] = self.reconcile_attempts.get(j.id, 0) + 1
            try:
                candidates = find_candidates(self.client_for(first), first, taken)
            except StudioError as exc:
                self.last_error = str(exc)
                continue
            for job, gen in zip(sorted(jobs, key=lambda j: j.id), candidates, strict=False):
                taken.add(gen.generation_id)
                matched += 1
                # Adopt the id only; the next poll applies the full state (result URLs,
                # charge, timestamps) through the normal transition.
                self.store.update(
                    job.id, remote_id=gen.generation_id, status=Status.QUEUED,
                    submitted_at=gen.enqueued_at, next_poll_at=0.0,
                    error="The submit answer was lost, but Oxen has this generation: it was "
                          "matched by model, input and time, not resubmitted.")
        return matched

    def _charge(self, job: Job) -> str | None:
        """The actual charge of a finished job, in USD as a decimal string, or ``None``.

        Oxen: the ``cost`` of ``GET /api/ai/generations/{id}`` (oxen.md §6.3; the queue row
        has none); ``None`` if it is not known yet. LTX reports no cost: computed from the
        input-tier rule by ``charge_for``.
        """
        if job.provider == "ltx":
            return self.charge_for(job) if self.charge_for else None
        try:
            cost = self.client_for(job).generation_history(job.remote_id).cost
        except StudioError:
            return None
        return str(cost) if cost is not None else None

    def queue_media(self) -> int:
        """Queue a download for every finished generation that needs one and wake the work
        pool; returns how many were queued."""
        from studio.tracking.results import queue_downloads

        added = queue_downloads(self.media.queue)
        if added:
            self.media.wake()
        return added

    def download_results(self) -> int:
        """Queue and run, in this thread, every due download and preview; returns how many
        work items ran. (The app and ``track`` run them in the work pool's threads.)"""
        self.queue_media()
        return self.media.run_due()

    def sweep_interrupted(self, now: float | None = None) -> int:
        """Rows whose sending process died mid-request become ``unknown`` with the facts.

        ``submitting`` rows untouched for ``STALE_SUBMIT_S`` and sync ``processing`` rows
        (no generation id) untouched for ``STALE_SYNC_S`` may or may not have reached the
        provider; they are never resent here (Oxen rows are then reconciled).
        """
        now = time.time() if now is None else now
        swept = 0
        for job in self.store.list(statuses=[Status.SUBMITTING, Status.PROCESSING]):
            age = now - job.updated_at.timestamp()
            stale = (job.status == Status.SUBMITTING and age > STALE_SUBMIT_S) or (
                job.status == Status.PROCESSING and job.mode == "sync" and not job.remote_id
                and age > STALE_SYNC_S)
            if stale:
                swept += 1
                self.store.update(job.id, status=Status.UNKNOWN, error=(
                    "The app stopped while this request was being sent, so it may or may not "
                    "have reached the provider. It was not resent: check the provider's "
                    "history before submitting again."))
        return swept

    def run_pass(self) -> None:
        """One full pass: interrupted sends, waiting jobs, polls, reconciliation, and the
        media work of finished generations queued for the work pool."""
        self.sweep_interrupted()
        for extra in self.extra_passes:
            extra()
        self.poll_due()
        self.reconcile_unknown()
        self.queue_media()

    # -- background thread ----------------------------------------------------------------
    def wake(self) -> None:
        """Run a pass now (e.g. right after a submit)."""
        self._wake.set()

    def start(self) -> Tracker:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="studio-tracker", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the polling thread (waits up to ``timeout`` s for the pass in progress)."""
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return bool(self._thread and self._thread.is_alive())

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_pass()
            except Exception:  # never let the tracker die; the next pass retries
                self.last_error = ("A tracker pass hit an unexpected problem; it is retried "
                                   "every second (the server log has the details).")
                log.exception("tracker pass failed")
            self._wake.wait(timeout=1.0)
            self._wake.clear()
