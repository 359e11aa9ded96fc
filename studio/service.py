"""The core façade: from a source clip and widget values to tracked, paid generations.

Owns the submit path and its invariants:
- a request is validated against its model unit's schema and the clip against the unit's
  limits before any byte is sent;
- every generation row is in the store (status ``submitting``) *before* the paid request is
  sent, and gets its provider id the moment the answer arrives;
- a paid request is sent once; when its outcome is unknown the row becomes ``unknown`` with
  the facts, never resent silently;
- before anything is uploaded or stored, the request's quote (× generations, summed over a
  batch) is checked against the team's and the owner's budget (:mod:`studio.budget`) and,
  above ``Settings.confirm_above_usd``, needs ``confirmed=True``; the budget is checked
  again where the rows are stored, in one exclusive transaction
  (:meth:`studio.store.JobStore.exclusive`), so concurrent submits — from any replica
  sharing the store — never together cross a cap;
- local clips reach the provider through its own upload path (Oxen repo file PUT, LTX
  ``/v1/upload``), cached by content hash so the same clip is uploaded once.

Used by the Streamlit pages and the command line alike; never imports Streamlit.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections import ChainMap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from studio import budget, media, models, pricing, ratebook
from studio.budget import BudgetConfig, BudgetStatus, BudgetStore, BudgetVerdict
from studio.checksums import file_sha256
from studio.config import Settings
from studio.errors import (
    ApiError,
    AuthError,
    BudgetExceededError,
    ConfirmationRequired,
    LimitError,
    MediaError,
    NetworkError,
    ParamError,
    PaymentRequiredError,
    Problem,
    RateLimitedError,
    ServerError,
    StudioError,
    shown_value,
)
from studio.events import CompletionStream, mark_all_oxen_due, mark_due
from studio.jobs import Job, JobStore, utcnow
from studio.money import cents
from studio.providers.ltx import LtxClient
from studio.providers.oxen import OxenClient, require_namespace
from studio.ratebook import RateBook
from studio.redact import remove_secrets, scrub
from studio.store import Status
from studio.tracker import Tracker, next_poll_delay
from studio.tracking.downloads import DownloadError, check_result, link_host, result_name
from studio.tracking.results import (
    DOWNLOAD,
    DOWNLOAD_FAILED,
    PREVIEW,
    MediaServices,
    default_registry,
    retry_download,
)
from studio.tracking.work import REGISTRY as WORK_KINDS
from studio.tracking.work import WorkItem, WorkPool, WorkQueue, worker_name

Progress = Callable[[str, float | None], None]  # (what is happening, fraction 0..1 or None)

SANDBOX_NAMESPACE = "studio"
LTX_MAX_IN_FLIGHT = 2  # concurrent generations per LTX account by default (ltx.md §6)


@dataclass(frozen=True)
class Source:
    """Where the clip comes from: ``kind`` is ``"sample"``, ``"upload"`` or ``"url"``.

    Local kinds carry ``path``; ``"url"`` carries ``url``. ``label`` is what the UI shows.
    """

    kind: str
    label: str
    path: Path | None = None
    url: str | None = None

    @property
    def probe_target(self) -> str:
        return str(self.path) if self.path else str(self.url)

    def to_json(self, sha256: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "label": self.label}
        if self.path:
            out["path"] = str(self.path)
        if self.url:
            out["url"] = self.url
        if sha256:
            out["sha256"] = sha256
        return out


@dataclass(frozen=True)
class Prepared:
    """A request ready for review: probed clip, quote, problems (empty = can submit).

    ``problems`` are structured (:class:`~studio.errors.Problem`: field, code, message;
    ``str()`` is the sentence); ``notes`` are sentences about what the request will do."""

    model_id: str
    source: Source
    params: dict[str, Any]
    clip: media.ClipInfo
    quote: pricing.Quote | None
    problems: tuple[Problem, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def amount_usd(self) -> Decimal | None:
        """The quote of one generation in USD, ``None`` when unpriced."""
        return self.quote.amount_usd if self.quote else None


PlanItem = tuple[Prepared, int]  # (request, num_generations) — one row of a batch


@dataclass(frozen=True)
class RowOutcome:
    """What happened to one row of :meth:`Studio.submit_plan`.

    ``row`` is 1-based, as in the batch's problem sentences. ``jobs`` are the rows stored for
    it: queued/waiting on success, ``failed`` when the provider refused the request,
    ``unknown`` when its answer was lost. ``error`` is a sentence whenever the row did not go
    through. ``sent`` is False when nothing was stored or sent for the row: its upload
    failed, the budget re-check refused it, or the batch had stopped (an auth, payment or
    budget error on an earlier row).
    """

    row: int
    model_id: str
    num_generations: int
    jobs: tuple[Job, ...] = ()
    error: str | None = None
    sent: bool = True

    @property
    def ok(self) -> bool:
        return self.error is None


UPLOAD_ATTEMPTS = 3
# Errors after which the other rows of a batch are not sent: every row would hit them too.
_BATCH_STOPPERS = (AuthError, PaymentRequiredError, BudgetExceededError)


def _retry_unpaid(send: Callable[[], Any], attempts: int = UPLOAD_ATTEMPTS) -> Any:
    """Run an *unpaid, idempotent* step (an upload: same bytes to the same path, or a new
    upload slot) up to ``attempts`` times on rate limits, server errors and network errors,
    backing off 1 s, 2 s. Paid requests never come through here."""
    for attempt in range(1, attempts + 1):
        try:
            return send()
        except (RateLimitedError, ServerError, NetworkError) as exc:
            if attempt == attempts:
                raise
            wait = getattr(exc, "retry_after", None) or float(2 ** (attempt - 1))
            time.sleep(min(wait, 10.0))
    raise AssertionError("unreachable")


class Studio:
    """Settings + store + clients, with the operations the UI and CLI need.

    ``sandbox_url`` is the base URL of the local sandbox (when some provider runs without a
    key). One client per provider, built on first use and reused (one HTTP session each);
    :meth:`close` stops the background threads and closes the clients. The media work pool
    (``Settings.media_workers`` threads; 0 = leave downloads and previews to ``python -m
    studio worker`` processes) runs beside the tracker.
    """

    def __init__(self, settings: Settings, store: JobStore, *, sandbox_url: str | None = None):
        self.settings = settings
        self.store = store
        self.sandbox_url = sandbox_url
        self._clients: dict[str, OxenClient | LtxClient] = {}
        self._clients_lock = threading.Lock()
        self.closed = False
        self.tracker = Tracker(
            store, self.client_for_job, settings.data_dir / "results",
            charge_for=self._computed_charge, secrets=settings.secrets(),
            media=self._media_pool(settings, store),
        )
        self.tracker.extra_passes.append(self.submit_waiting)
        self.events = CompletionStream(self.oxen, self._on_completion, self._on_connect)
        self.tracker.sse_healthy = lambda job: job.provider == "oxen" and self.events.healthy

    def _media_pool(self, settings: Settings, store: JobStore) -> WorkPool:
        services = MediaServices(
            store, self.client_for_job, settings.data_dir / "results",
            settings.data_dir / "previews", settings.download_limits(),
            media_memory_mb=settings.media_memory_mb or None,
            scrub=lambda text: scrub(text, settings.secrets()),
            refresh=lambda job: self.tracker.refresh_links(job), probe=media.probe,
            analysis_dir=settings.data_dir / "analysis")
        # Kinds registered process-wide (e.g. an HDR analysis) show through; download and
        # preview are built from these settings.
        registry = ChainMap(default_registry(download_tries=settings.download_tries,
                                             download_backoff_s=settings.download_backoff_s),
                            WORK_KINDS)
        return WorkPool(WorkQueue(store), services, threads=settings.media_workers,
                        per_host=settings.downloads_per_host, registry=registry,
                        worker_id=worker_name("app"))

    @property
    def media_work(self) -> WorkPool:
        """The pool that downloads results and makes previews (see :mod:`studio.tracking`)."""
        return self.tracker.media

    def start_background(self) -> Studio:
        """Start the tracker thread, the Oxen completion stream and the media work pool
        (one each per process)."""
        self.tracker.start()
        self.events.start()
        self.media_work.start()
        return self

    def close(self, timeout: float = 2.0) -> None:
        """Stop the tracker, the completion stream and the media work pool (running downloads
        are interrupted, their partial files removed and their work handed back), then close
        the provider clients. Idempotent; the store stays open (its owner closes it)."""
        if self.closed:
            return
        self.closed = True
        self.events.stop()
        self.tracker._stop.set()
        self.media_work.stop(timeout=timeout * 0.75)
        self.tracker.stop(timeout=timeout * 0.25)
        with self._clients_lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def __enter__(self) -> Studio:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _on_completion(self, generation_id: str, payload: dict[str, Any]) -> None:
        if mark_due(self.store, generation_id):
            self.tracker.wake()

    def _on_connect(self) -> None:
        if mark_all_oxen_due(self.store):
            self.tracker.wake()

    # -- clients --------------------------------------------------------------------------
    def target(self, provider: str) -> str:
        return "live" if self.settings.is_live(provider) else "sandbox"

    def base_url(self, provider: str) -> str:
        return self.settings.base_url_for(provider, self.sandbox_url)

    def client(self, provider: str) -> OxenClient | LtxClient:
        """The client for ``provider`` against its current target: built once, then reused
        (one HTTP session, shared by the tracker, the media pool and the pages)."""
        with self._clients_lock:
            client = self._clients.get(provider)
            if client is None or client.closed:
                cls = OxenClient if provider == "oxen" else LtxClient
                client = cls(self.base_url(provider), self.settings.key_for(provider),
                             secrets=self.settings.secrets())
                self._clients[provider] = client
            return client

    def oxen(self) -> OxenClient:
        client = self.client("oxen")
        assert isinstance(client, OxenClient)
        return client

    def ltx(self) -> LtxClient:
        client = self.client("ltx")
        assert isinstance(client, LtxClient)
        return client

    def client_for_job(self, job: Job) -> Any:
        return self.client(job.provider)

    # -- review before submit -------------------------------------------------------------
    def prepare(
        self,
        model_id: str,
        source: Source,
        params: Mapping[str, Any],
        *,
        clip: media.ClipInfo | None = None,
        live_pricing: Mapping[str, Any] | None = None,
        book: RateBook | None = None,
        unit: models.ModelUnit | None = None,
    ) -> Prepared:
        """Probe (unless ``clip`` is given), validate and quote. Never sends a paid request.

        The quote uses ``book`` or else :meth:`rate_book` (team overrides > ``live_pricing``
        > bundled). ``unit`` is the model's unit when it differs from the registry's — one
        built from the live ``request_schema`` (:meth:`ModelUnit.with_schema`) — so the
        parameters are checked against the schema the form was built from.
        Raises ``MediaError`` when the clip cannot be read and ``ConfigError`` when the rate
        overrides are damaged; parameter and limit problems are returned in
        ``Prepared.problems`` so the page can show them all at once.
        """
        unit = unit if unit is not None else models.get(model_id)
        clip = clip or media.probe(source.probe_target)
        # Validation comes before any arithmetic on the parameters: a quote, a note or a limit
        # is only worked out from values the schema allows (frames_per_second=0 never
        # reaches a division).
        problems: list[Problem] = unit.validate(params, require_source=False)
        full = unit.with_defaults(params)
        # A missing required field (LTX 2.3's prompt) does not change the price: quote and
        # describe the request unless some other field is invalid.
        priceable = not [p for p in unit.validate(full, require_source=False)
                         if p.code not in ("required", "blank")]
        quote = None
        notes: list[str] = []
        if priceable:
            problems += unit.check_limits(clip, full)
            quote = pricing.quote(model_id, clip, full, live_pricing=live_pricing,
                                  book=book or self.rate_book())
            notes += unit.request_notes(clip, full)
        if unit.provider == "ltx" and source.kind == "url" and source.url and \
                source.url.startswith("http://") and self.target("ltx") == "live":
            problems.append(Problem(unit.source_field, "https_only",
                                    "LTX only fetches HTTPS URLs; use an https:// link or "
                                    "upload the file."))
        return Prepared(model_id, source, dict(params), clip, quote, tuple(problems), tuple(notes))

    # -- sources --------------------------------------------------------------------------
    def resolve_source(
        self, provider: str, source: Source, *, progress: Progress | None = None
    ) -> tuple[str, str | None]:
        """The URL/URI to put in the request's source field, uploading a local file through
        the provider's upload path when needed. Returns ``(url, sha256 or None)``.

        Uploads are cached by content hash (Oxen repo files are permanent; LTX uploads are
        kept 24 h, so the cache expires after 23 h). Raises ``ApiError``/``NetworkError`` on
        a failed upload, ``ConfigError`` when a live Oxen upload has no namespace.
        """
        if source.path is None:
            if not source.url:
                raise MediaError("Choose a clip first: the bundled sample, an upload or a URL.")
            return source.url, None
        if not source.path.exists():
            raise MediaError(f"The clip '{source.label}' is no longer on disk; choose it again.")
        sha = file_sha256(source.path)
        target = f"{self.target(provider)}:{self.base_url(provider)}"
        now = datetime.now(UTC)
        cached = self.store.cached_upload(provider, target, sha, now)
        if cached:
            return cached, sha

        def report(done: int, total: int | None) -> None:
            if progress:
                progress(f"Uploading {source.label}", done / total if total else None)

        return _retry_unpaid(lambda: self._upload(provider, source, sha, target, now, report))

    def _upload(self, provider: str, source: Source, sha: str, target: str, now: datetime,
                report: Callable[[int, int | None], None]) -> tuple[str, str | None]:
        assert source.path is not None
        if provider == "oxen":
            client = self.oxen()
            live = self.target("oxen") == "live"
            namespace = require_namespace(self.settings.oxen_namespace) if live else SANDBOX_NAMESPACE
            repo = self.settings.oxen_upload_repo
            if live:
                client.ensure_repo(namespace, repo)
            suffix = source.path.suffix.lower() or ".mp4"
            url = client.upload_file(source.path, namespace=namespace, repo=repo,
                                     dest_path=f"inputs/{sha[:16]}{suffix}", progress=report)
            self.store.remember_upload(provider, target, sha, url, None)
            return url, sha
        slot = self.ltx().upload_file(source.path, progress=report)
        self.store.remember_upload(provider, target, sha, slot.storage_uri,
                                   now + timedelta(hours=23))
        return slot.storage_uri, sha

    # -- submit ---------------------------------------------------------------------------
    def build_body(self, model_id: str, params: Mapping[str, Any], source_url: str) -> dict[str, Any]:
        """The JSON body exactly as sent (Oxen: ``model`` + flat params; LTX: route body)."""
        unit = models.get(model_id)
        wire = unit.wire_params(params)
        wire[unit.source_field] = source_url
        if unit.provider == "oxen":
            return {"model": model_id, **wire}
        return wire

    def submit(
        self,
        prepared: Prepared,
        *,
        mode: str = "queue",
        num_generations: int = 1,
        progress: Progress | None = None,
        confirmed: bool = False,
        owner_name: str | None = None,
        parent_id: str | None = None,
        target_namespace: str | None = None,
        response_format: str = "url",
    ) -> list[Job]:
        """Send ``prepared`` once and return its job rows (one per generation).

        ``owner_name`` is the display name stored on the rows (default
        ``Settings.display_name``); ``parent_id`` links a retry to the generation it repeats.
        Both are written with the rows, before the paid request leaves.

        ``mode`` is ``"queue"`` (Oxen ``POST /api/ai/queue``; LTX's route is always async) or
        ``"sync"`` (Oxen ``POST /api/ai/videos/generate``, blocks until done; one generation
        only — ``num_generations`` > 1 in sync mode is a ``ParamError``).
        ``target_namespace`` (Oxen only) bills the request to, and stores its output in, that
        user or organisation; ``None`` uses ``Settings.oxen_target_namespace`` (unset: the
        key's own user). ``response_format`` (sync mode only) is ``"url"`` or ``"b64_json"``:
        the video comes back inline and is decoded into the result file as it arrives
        (oxen.md §9); base64 is never stored.

        Before anything is uploaded or stored: raises ``ParamError``/``LimitError`` when the
        request is invalid; ``BudgetExceededError`` when quote × ``num_generations`` (USD)
        would cross the team's or this owner's budget; ``ConfirmationRequired`` when that
        total is above ``Settings.confirm_above_usd`` and ``confirmed`` is False. Provider
        errors are recorded on the rows *and* re-raised so the page can show them; a lost
        answer marks the rows ``unknown``.
        """
        self.check_submit(prepared, mode=mode, num_generations=num_generations,
                          confirmed=confirmed)
        problems = _request_option_problems(models.get(prepared.model_id).provider, mode,
                                            target_namespace, response_format)
        if problems:
            raise ParamError(problems)
        jobs, error = self._send(prepared, mode=mode, num_generations=num_generations,
                                 progress=progress, owner_name=owner_name, parent_id=parent_id,
                                 target_namespace=target_namespace,
                                 response_format=response_format)
        if error is not None:
            raise error
        return jobs

    def target_namespace_for(self, provider: str, requested: str | None = None) -> str | None:
        """The Oxen namespace a request bills: ``requested``, else the setting, else
        ``None`` (the key's own user). Always ``None`` for LTX."""
        if provider != "oxen":
            return None
        chosen = (requested or "").strip() or self.settings.oxen_target_namespace
        return chosen or None

    def check_submit(
        self,
        prepared: Prepared,
        *,
        mode: str = "queue",
        num_generations: int = 1,
        confirmed: bool = False,
    ) -> BudgetVerdict:
        """Every check :meth:`submit` makes before sending, without sending or storing
        anything: raises ``ParamError``/``LimitError``, ``BudgetExceededError`` or
        ``ConfirmationRequired`` exactly as :meth:`submit` would. Returns the budget verdict
        of quote × ``num_generations`` (its ``warn``/``message`` for the page)."""
        params_problems, limit_problems = self._request_problems(prepared, mode, num_generations)
        if params_problems:
            raise ParamError(params_problems)
        if limit_problems:
            raise LimitError(" ".join(str(p) for p in limit_problems))
        return self._guard([(prepared, num_generations)], confirmed=confirmed)

    def submit_plan(
        self,
        items: Sequence[PlanItem],
        *,
        progress: Progress | None = None,
        confirmed: bool = False,
        owner_name: str | None = None,
    ) -> list[RowOutcome]:
        """Send a batch: ``items`` are ``(Prepared, num_generations)`` rows, all queued.
        ``owner_name`` is the display name stored on every row (default
        ``Settings.display_name``).

        First every row is validated (its ``Prepared.problems``, the model's clip limits,
        ``num_generations`` 1–4 for Oxen and exactly 1 for LTX, a quote to check against the
        budget); every problem is collected as ``"row N: …"`` (N from 1) and raised at once as
        ``ParamError``. Then the grand total in USD (Σ quote × generations) is checked once
        against the budget (``BudgetExceededError``) and the confirmation threshold
        (``ConfirmationRequired`` unless ``confirmed``). Nothing is uploaded or stored before
        these pass.

        Then each row goes through the normal submit path, in order (rows stored before each
        paid POST; LTX rows beyond 2 in flight wait client-side). A provider error on a row is
        recorded on that row's jobs and the batch goes on, except an auth (401/403), payment
        (402) or budget refusal, after which the remaining rows are reported as not sent.
        Returns one :class:`RowOutcome` per item, in order.
        """
        items = list(items)
        if not items:
            raise ParamError(["batch: add at least one row"])
        problems: list[str] = []
        for n, (prepared, count) in enumerate(items, start=1):
            params_problems, limit_problems = self._request_problems(prepared, "queue", count)
            problems += [f"row {n}: {p}" for p in (*params_problems, *limit_problems)]
        if problems:
            raise ParamError(problems)
        self._guard(items, confirmed=confirmed, what=f"This batch of {len(items)} rows")

        outcomes: list[RowOutcome] = []
        stopped: str | None = None
        for n, (prepared, count) in enumerate(items, start=1):
            if stopped is not None:
                outcomes.append(RowOutcome(n, prepared.model_id, count, error=stopped, sent=False))
                continue

            def row_progress(what: str, frac: float | None, n: int = n) -> None:
                if progress:
                    progress(f"Row {n} of {len(items)}: {what}", frac)

            jobs, error = self._send(prepared, mode="queue", num_generations=count,
                                     progress=row_progress, owner_name=owner_name)
            # Rows the provider refused are stored as failed/unknown: show them as stored.
            outcomes.append(RowOutcome(n, prepared.model_id, count, tuple(jobs),
                                       str(error) if error else None, sent=bool(jobs)))
            if isinstance(error, _BATCH_STOPPERS):
                stopped = f"Not sent: the batch stopped at row {n}. {error}"
        return outcomes

    # -- budget ---------------------------------------------------------------------------
    def budget_store(self) -> BudgetStore:
        """The caps saved from the app, in the store's database (shared by every replica)."""
        return BudgetStore(self.store)

    def budget_config(self) -> BudgetConfig:
        """The caps in force: saved ones, else Settings. Raises ``ConfigError`` when the
        saved budget cannot be used."""
        return self.budget_store().load(self.settings)

    def budget_targets(self) -> dict[str, str]:
        """Which target's generations count against the caps, per provider: the one each
        provider uses now (sandbox runs never eat a live budget, and live spend is not
        hidden by a switch to the sandbox of the other provider)."""
        return {p: self.target(p) for p in ("oxen", "ltx")}

    def budget_status(self, now: datetime | None = None) -> BudgetStatus:
        """This owner's and the team's spend against their caps in the current period (for
        the 80 % banner shown on every page): one SQL aggregate, none without a cap."""
        now = now or utcnow()
        with self.store.reading() as conn:  # the caps and the spend on one connection
            config = self.budget_store().load(self.settings, conn=conn)
            return budget.status(self.store, config, self.settings.owner(), now,
                                 targets=self.budget_targets(), conn=conn)

    def check_budget(self, amount_usd: Decimal, now: datetime | None = None) -> BudgetVerdict:
        """Whether a request quoted at ``amount_usd`` (USD, all generations) fits the caps
        now; the page shows the verdict (:attr:`BudgetVerdict.headline`) before the submit
        button. The submit itself checks again, atomically with storing its rows."""
        now = now or utcnow()
        with self.store.reading() as conn:  # the caps and the spend on one connection
            config = self.budget_store().load(self.settings, conn=conn)
            return budget.check(self.store, config, self.settings.owner(), amount_usd, now,
                                targets=self.budget_targets(), conn=conn)

    def _guard(self, items: Sequence[PlanItem], *, confirmed: bool,
               what: str = "This request") -> BudgetVerdict:
        """Budget, then confirmation, for the total of ``items`` (validated: all quoted);
        returns the (allowing) verdict."""
        total = sum(((p.amount_usd or Decimal(0)) * n for p, n in items), Decimal(0))
        verdict = self.check_budget(total)
        if not verdict.allowed:
            raise BudgetExceededError(verdict)
        if total > self.settings.confirm_above_usd and not confirmed:
            raise ConfirmationRequired(total, self.settings.confirm_above_usd, what=what)
        return verdict

    # -- rates ----------------------------------------------------------------------------
    def rate_book(self, live: Mapping[str, Mapping[str, Any]] | None = None) -> RateBook:
        """The rate book quotes use: bundled rates, team overrides saved in the store
        and ``live`` Oxen ``pricing`` objects by model id (see
        :func:`studio.ratebook.load_book`). Raises ``ConfigError`` when the overrides of an
        earlier version could not be imported."""
        return ratebook.load_book(self.store, live=live)

    # -- sending --------------------------------------------------------------------------
    def _request_problems(self, prepared: Prepared, mode: str,
                          num_generations: int) -> tuple[list[Problem], list[Problem]]:
        """``(parameter problems, clip limit problems)`` of sending ``prepared``; pure."""
        unit = models.get(prepared.model_id)
        problems = list(prepared.problems)
        if mode not in ("queue", "sync"):
            problems.append(Problem("mode", "enum", f"must be queue or sync (got {mode!r})"))
        if not unit.supports_queue:
            if mode != "queue":
                problems.append(Problem("mode", "async_only",
                                        f"the {unit.display_name} route is asynchronous "
                                        "(queue only)"))
            if num_generations != 1:
                problems.append(Problem("num_generations", "one_per_request",
                                        f"the {unit.display_name} route takes exactly 1 "
                                        f"generation per request (got {num_generations})"))
        else:
            lo, hi = models.NUM_GENERATIONS_RANGE
            if not lo <= num_generations <= hi:
                problems.append(Problem("num_generations", "range",
                                        f"must be between {lo} and {hi} "
                                        f"(got {num_generations})"))
            elif mode == "sync" and num_generations != 1:
                problems.append(Problem("num_generations", "sync_one",
                                        f"sync mode runs one generation; use queue mode for "
                                        f"{lo + 1}–{hi} (got {num_generations})"))
        if prepared.quote is None and not prepared.problems:
            problems.append(Problem("quote", "unpriced",
                                    "this request could not be priced, so it cannot be "
                                    "checked against the budget; review it again"))
        if prepared.problems:  # limits are judged on valid parameters only
            return problems, []
        return problems, unit.check_limits(prepared.clip, unit.with_defaults(prepared.params))

    def _send(
        self,
        prepared: Prepared,
        *,
        mode: str,
        num_generations: int,
        progress: Progress | None,
        owner_name: str | None = None,
        parent_id: str | None = None,
        target_namespace: str | None = None,
        response_format: str = "url",
    ) -> tuple[list[Job], StudioError | None]:
        """Upload, store, send once (``prepared`` is validated and the total guarded).

        Returns the rows and the error that stopped them (``None`` on success): rows refused by
        the provider are stored ``failed``, a lost answer ``unknown``; an error before the
        rows were stored (upload, budget re-check) comes with no rows.
        """
        model_id = prepared.model_id
        spec = models.get(model_id)
        params = spec.with_defaults(prepared.params)
        try:
            source_url, sha = self.resolve_source(spec.provider, prepared.source,
                                                  progress=progress)
        except StudioError as exc:
            return [], exc
        body = self.build_body(model_id, params, source_url)
        namespace = self.target_namespace_for(spec.provider, target_namespace)
        now = utcnow()
        batch = Job(model_id=model_id, provider=spec.provider, owner="", params={}, source={}).id
        jobs = [
            Job(
                model_id=model_id,
                provider=spec.provider,
                owner=self.settings.owner(),
                owner_name=(owner_name or "").strip() or self.settings.display_name,
                parent_id=parent_id,
                params=spec.wire_params(params),
                source={**prepared.source.to_json(sha), "url": source_url},
                clip=dataclasses.asdict(prepared.clip),
                quote=prepared.quote.to_json() if prepared.quote else None,
                mode=mode,
                target=self.target(spec.provider),
                batch_id=batch,
                created_at=now,
                target_namespace=namespace,
            )
            for _ in range(num_generations)
        ]
        busy = spec.provider == "ltx" and self._ltx_in_flight() >= LTX_MAX_IN_FLIGHT
        amount = (prepared.amount_usd or Decimal(0)) * num_generations
        with self.store.exclusive() as txn:
            # Checked again where the rows land, in one transaction no other submit on this
            # database overlaps (any replica): the check and the insert are one step.
            config = self.budget_store().load(self.settings, conn=txn.conn)
            verdict = budget.check(self.store, config, self.settings.owner(), amount, utcnow(),
                                   targets=self.budget_targets(), conn=txn.conn)
            if not verdict.allowed:
                return [], BudgetExceededError(verdict)
            txn.insert_many(jobs)  # durable before the paid request leaves
        if busy:
            # LTX runs at most 2 generations per key (ltx.md §6): wait client-side instead of
            # collecting a 429; the tracker sends it when a slot frees.
            waiting = self.store.update(jobs[0].id, status=Status.WAITING)
            self.tracker.wake()
            return [waiting], None
        if progress:
            progress("Submitting", None)
        try:
            if spec.provider == "ltx":
                ltx_job = self.ltx().submit_hdr(
                    source_url, output_colorspace=body.get("output_colorspace"))
                ids = [(ltx_job.id, Status.QUEUED)]
            elif mode == "sync":
                return [self._run_sync(jobs[0], body, response_format=response_format)], None
            else:
                wire = {k: v for k, v in body.items() if k != "model"}
                ids = self.oxen().enqueue(model_id, wire, num_generations=num_generations,
                                          target_namespace=namespace)
        except StudioError as exc:  # NetworkError included: maybe_sent decides the status
            self._mark_all(jobs, exc)
            return [self.store.get(j.id) for j in jobs], exc
        out = []
        t = time.time()
        for job, (remote_id, _status) in zip(jobs, ids, strict=False):
            out.append(self.store.update(
                job.id, remote_id=remote_id, status=Status.QUEUED, submitted_at=utcnow(),
                next_poll_at=t + next_poll_delay(0)))
        for extra in jobs[len(ids):]:  # fewer ids than asked for: say so, lose nothing
            out.append(self.store.update(extra.id, status=Status.FAILED,
                                         error="The provider returned fewer generations than requested."))
        self.tracker.wake()
        return out, None

    def _ltx_in_flight(self) -> int:
        """This key's LTX generations being submitted or running on the current target."""
        owner, target = self.settings.owner(), self.target("ltx")
        return sum(1 for j in self.store.list(
                   statuses=[Status.SUBMITTING, Status.QUEUED, Status.PROCESSING])
                   if j.provider == "ltx" and j.owner == owner and j.target == target)

    def submit_waiting(self) -> int:
        """Send waiting LTX generations, oldest first, while fewer than 2 are in flight.

        Each is marked ``submitting`` before its one POST. A concurrency 429 means LTX
        created nothing, so the row goes back to ``waiting``; a lost answer makes it
        ``unknown``. Returns how many were sent.
        """
        owner, target = self.settings.owner(), self.target("ltx")
        waiting = [j for j in self.store.list(statuses=[Status.WAITING])
                   if j.provider == "ltx" and j.owner == owner and j.target == target]
        sent = 0
        for job in sorted(waiting, key=lambda j: j.created_at):
            if self._ltx_in_flight() >= LTX_MAX_IN_FLIGHT:
                break
            worker = self.tracker.worker_id
            claimed = self.store.claim(job.id, worker, time.time(), lease_s=120)
            if claimed is None or claimed.status != Status.WAITING:
                continue  # another process is sending it (a double send is a double charge)
            self.store.update(job.id, status=Status.SUBMITTING, lease_owner=None,
                              lease_until=None)
            body = self.build_body(job.model_id, job.params, job.source["url"])
            try:
                ltx_job = self.ltx().submit_hdr(
                    job.source["url"], output_colorspace=body.get("output_colorspace"))
            except RateLimitedError as exc:
                self.store.update(job.id, status=Status.WAITING)
                if exc.kind == "concurrency":
                    break
                continue
            except StudioError as exc:
                self._mark_all([job], exc)
                continue
            self.store.update(job.id, remote_id=ltx_job.id, status=Status.QUEUED,
                              submitted_at=utcnow(), next_poll_at=time.time() + next_poll_delay(0))
            sent += 1
        return sent

    def _run_sync(self, job: Job, body: Mapping[str, Any], *,
                  response_format: str = "url") -> Job:
        started = utcnow()
        self.store.update(job.id, status=Status.PROCESSING, submitted_at=started, started_at=started)
        wire = {k: v for k, v in body.items() if k != "model"}
        from studio.providers.oxen import collect_artifacts

        if response_format == "b64_json":
            return self._finish_inline(job, wire)
        urls = self.oxen().generate(job.model_id, wire, target_namespace=job.target_namespace)
        secrets = self.settings.secrets()
        job = self.store.update(job.id, status=Status.SUCCEEDED, completed_at=utcnow(),
                                result_urls={k: remove_secrets(v, secrets)
                                             for k, v in collect_artifacts(urls).items()})
        self.tracker.wake()
        self.tracker.queue_media()
        return job

    def _finish_inline(self, job: Job, wire: Mapping[str, Any]) -> Job:
        """A sync ``b64_json`` run: the outputs are decoded into the result folder as they
        arrive; each is checked like a download; the preview is queued."""
        from studio.providers.oxen import collect_artifacts

        limits = self.settings.download_limits()
        folder = self.settings.data_dir / "results" / job.id
        urls, files = self.oxen().generate_inline(
            job.model_id, wire, folder, target_namespace=job.target_namespace,
            max_file_bytes=limits.max_bytes)
        result_files: dict[str, str] = {}
        problem: str | None = None
        for path in files:
            with open(path, "rb") as fh:
                label = "exr_frames" if fh.read(4).startswith(b"PK") else "video"
            dest = folder / result_name(label, "")
            if label in result_files:
                dest = folder / f"{dest.stem}-{len(result_files)}{dest.suffix}"
            path.replace(dest)
            try:
                check_result(label, dest, limits, probe=media.probe)
            except DownloadError as exc:
                dest.unlink(missing_ok=True)
                problem = problem or str(exc)
                continue
            result_files.setdefault(label, str(dest))
        url_artifacts = {k: remove_secrets(v, self.settings.secrets())
                         for k, v in collect_artifacts(urls).items() if k not in result_files}
        changes: dict[str, Any] = {"status": Status.SUCCEEDED, "completed_at": utcnow(),
                                   "result_urls": url_artifacts, "result_files": result_files}
        if problem and not result_files and not url_artifacts:
            changes["error"] = DOWNLOAD_FAILED.format(problem)
        job = self.store.update(job.id, **changes)
        queue = self.media_work.queue
        if url_artifacts:
            queue.enqueue(job.id, DOWNLOAD, host=link_host(next(iter(url_artifacts.values()))))
        elif result_files:
            queue.reset(job.id, PREVIEW, only_settled=True)
        self.media_work.wake()
        self.tracker.wake()
        return job

    def _mark_all(self, jobs: list[Job], exc: StudioError) -> None:
        maybe_sent = isinstance(exc, NetworkError) and exc.maybe_sent
        for job in jobs:
            if maybe_sent:
                self.store.update(job.id, status=Status.UNKNOWN, error=(
                    f"{exc} The request may have reached the provider, so it was not resent: "
                    "check the provider's history before submitting again."))
            else:
                self.store.update(job.id, status=Status.FAILED, completed_at=utcnow(),
                                  error=f"Not submitted: {exc}")

    # -- actions --------------------------------------------------------------------------
    @staticmethod
    def cancel_terms(job: Job) -> str:
        """What the provider bills for cancelling ``job``, in a sentence for the confirmation
        that comes before a cancel. Oxen documents its cancel route but not whether a
        cancelled generation is billed (oxen.md §8: "Whether a cancel refunds anything is not
        documented"); the LTX API has no cancel at all (ltx.md)."""
        if job.provider != "oxen":
            return ("The LTX API has no cancel: this generation runs to the end and is billed "
                    "as quoted.")
        quote = job.quote_usd
        what = f" (quoted at {cents(quote)})" if quote is not None else ""
        return ("Oxen does not document whether a cancelled generation is billed (oxen.md §8): "
                f"the work done so far may still be charged{what}. A charge Oxen reports "
                "afterwards shows on the Estimate vs actual page.")

    def cancel(self, job: Job) -> Job:
        """Cancel an in-flight Oxen generation (``DELETE /api/ai/queue/{id}``).

        Raises ``StudioError`` for LTX jobs (the LTX API has no cancel) and provider errors.
        """
        if job.provider != "oxen":
            raise StudioError("The LTX API has no cancel: this generation will run to the end "
                              "(and be billed).")
        if not job.remote_id or not job.is_active:
            raise StudioError("Only queued or processing generations can be cancelled.")
        self.oxen().cancel(job.remote_id)
        self.tracker.wake()
        return self.store.update(job.id, next_poll_at=0.0)

    def live_model(self, model_id: str) -> dict[str, Any] | None:
        """The live Oxen model object (``pricing``, ``request_schema``) or ``None`` in sandbox
        mode or for the LTX route. Raises provider errors."""
        return live_model(self.settings, model_id, sandbox_url=self.sandbox_url)

    # -- charges --------------------------------------------------------------------------
    def _computed_charge(self, job: Job) -> str | None:
        """LTX charge computed from the input-tier rule (LTX reports none)."""
        return (job.quote or {}).get("amount_usd")

    # -- media work ----------------------------------------------------------------------
    def retry_download(self, job: Job) -> None:
        """Try a settled result download again (the "Download again" action): due now, tries
        counted afresh, the link refreshed from the provider if it expired."""
        retry_download(self.media_work.queue, self.store, job)
        self.media_work.wake()

    def retry_media(self, job: Job, kind: str) -> None:
        """Run media work ``kind`` (e.g. ``"preview"``) for ``job`` again from scratch."""
        if kind == DOWNLOAD:
            self.retry_download(job)
            return
        self.media_work.queue.reset(job.id, kind)
        self.media_work.wake()

    def media_state(self, job_ids: Sequence[str]) -> dict[str, dict[str, WorkItem]]:
        """The media work rows (download, preview, …) of these generations: job id → kind →
        row, one query (what the pages show as progress or as a settled failure)."""
        return self.media_work.queue.for_jobs(job_ids)


RESPONSE_FORMATS = ("url", "b64_json")


def _request_option_problems(provider: str, mode: str, target_namespace: str | None,
                             response_format: str) -> list[Problem]:
    """Problems with the request-level options (not model parameters); pure."""
    problems = []
    if response_format not in RESPONSE_FORMATS:
        problems.append(Problem("response_format", "enum",
                                f"must be url or b64_json (got {shown_value(response_format)})"))
    elif response_format != "url" and (provider != "oxen" or mode != "sync"):
        problems.append(Problem("response_format", "unsupported",
                                "b64_json is offered by Oxen's sync route only (queued results "
                                "are always a link)"))
    if target_namespace and provider != "oxen":
        problems.append(Problem("target_namespace", "unsupported",
                                "only Oxen bills another namespace"))
    if target_namespace and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}",
                                             target_namespace.strip()):
        problems.append(Problem("target_namespace", "pattern",
                                "an Oxen user or organisation name (letters, digits, '-', '_', "
                                f"'.'), got {shown_value(target_namespace)}"))
    return problems


def live_model(settings: Settings, model_id: str, *, sandbox_url: str | None = None
               ) -> dict[str, Any] | None:
    """``GET /api/ai/models/{id}`` on live Oxen (what :meth:`Studio.live_model` answers),
    without a job store: the model object (``pricing``, ``request_schema``), or ``None`` when
    Oxen runs without a key (sandbox mode: nothing is fetched) or ``model_id`` is not an Oxen
    model. Raises ``ParamError`` for an unknown model and the client's ``StudioError``s
    (``NetworkError``, ``AuthError``, …) when the lookup fails."""
    spec = models.get(model_id)
    if spec.provider != "oxen" or not settings.is_live("oxen"):
        return None
    return OxenClient(settings.base_url_for("oxen", sandbox_url),
                      settings.key_for("oxen")).model(model_id)


def preview_for(
    files: Mapping[str, Path],
    dest: Path,
    *,
    fps: float,
    progress: Callable[[float], None] | None = None,
) -> Path | None:
    """The file a browser should play for a result: the video itself when playable, else a
    tone-mapped H.264 "SDR preview" made at ``dest`` (from the video, or from the EXR ZIP
    when there is no video). ``None`` when there is nothing to show."""
    video = files.get("video")
    if video is not None:
        clip = media.probe(video)
        if media.browser_playable(clip):
            return None  # the result itself plays
        if dest.exists():
            return dest
        return media.make_sdr_preview(video, dest, progress=progress)
    exr = files.get("exr_frames")
    if exr is not None:
        if dest.exists():
            return dest
        return media.make_exr_zip_preview(exr, dest, fps=fps, progress=progress)
    return None


def trimmed_source(source: Source, max_frames: int, cache_dir: Path) -> Source:
    """A copy of a local ``source`` holding only its first ``max_frames`` frames (H.264
    yuv420p), cached by content hash; used to fit LTX's per-tier frame caps (ltx.md §3.2)."""
    if source.path is None:
        raise MediaError("Only a local clip can be trimmed; download the URL first.")
    dest = cache_dir / f"{file_sha256(source.path)[:20]}-first{max_frames}.mp4"
    if not dest.exists():
        media.trim_clip(source.path, dest, max_frames=max_frames)
    return Source(source.kind, f"{source.label} (first {max_frames} frames)", path=dest)


def source_preview(path: Path, cache_dir: Path, *, progress: Callable[[float], None] | None = None
                   ) -> tuple[Path, bool]:
    """A browser-playable file for a source clip: ``(path, is_preview)``. Clips a browser
    cannot decode (yuv444p, HEVC, HDR) get a cached H.264 SDR preview keyed by content."""
    clip = media.probe(path)
    if media.browser_playable(clip):
        return path, False
    dest = cache_dir / f"src-{file_sha256(path)[:20]}.mp4"
    if not dest.exists():
        media.make_sdr_preview(path, dest, progress=progress)
    return dest, True


__all__ = ["ApiError", "PlanItem", "Prepared", "RowOutcome", "Source", "Studio", "live_model",
           "preview_for", "source_preview"]
