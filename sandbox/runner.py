"""The sandbox's job workers: run a generation from ``queued`` to a terminal state.

Owns the worker pool (a ``ThreadPoolExecutor`` of ``--workers`` threads) and the life of one
job, which mirrors what oxen.md §3.3 and §7 say the real services do:

    queued ──► processing (started_at) ──► succeeded (result URLs, completed_at, cost)
                                     ├──► failed (error_message / error {type, message})
                                     └──► cancelled (DELETE; the worker stops at the next frame)

Oxen jobs (queue and sync) validate their parameters *when they run* against the vendored
schema (a bad value fails the generation with the vendor's error text and what to send
instead, :mod:`sandbox.validation`), fetch ``input_video``, probe it, process it into
``<namespace>/<repo>/main/<generation_id>/`` and charge ``cost`` = :func:`sandbox.prices.charge`
of what was actually made (the sandbox's own price list, with ``--price-skew``). LTX jobs
were fetched and probed at submit time; they process into ``ltx-results/<id>/`` and are
charged the same way (kept internally: the LTX job object has no cost field, ltx.md §4).

With ``--credits`` a job whose quote was not held when it was accepted (an Oxen input the
sandbox could not probe at enqueue) is admitted against its user's balance once probed; a short
balance fails it with "Insufficient credits: ..." (error type ``insufficient_funds_error``)
before any processing — see :mod:`sandbox.credits`.

Completion of an Oxen generation (succeeded or failed, never cancelled) is published as a
``media_generation_completed`` SSE event (oxen.md §10.1).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from decimal import Decimal
from pathlib import Path
from typing import Any

from sandbox import codec, models, prices, processing, validation
from sandbox.credits import InsufficientCredits, Ledger, usd
from sandbox.events import COMPLETED, EventBroker
from sandbox.files import DataDir, remove_tree, repo_file_url
from sandbox.inputs import InputError, SelfAddresses, resolve_url
from sandbox.signing import ResultLinks
from sandbox.store import API_LTX, Generation, GenerationStore

log = logging.getLogger("sandbox")


class RequestProblems(Exception):
    """A generation's parameters break the vendored schema (``problems``: every one)."""

    def __init__(self, problems: list[validation.Problem]):
        super().__init__(validation.sentence(problems))
        self.problems = problems


class InputLimit(Exception):
    """The clip breaks a documented input limit of the model (the sentence says which)."""


RESULTS_REPO = "generations"
RESULTS_BRANCH = "main"
INTERRUPTED = "sandbox restarted while processing"
STOPPED = "sandbox stopped while processing"
# How long shutdown waits for running jobs to notice cancellation before giving up on them.
SHUTDOWN_GRACE_S = 10.0
# Oxen input_video downloads: no documented limit; be generous but bounded.
OXEN_FETCH_TIMEOUT_S = 300.0

_CLIENT_ERRORS = (InputError, codec.MediaError, RequestProblems, InputLimit)


class JobRunner:
    """Runs generations on a pool of ``workers`` threads. Thread-safe."""

    def __init__(
        self,
        *,
        data: DataDir,
        store: GenerationStore,
        broker: EventBroker,
        own: SelfAddresses,
        workers: int = 2,
        preset: str = codec.DEFAULT_PRESET,
        ledger: Ledger | None = None,
        price_skew: Decimal = Decimal(0),
        links: ResultLinks | None = None,
    ):
        self._data = data
        self._skew = price_skew
        self._links = links
        self._ledger = ledger
        self._store = store
        self._broker = broker
        self._own = own
        self._preset = preset
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, workers), thread_name_prefix="sandbox-job"
        )
        self._lock = threading.Lock()
        self._cancel: dict[str, threading.Event] = {}
        self._futures: dict[str, Future[None]] = {}
        self._closing = False

    def submit(self, generation_id: str) -> Future[None]:
        """Queue a stored ``queued`` row for processing; the future resolves when it ends."""
        with self._lock:
            if self._closing:
                raise RuntimeError("the sandbox is shutting down")
            self._cancel[generation_id] = threading.Event()
            future = self._pool.submit(self._run, generation_id)
            self._futures[generation_id] = future
        future.add_done_callback(lambda _f: self._forget(generation_id))
        return future

    def cancel(self, generation_id: str) -> None:
        """Tell a running job to stop at its next frame (the row was already marked)."""
        with self._lock:
            event = self._cancel.get(generation_id)
        if event is not None:
            event.set()

    def shutdown(self) -> None:
        """Stop: fail every active row ("sandbox stopped while processing"), stop running
        jobs at their next frame, drop queued ones, wait up to ``SHUTDOWN_GRACE_S``."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            events = list(self._cancel.values())
            futures = list(self._futures.values())
        self._store.fail_active(STOPPED, time.time())
        for event in events:
            event.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        wait_futures(futures, timeout=SHUTDOWN_GRACE_S)

    def _forget(self, generation_id: str) -> None:
        with self._lock:
            self._cancel.pop(generation_id, None)
            self._futures.pop(generation_id, None)

    # -- one job -------------------------------------------------------------------------------

    def _run(self, generation_id: str) -> None:
        gen = self._store.get(generation_id)
        if gen is None or not self._store.mark_processing(generation_id, time.time()):
            return  # cancelled (or failed by a shutdown) while it waited in the queue
        with self._lock:
            event = self._cancel.get(generation_id) or threading.Event()
        work = self._data.work_dir(generation_id)
        out_dir: Path | None = None
        try:
            if gen.api == API_LTX:
                out_dir = self._data.ltx_result_dir(generation_id)
                outputs, cost = self._run_ltx(gen, out_dir, event.is_set)
            else:
                out_dir, outputs, cost = self._run_oxen(gen, work, event.is_set)
            if self._store.mark_succeeded(
                generation_id, outputs=outputs, completed_at=time.time(), cost=cost
            ):
                self._announce_success(gen, outputs)
                out_dir = None  # keep the results
        except processing.Cancelled:
            pass  # the row is already cancelled (DELETE) or failed (shutdown)
        except InsufficientCredits as exc:
            self._fail(
                gen,
                f"Insufficient credits: this generation costs {usd(exc.required)} and the "
                f"balance is {usd(exc.balance)}.",
                "insufficient_funds_error",
            )
        except _CLIENT_ERRORS as exc:
            self._fail(gen, str(exc), "invalid_request_error")
        except Exception as exc:  # a sandbox bug must still end the job, with a readable reason
            log.exception("sandbox: generation %s crashed", generation_id)
            self._fail(gen, f"Internal sandbox error ({type(exc).__name__}: {exc}).", "api_error")
        finally:
            remove_tree(work)
            if out_dir is not None:
                remove_tree(out_dir)

    def _run_oxen(
        self, gen: Generation, work: Path, should_cancel: Callable[[], bool]
    ) -> tuple[Path, dict[str, str], str | None]:
        model_id = gen.model_name
        model = models.MODELS[model_id]
        # oxen.md §3.3: parameters are validated when the job runs, not at enqueue.
        problems = validation.problems(model_id, gen.params)
        if problems:
            raise RequestProblems(problems)
        params = models.with_defaults(model_id, gen.params)
        source = resolve_url(
            str(params[model.source_field]),
            field=model.source_field,
            data=self._data,
            own=self._own,
            dest_dir=work,
            timeout_s=OXEN_FETCH_TIMEOUT_S,
        )
        if should_cancel():
            raise processing.Cancelled()
        clip = codec.probe(source)
        self._admit(gen, clip, params)

        namespace = gen.target_namespace or gen.username
        repo = gen.target_repo or RESULTS_REPO
        rel_dir = "/".join(
            p for p in ((gen.target_directory or "").strip("/"), gen.generation_id) if p
        )
        out_dir = self._data.repo_file(namespace, repo, RESULTS_BRANCH, rel_dir)
        try:
            output = processing.process(
                model_id, params, source, out_dir, preset=self._preset, should_cancel=should_cancel
            )
        except BaseException:
            remove_tree(out_dir)
            raise
        outputs = {
            label: repo_file_url(
                gen.base_url, namespace, repo, RESULTS_BRANCH, f"{rel_dir}/{path.name}"
            )
            for label, path in output.files.items()
        }
        # Writing the result is a commit on the real hub; advance the branch head likewise.
        self._store.swap_head(namespace, repo, RESULTS_BRANCH, uuid.uuid4().hex)
        return out_dir, outputs, self._charge(model_id, clip, params, output)

    def _run_ltx(
        self, gen: Generation, out_dir: Path, should_cancel: Callable[[], bool]
    ) -> tuple[dict[str, str], str | None]:
        model_id = gen.model_name
        params = models.with_defaults(model_id, gen.params)
        if not gen.source_path:
            raise InputError("the job has no resolved input file")
        source = Path(gen.source_path)
        clip = codec.probe(source)
        self._admit(gen, clip, params)
        output = processing.process(
            model_id, params, source, out_dir, preset=self._preset, should_cancel=should_cancel
        )
        base = gen.base_url.rstrip("/")
        outputs = {
            label: f"{base}/_sandbox/ltx-results/{gen.generation_id}/{path.name}"
            for label, path in output.files.items()
        }
        return outputs, self._charge(model_id, clip, params, output)

    def _admit(self, gen: Generation, clip: Any, params: dict[str, Any]) -> None:
        """Hold the job's quote unless it was held at submit; raises InsufficientCredits."""
        ledger = self._ledger
        if ledger is None or not ledger.enabled or ledger.held(gen.generation_id):
            return
        amount = estimate(gen.model_name, clip, params, skew=self._skew)
        if amount is not None:  # an unpriceable run is not charged either
            ledger.admit(gen.user_id, {gen.generation_id: amount})

    def _charge(self, model_id: str, clip: Any, params: dict[str, Any],
                output: models.Geometry) -> str | None:
        """The generation's cost in USD as a plain decimal string (oxen.md §6.2), billed on
        the output actually made (:func:`sandbox.prices.charge`)."""
        try:
            charged = prices.charge(model_id, input_size=(clip.width, clip.height),
                                    input_seconds=clip.duration_s, output=output,
                                    params=params, skew=self._skew)
        except Exception:  # an unpriceable run still succeeded; leave cost null, say why in the log
            log.exception("sandbox: could not price a %s generation", model_id)
            return None
        return format(charged.amount_usd, "f")

    def _sign(self, url: str | None) -> str | None:
        """``url`` as a signed, expiring link under ``--result-ttl`` (else unchanged)."""
        return self._links.sign(url) if self._links is not None else url

    def _fail(self, gen: Generation, message: str, error_type: str) -> None:
        if (
            self._store.mark_failed(
                gen.generation_id, message=message, error_type=error_type, completed_at=time.time()
            )
            and gen.api != API_LTX
        ):
            self._broker.publish(
                gen.user_id,
                COMPLETED,
                {
                    "generation_id": gen.generation_id,
                    "status": "failed",
                    "media_type": gen.media_type,
                    "error": message,
                },
            )

    def _announce_success(self, gen: Generation, outputs: dict[str, str]) -> None:
        if gen.api == API_LTX:
            return  # SSE is an Oxen feature; LTX clients poll (ltx.md §4.3)
        self._broker.publish(
            gen.user_id,
            COMPLETED,
            {
                "generation_id": gen.generation_id,
                "status": "succeeded",
                "media_type": gen.media_type,
                "model": gen.model_name,
                "url": self._sign(primary_url(outputs)),
            },
        )


def estimate(model_id: str, clip: Any, params: dict[str, Any], *,
             skew: Decimal = Decimal(0)) -> Decimal | None:
    """What a generation of ``model_id`` on ``clip`` (a :class:`sandbox.codec.ClipInfo`) with
    ``params`` will be charged, in USD, from the geometry the model will make; ``None`` when
    it cannot be priced (the run will then not be charged either)."""
    try:
        full = models.with_defaults(model_id, params)
        geometry = models.output_geometry(model_id, width=clip.width, height=clip.height,
                                          fps=clip.fps, frame_count=clip.frame_count,
                                          params=full)
        return prices.charge(model_id, input_size=(clip.width, clip.height),
                             input_seconds=clip.duration_s, output=geometry, params=full,
                             skew=skew).amount_usd
    except Exception:
        return None


def primary_url(outputs: dict[str, str]) -> str | None:
    """The URL a client shows first: the video, else the EXR ZIP."""
    return outputs.get("video") or outputs.get("exr_frames") or next(iter(outputs.values()), None)
