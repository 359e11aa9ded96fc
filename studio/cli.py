"""Command line over the same core as the UI: ``python -m studio submit | status | track |
worker | forecast``.

Same Settings (environment: ``OXEN_API_KEY``, ``LTXV_API_KEY``, ``OXEN_BASE_URL``, …), same
job store, same validation, quotes, upload path and paid-request rules. With no key and no
base URL, ``submit`` and ``track`` use the sandbox serving ``<data dir>/sandbox`` — the app's,
when it runs — and otherwise start one that stops when the command ends (never a second one
on that data dir, never one that outlives the command); ``submit`` then follows its
generations to the end before it exits, since their sandbox goes with it. Read-only commands
(``status``, ``forecast``) never start a server. ``forecast PLAN.csv`` prices a plan
(:mod:`studio.forecast`) with the team's rate book from the data dir (bundled + team
overrides) and, when ``OXEN_API_KEY`` is set, live Oxen pricing for the plan's Oxen models —
the rates the Forecast page uses; it never starts a sandbox and sends no generation.
``submit --yes`` confirms a spend above the confirmation threshold.

``track`` polls in a background thread and runs the media work pool beside it; it stops
within 2 s on SIGINT/SIGTERM (downloads interrupted, partial files removed, their work
handed back). ``track --until-done`` ends when nothing is left that can move without a
person. ``worker`` runs only media work (downloads, previews, analyses) claimed from the
shared store — the scale-out process for other machines on the same PostgreSQL.

Exit codes: 0 ok; 1 a provider/media/config error (its sentence on stderr); 2 invalid request
or plan (every problem on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from studio import forecast, models
from studio.config import Settings
from studio.errors import ConfirmationRequired, ParamError, StudioError
from studio.jobs import JobStore, job_to_dict
from studio.local_sandbox import SandboxProcess, running_sandbox_url, start_sandbox
from studio.money import cents, exact
from studio.ratebook import RateBook, load_book
from studio.service import Source, Studio
from studio.service import live_model as fetch_live_model
from studio.store import Status
from studio.tracking.work import WorkStatus, worker_name

SANDBOX_PORT = 8765


def parse_param(spec: models.ModelUnit, text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` → (key, value typed by the model's spec). Raises ``ParamError``."""
    if "=" not in text:
        raise ParamError([f"{text}: expected KEY=VALUE"])
    key, raw = text.split("=", 1)
    key = key.strip()
    try:
        p = spec.param(key)
    except KeyError:
        return key, raw  # validation names it as unknown, with the allowed fields
    try:
        if p.type == "boolean":
            low = raw.strip().lower()
            if low not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return key, low in ("true", "1", "yes")
        if p.type == "integer":
            return key, int(raw)
        if p.type == "number":
            value = float(raw)
            return key, int(value) if value.is_integer() else value
    except ValueError:
        raise ParamError([f"{key}: cannot read {raw!r} as {p.type}"]) from None
    return key, raw


# Sandboxes this command started; main() stops them when the command ends.
_STARTED: list[SandboxProcess] = []


def _sandbox_url(settings: Settings) -> str | None:
    """The sandbox for this command: none when every provider has a key or a base URL; the
    one serving ``<data dir>/sandbox`` when it runs (the app's); else one started for this
    command, which stops when the command ends."""
    if not settings.needs_sandbox:
        return None
    sandbox = start_sandbox(settings.data_dir / "sandbox", port=SANDBOX_PORT)
    if sandbox.owned:
        _STARTED.append(sandbox)
        print(f"No sandbox was running for {settings.data_dir / 'sandbox'}; started one at "
              f"{sandbox.url} for this command (it stops when the command ends).",
              file=sys.stderr)
    return sandbox.url


def open_store(settings: Settings) -> JobStore:
    """The job store of ``settings`` (the app's): nothing else is opened or started."""
    from_settings = getattr(JobStore, "from_settings", None)
    return (from_settings(settings.data_dir, getattr(settings, "database_url", None))
            if from_settings else JobStore(settings.data_dir / "jobs.sqlite3"))


def open_studio(settings: Settings, *, start_sandbox: bool = True) -> Studio:
    """The same façade the app builds: settings, store, clients, tracker; in sandbox mode
    with the running sandbox of the data dir, or (``start_sandbox``) one started for this
    command. ``start_sandbox=False`` (a worker) only ever uses a running one."""
    if start_sandbox:
        url = _sandbox_url(settings)
    else:
        url = (running_sandbox_url(settings.data_dir / "sandbox")
               if settings.needs_sandbox else None)
    return Studio(settings, open_store(settings), sandbox_url=url)


def cmd_submit(studio: Studio, args: argparse.Namespace, *, follow: bool = False) -> int:
    """Submit; with ``follow`` (the sandbox was started for this command and stops with it)
    track the new generations until they are settled before returning."""
    spec = models.get(args.model)
    params = dict(parse_param(spec, p) for p in args.param or [])
    if args.input.startswith(("http://", "https://")):
        source = Source("url", args.input.rsplit("/", 1)[-1] or args.input, url=args.input)
    else:
        path = Path(args.input).expanduser().resolve()
        source = Source("upload", path.name, path=path)
    prepared = studio.prepare(args.model, source, params)
    if prepared.problems:
        for problem in prepared.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    if prepared.quote:
        q = prepared.quote
        print(f"Quote: {cents(q.amount_usd * args.num)} ({q.provenance}: {q.basis})",
              file=sys.stderr)
    before = {j.id for j in studio.store.list()}
    try:
        options: dict[str, Any] = {}
        if args.target_namespace:
            options["target_namespace"] = args.target_namespace
        if args.response_format != "url":
            options["response_format"] = args.response_format
        jobs = studio.submit(prepared, mode=args.mode, num_generations=args.num,
                             confirmed=args.yes, **options)
    except StudioError:
        # The rows exist (failed: refused by the provider, or unknown: answer lost): print
        # their ids so scripts can follow them, then report the error.
        for job in studio.store.list():
            if job.id not in before:
                print(job.id if not args.json else json.dumps(job_to_dict(job)))
        raise
    for job in jobs:
        print(job.id if not args.json else json.dumps(job_to_dict(job)))
        print(f"  {job.status} · generation {job.remote_id or '—'}", file=sys.stderr)
    if follow:
        print("Following the generation(s) to the end, since the sandbox stops with this "
              "command (Ctrl-C stops; keep the app or `python -m sandbox --data-dir "
              f"{studio.settings.data_dir / 'sandbox'} --port {SANDBOX_PORT}` running to "
              "submit and leave).", file=sys.stderr)
        _follow(studio, interval=1.0, until_done=True)
    return 0


def load_rate_book(settings: Settings,
                   live: Mapping[str, Mapping[str, Any]] | None = None) -> RateBook:
    """The team's rate book: bundled rates, the overrides saved in the team's store
    (``DATABASE_URL``, else the data dir's SQLite file; none saved = bundled only) and
    ``live`` Oxen ``pricing`` objects by model id — the book the Forecast page builds.
    Raises ``ConfigError`` when overrides of an earlier version could not be imported."""
    store = JobStore.from_settings(settings.data_dir, settings.database_url)
    try:
        return load_book(store, live=live or None)
    finally:
        store.close()


def live_oxen_pricing(settings: Settings, model_ids: Iterable[str]
                      ) -> tuple[dict[str, dict[str, Any]], str | None]:
    """Live Oxen ``pricing`` objects for the Oxen models among ``model_ids``, fetched as the
    page does (:func:`studio.service.live_model`, ``GET /api/ai/models/{id}``) — only when
    ``OXEN_API_KEY`` is set; in sandbox mode nothing is fetched and no sandbox is started.

    Returns ``(pricing by model id, None)``, or ``({}, sentence)`` when a lookup failed with a
    ``StudioError``: then no live pricing is used at all (bundled rates + team overrides,
    like the page when Oxen cannot be reached), and the sentence says so."""
    if not settings.is_live("oxen"):
        return {}, None
    live: dict[str, dict[str, Any]] = {}
    for model_id in sorted(set(model_ids)):
        spec = models.MODELS.get(model_id)
        if spec is None or spec.provider != "oxen":
            continue
        try:
            model = fetch_live_model(settings, model_id)
        except StudioError as exc:
            return {}, (f"live Oxen pricing is unavailable ({spec.display_name}: {exc}); "
                        "pricing with the bundled rates and team overrides instead.")
        pricing = (model or {}).get("pricing")
        if isinstance(pricing, dict):
            live[model_id] = pricing
    return live, None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def rate_sources(book: RateBook) -> str:
    """``"rates: bundled + 0 team overrides"``, ``"… + live Oxen pricing for 2 models"``."""
    text = f"rates: bundled + {_plural(len(book.overrides), 'team override')}"
    if book.live:
        text += f" + live Oxen pricing for {_plural(len(book.live), 'model')}"
    return text


def _money(d: Any) -> str:
    """A total, to the cent."""
    return cents(d)


def cmd_forecast(args: argparse.Namespace) -> int:
    """Price a plan CSV: one line per row, per-model totals, the grand total.

    Rates as on the Forecast page: bundled + team overrides from the store, + live Oxen
    pricing for the plan's Oxen models (and, with ``--target-resolution``, every Oxen model
    of the plan's tasks) when ``OXEN_API_KEY`` is set. Stderr names the rate sources used.
    No sandbox is started and nothing is sent."""
    rows = forecast.read_plan_csv(Path(args.plan))
    settings = Settings.from_env()
    model_ids = {r.model_id for r in rows}
    if args.target_resolution:
        tasks = {models.MODELS[m].task for m in model_ids if m in models.MODELS}
        model_ids |= {m for m, spec in models.MODELS.items() if spec.task in tasks}
    live, live_problem = live_oxen_pricing(settings, model_ids)
    if live_problem:
        print(f"note: {live_problem}", file=sys.stderr)
    book = load_rate_book(settings, live)
    print(rate_sources(book), file=sys.stderr)
    priced = forecast.price_plan(rows, book=book)
    comparison = (forecast.compare_models(rows, target_resolution=args.target_resolution,
                                          book=book)
                  if args.target_resolution else None)
    for note in priced.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        print(priced.to_json(comparison=comparison))
        return 0
    print(f"{'row':>3}  {'clip':24}  {'model':20}  {'settings':28}  {'quote':>11}  provenance")
    for r in priced.rows:
        name = models.MODELS[r.row.model_id].display_name if r.row.model_id in models.MODELS \
            else r.row.model_id
        head = f"{r.index:>3}  {r.row.clip:24}  {name:20}  {r.settings:28}"
        if r.quote is None or r.amount_usd is None:
            print(f"{head}  {'—':>11}  not priced: {r.problem}")
            continue
        gens = (f" ({r.row.generations} × {exact(r.quote.amount_usd)})"
                if r.row.generations > 1 else "")
        print(f"{head}  {exact(r.amount_usd):>11}  {r.quote.provenance}: {r.quote.basis}{gens}"
              f" · {r.quote.rate.source_url} (as of {r.quote.rate.as_of})")
        for note in r.notes:
            print(f"{'':5}note: {note}")
    print("By model:")
    for model_id, amount in priced.by_model().items():
        n = sum(1 for r in priced.rows if r.row.model_id == model_id and r.quote is not None)
        print(f"  {models.MODELS[model_id].display_name:20}  {n:>4} row(s)  {_money(amount):>11}")
    unpriced = sum(1 for r in priced.rows if r.quote is None)
    print(f"Total: {_money(priced.total_usd)}"
          + (f" ({unpriced} row(s) not priced)" if unpriced else ""))
    if comparison is not None:
        print(f"Same plan on every model that can do it (target {args.target_resolution}):")
        for rec in comparison.to_dict("records"):
            mark = (f"  ← cheapest meeting {args.target_resolution}"
                    if rec["cheapest_meeting_target"] else "")
            meets = "meets" if rec["meets_target"] else "below"
            limits = f", {rec['limit_rows']} row(s) over its limits" if rec["limit_rows"] else ""
            print(f"  {rec['task']:7}  {rec['model_name'][:22]:22}  {_money(rec['total_usd']):>11}"
                  f"  {rec['output_resolution']} ({meets} target{limits}){mark}")
    return 0


def cmd_status(store: JobStore, args: argparse.Namespace) -> int:
    """List generations from the store alone: no client, no tracker, no sandbox."""
    jobs = store.list(limit=args.limit)
    if args.json:
        print(json.dumps([job_to_dict(j) for j in jobs], indent=2))
        return 0
    print(f"{'job':8}  {'model':20}  {'status':10}  {'quote':>9}  {'charge':>9}  generation")
    for j in jobs:
        name = models.MODELS[j.model_id].display_name if j.model_id in models.MODELS \
            else j.model_id
        print(f"{j.id[:8]}  {name[:20]:20}  {j.status:10}  {j.quote_usd or '':>9}  "
              f"{j.charge_usd or '':>9}  {j.remote_id or '—'}")
    return 0


RECONCILE_TRIES = 3


def _unsettled(studio: Studio) -> int:
    """What can still move without a person: in-flight rows (but not those whose status
    answers keep failing, see :func:`studio.tracker.needs_person`), media work this process
    runs that has not settled, and lost-answer Oxen rows that have not yet had
    ``RECONCILE_TRIES`` chances to be matched (about a minute)."""
    from studio.tracker import needs_person

    store = studio.store
    waiting = [j for j in store.list(statuses=[Status.WAITING, Status.SUBMITTING, Status.QUEUED, Status.PROCESSING])
               if not needs_person(j)]
    work = 0
    if studio.media_work.threads:
        studio.tracker.queue_media()
        work = sum(1 for item in studio.media_work.queue.unsettled()
                   if item.kind in studio.media_work.kinds)
    unknown = [j for j in store.list(statuses=[Status.UNKNOWN]) if j.provider == "oxen"
               and studio.tracker.reconcile_attempts.get(j.id, 0) < RECONCILE_TRIES]
    return len(waiting) + work + len(unknown)


def _stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM (the handlers replace the defaults)."""
    stop = threading.Event()

    def on_signal(*_: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return stop


def _report(studio: Studio, seen: dict[str, str], done: dict[str, str]) -> None:
    """Print each status change and each settled media step once."""
    jobs = studio.store.list()
    for j in jobs:
        if seen.get(j.id) != j.status:
            print(f"{j.id[:8]} {j.model_id} → {j.status}"
                  + (f": {j.error}" if j.error and j.status in (Status.FAILED, Status.UNKNOWN, Status.EXPIRED)
                     else ""), flush=True)
            seen[j.id] = j.status
    states = studio.media_state([j.id for j in jobs if j.status == Status.SUCCEEDED])
    for job_id, kinds in states.items():
        for kind, item in kinds.items():
            key = f"{job_id}:{kind}"
            if item.settled and done.get(key) != item.status:
                done[key] = item.status
                what = "downloaded" if kind == "download" else f"{kind} done"
                line = (f"{job_id[:8]} {what}" if item.status == WorkStatus.DONE else
                        f"{job_id[:8]} {kind} failed: {item.error}")
                print(line, flush=True)


def cmd_track(studio: Studio, args: argparse.Namespace) -> int:
    return _follow(studio, interval=args.interval, until_done=args.until_done)


def _follow(studio: Studio, *, interval: float, until_done: bool) -> int:
    """Track in the background (polls, completion events, media work) and report changes
    until SIGINT/SIGTERM or, with ``until_done``, until nothing can move without a person."""
    stop = _stop_on_signals()
    seen: dict[str, str] = {j.id: str(j.status) for j in studio.store.list()}
    done: dict[str, str] = {}
    print(f"Tracking {_unsettled(studio)} unsettled generation(s); Ctrl-C stops.",
          file=sys.stderr, flush=True)
    studio.start_background()  # polling thread, Oxen completion events, media work pool
    try:
        while not stop.is_set():
            _report(studio, seen, done)
            if until_done and not _unsettled(studio):
                _report(studio, seen, done)
                break
            stop.wait(interval)
    finally:
        studio.close(timeout=1.5)
    if stop.is_set():
        print("Stopped; unfinished downloads will resume on the next run.", file=sys.stderr)
        _exit_now()
    return 0


def _exit_now() -> None:
    """After a signal, once everything is cleaned up (downloads interrupted, partial files
    removed, work and leases handed back): leave at once. Unloading the interpreter's
    modules (pandas, PyAV…) can take seconds on a busy machine, and a stop must take < 2 s."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def cmd_worker(studio: Studio, args: argparse.Namespace) -> int:
    """Run media work (downloads, previews, analyses) claimed from the shared store until
    SIGINT/SIGTERM; never polls a provider or sends a request that costs money."""
    for provider in ("oxen", "ltx"):
        studio.base_url(provider)  # ConfigError now, not a failed download later
    pool = studio.media_work
    pool.worker_id = worker_name("worker")  # work rows say which process did the work
    pool.threads = max(1, args.threads)
    if args.per_host:
        pool.per_host = args.per_host
    if args.kinds:
        wanted = [k.strip() for k in args.kinds.split(",") if k.strip()]
        unknown = [k for k in wanted if k not in pool.registry]
        if unknown:
            raise ParamError([f"--kinds: unknown media work {k!r} (known: "
                              f"{', '.join(sorted(pool.registry))})" for k in unknown])
        pool.kinds = wanted
    stop = _stop_on_signals()
    print(f"Worker {pool.worker_id}: {pool.threads} thread(s) for "
          f"{', '.join(pool.kinds)}; Ctrl-C stops.", file=sys.stderr, flush=True)
    pool.start()
    try:
        while not stop.is_set():
            studio.tracker.queue_media()  # results of sync runs or of a tracker that is down
            if args.until_idle and not any(i.kind in pool.kinds
                                           for i in pool.queue.unsettled()):
                break
            stop.wait(args.interval)
    finally:
        studio.close(timeout=1.5)
    print(f"Worker stopped: {pool.completed} done, {pool.failed} failed.", file=sys.stderr)
    if stop.is_set():
        _exit_now()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m studio", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("submit", help="submit a generation; prints its job id")
    s.add_argument("--model", required=True, choices=sorted(models.MODELS))
    s.add_argument("--input", required=True, help="local file or http(s) URL")
    s.add_argument("--param", action="append", metavar="KEY=VALUE")
    s.add_argument("--mode", choices=["queue", "sync"], default="queue")
    s.add_argument("--num", type=int, default=1, help="num_generations (Oxen queue, 1–4)")
    s.add_argument("--json", action="store_true")
    s.add_argument("--yes", action="store_true",
                   help="confirm a spend above the confirmation threshold")
    s.add_argument("--target-namespace", default=None, metavar="NAMESPACE",
                   help="Oxen user or organisation billed for the request (and storing its "
                        "output); default OXEN_TARGET_NAMESPACE, else your own user")
    s.add_argument("--response-format", choices=["url", "b64_json"], default="url",
                   help="sync mode only: b64_json returns the video inline (decoded straight "
                        "into the result file)")
    st = sub.add_parser("status", help="list generations")
    st.add_argument("--json", action="store_true")
    st.add_argument("--limit", type=int, default=None)
    t = sub.add_parser("track", help="run the tracker in the foreground")
    t.add_argument("--until-done", action="store_true")
    t.add_argument("--interval", type=float, default=1.0)
    w = sub.add_parser("worker", help="run media work (downloads, previews) from the store",
                       description="Claim and run media work — result downloads, previews, "
                       "analyses — from the shared store (DATABASE_URL), beside app processes "
                       "started with STUDIO_MEDIA_WORKERS=0. Sends no paid request.")
    w.add_argument("--threads", type=int, default=2, help="work items at once (default 2)")
    w.add_argument("--kinds", default=None, help="comma-separated kinds (default: all)")
    w.add_argument("--per-host", type=int, default=None,
                   help="downloads at once per result host (default STUDIO_DOWNLOADS_PER_HOST)")
    w.add_argument("--until-idle", action="store_true",
                   help="exit when no media work is left")
    w.add_argument("--interval", type=float, default=1.0)
    f = sub.add_parser("forecast", help="price a plan CSV (no request is sent)",
                       description="Price a plan CSV (columns: " + ", ".join(forecast.PLAN_COLUMNS)
                       + "; see studio/forecast.py). Sends nothing and starts no sandbox.")
    f.add_argument("plan", metavar="PLAN.csv")
    f.add_argument("--json", action="store_true", help="print the priced plan as JSON")
    f.add_argument("--target-resolution", choices=list(models.RESOLUTION_HEIGHTS),
                   help="also price the plan on every model that can do it and mark the "
                        "cheapest that reaches this resolution")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "forecast":  # pricing only: no store, no clients, no sandbox
            return cmd_forecast(args)
        settings = Settings.from_env()
        if args.command == "status":  # read-only: the store, nothing started
            return cmd_status(open_store(settings), args)
        if args.command == "worker":  # media work only: never starts a sandbox
            return cmd_worker(open_studio(settings, start_sandbox=False), args)
        try:
            studio = open_studio(settings)
            if args.command == "submit":
                return cmd_submit(studio, args, follow=bool(_STARTED))
            return cmd_track(studio, args)
        finally:
            while _STARTED:  # only ones we started; a reused sandbox is left running
                _STARTED.pop().stop()
    except ParamError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    except StudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if isinstance(exc, ConfirmationRequired):
            print("hint: rerun the same command with --yes to confirm this spend.",
                  file=sys.stderr)
        return 1
