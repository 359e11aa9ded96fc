"""Reviewing what the money bought: the status card under Submit, the compare player of
finished generations with their cost, review links, and completion toasts on every page.

- :func:`render_status_card` — right under a model page's Submit button: each new
  generation's status, elapsed time, ETA (the learned turnaround median, else the model's
  typical range, labelled as which) with a progress bar against it, and the source preview
  at once; when the generations succeed the same player shows the results.
- :func:`render_job_compare` — the compare player (:mod:`components.compare`) for 1–4
  generations of one source, each labelled with its model, key settings, quote, charge and
  turnaround, beside a panel for the selected result.
- :func:`review_url` / :func:`render_review_link` — the read-only link of a generation or a
  set of them (``/review?g=<job id>,<job id>``), opened by ``pages/review.py``.
- :func:`render_completion_watch` — toasts when a generation this session submitted ends,
  whatever page is open (a failure with its sentence).

Source previews are made in the background from the moment a clip is chosen
(:mod:`studio.source_previews`), so the card can play the source before any result exists.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode, urljoin

import streamlit as st

from components import links, session
from components.compare import Media, render_compare
from components.download_state import render_download_state, render_preview_retry
from components.hdr_inspector import render_hdr_tools
from components.loaders import load_probe, load_turnaround
from components.text import plain
from studio import ledger, models, sampler, source_previews
from studio.errors import StudioError
from studio.jobs import Job
from studio.media import ClipInfo
from studio.money import exact
from studio.service import Source, Studio
from studio.source_previews import PreviewState, PreviewStatus
from studio.store import Status
from studio.tracker import ANALYSIS_PHASE
from studio.tracking.work import WorkStatus

REFRESH_S = 2.0
REVIEW_PAGE = "pages/review.py"
REVIEW_SLUG = "review"
IDS_PARAM = "g"
MAX_REVIEW_IDS = 4
CARD_ROOM_PX = 200  # the status card's head and status lines: on screen, or it is scrolled to
_STATUS_TEXT = {
    Status.SUBMITTING: "Sending the request…",
    Status.WAITING: "Waiting for a free LTX slot (LTX runs 2 generations at a time per key)",
    Status.QUEUED: "Queued at the provider",
    Status.PROCESSING: "Processing at the provider",
    Status.SUCCEEDED: "Succeeded",
    Status.FAILED: "Failed",
    Status.CANCELLED: "Cancelled",
    Status.EXPIRED: "Expired at the provider",
    Status.UNKNOWN: "Outcome unknown",
}


# -- small formatting helpers ---------------------------------------------------------------
def duration_text(seconds: float | None) -> str:
    """``"42 s"``, ``"1 min 36 s"``, ``"1 h 5 min"``; ``"—"`` for ``None``."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s" if s % 60 else f"{s // 60} min"
    return f"{s // 3600} h {(s % 3600) // 60} min"


def _exact_or_dash(amount: object) -> str:
    """One generation's stored amount with every digit (:func:`studio.money.exact`), or "—"
    when it is not known."""
    return "—" if amount is None or amount == "" else exact(amount)


def model_name(model_id: str) -> str:
    spec = models.MODELS.get(model_id)
    return spec.display_name if spec else model_id


def charge_source(job: Job) -> str:
    """Where a job's charge comes from, in the words the tables use."""
    if job.target == "sandbox":
        return "sandbox"
    return "Oxen" if job.provider == "oxen" else "computed (LTX tier rule)"


def turnaround_s(job: Job) -> float | None:
    """Seconds from submit to completion of a succeeded generation (the ledger's rule)."""
    return ledger.wall_time_s(job)


def job_lines(job: Job) -> tuple[str, ...]:
    """The facts under a result's label: key settings, quote, charge, turnaround."""
    settings = " · ".join(sampler.key_params(job.model_id, job.params or {}))
    quote = job.quote or {}
    lines = [settings] if settings else []
    lines.append(f"quote {_exact_or_dash(quote.get('amount_usd'))}"
                 + (f" ({quote['provenance']})" if quote.get("provenance") else "")
                 + (f" · charge {exact(job.charge_usd)} ({charge_source(job)})"
                    if job.charge_usd else " · charge not reported yet"))
    took = turnaround_s(job)
    if took is not None:
        lines.append(f"turnaround {duration_text(took)}")
    return tuple(lines)


# -- source previews ------------------------------------------------------------------------
def previews_dir(studio: Studio) -> Path:
    return studio.settings.data_dir / "previews"


def request_source_preview(studio: Studio, path: Path) -> PreviewState:
    """Start (once) and return the background preview of the local clip ``path``."""
    return source_previews.for_dir(previews_dir(studio)).request(path)


def preview_waiting_text(state: PreviewState) -> str:
    if state.status == PreviewStatus.FAILED:
        return f"The source cannot be previewed: {state.error}"
    if state.status == PreviewStatus.RUNNING:
        return f"Making a browser-playable preview of the source… {state.fraction:.0%}"
    return "Making a browser-playable preview of the source (queued)…"


def render_source_preview_status(studio: Studio, source: Source, *, key: str) -> None:
    """One line under the clip's facts: the background source preview's progress, refreshed
    every second until it is ready (nothing at all for a clip that plays as is)."""
    if source.path is None:
        return
    first = request_source_preview(studio, source.path)
    if first.ready and not first.is_preview:
        return

    @st.fragment(run_every=None if first.done else 1.0)
    def _line() -> None:
        state = request_source_preview(studio, source.path)  # type: ignore[arg-type]
        if state.status == PreviewStatus.FAILED:
            st.caption(f":orange[The source cannot be previewed: {plain(state.error or '')}]")
        elif state.ready:
            took = f" in {duration_text(state.seconds)}" if state.seconds else ""
            st.caption(f":material/check_circle: Browser preview of the source ready{took} "
                       "(H.264 SDR copy).")
        else:
            st.progress(state.fraction, text=preview_waiting_text(state))
        if state.done and not first.done:
            # A fragment's timer is fixed when it is drawn: one full run redraws it without.
            st.rerun()

    _line()


# -- media of generations -------------------------------------------------------------------
def _stamp(path: Path) -> str:
    st_ = path.stat()
    return f"{st_.st_size}:{st_.st_mtime_ns}"


def _probe(path: Path) -> ClipInfo | None:
    try:
        return load_probe(str(path), _stamp(path))
    except (StudioError, OSError):
        return None


def source_media(studio: Studio, job: Job | None, *, source: Source | None = None,
                 clip: dict | None = None) -> tuple[Media, bool]:
    """The source side of a comparison: its browser-playable preview (made in the
    background; ``waiting`` says how far along), with the source clip's geometry. Returns
    ``(media, still_working)``."""
    src = (job.source or {}) if job is not None else {}
    path = source.path if source is not None else (Path(src["path"]) if src.get("path") else None)
    label = source.label if source is not None else str(src.get("label") or "source")
    info = clip if clip is not None else ((job.clip or {}) if job is not None else {})
    geo = dict(width=int(info.get("width") or 16), height=int(info.get("height") or 9),
               fps=float(info.get("fps") or 24.0), duration_s=float(info.get("duration_s") or 0))
    if path is None or not path.exists():
        reason = ("The source was a URL; it is not kept on this server, so only the results "
                  "play." if src.get("kind") == "url" or (source and source.kind == "url")
                  else "The source clip is no longer on this server.")
        return Media(label, None, waiting=reason, **geo), False
    state = request_source_preview(studio, path)
    if not state.ready:
        return Media(label, None, waiting=preview_waiting_text(state), **geo), not state.done
    note = ("SDR preview: the source is not browser-playable as is (e.g. H.264 4:4:4, "
            "10-bit or HDR); this is a tone-mapped H.264 copy." if state.is_preview else None)
    return Media(label, state.path, note=note, **geo), False


def result_media(studio: Studio, job: Job) -> tuple[Media, bool]:
    """The result side for one generation: its SDR preview when it has one, else the video
    itself; width/height/fps/duration of the original result. Returns ``(media,
    still_working)`` — working while the result downloads or its preview is made."""
    label = model_name(job.model_id)
    lines = job_lines(job)
    clip = job.clip or {}
    geo = None
    if job.model_id in models.MODELS:
        unit = models.get(job.model_id)
        geo = unit.output_geometry(
            width=int(clip.get("width") or 16), height=int(clip.get("height") or 9),
            fps=float(clip.get("fps") or 24), frame_count=int(clip.get("frame_count") or 1),
            params=unit.with_defaults(job.params or {}))
    base = dict(width=geo.width if geo else 16, height=geo.height if geo else 9,
                fps=geo.fps if geo else 24.0, duration_s=geo.duration_s if geo else 0.0)
    if job.status != Status.SUCCEEDED:
        return Media(label, None, lines=lines, waiting=_STATUS_TEXT.get(job.status, job.status),
                     id=job.id, **base), job.is_active
    files = job.result_files or {}
    if not files or "missing" in files:
        act = studio.tracker.activity.get(job.id)
        text = (f"{act.phase.capitalize()} {act.detail} {act.fraction or 0:.0%}".strip()
                if act else "Waiting to download the result…")
        if "missing" in files:
            return Media(label, None, lines=lines, id=job.id, waiting=(
                "The result could not be downloaded (the link expired)."), **base), False
        return Media(label, None, lines=lines, waiting=text, id=job.id, **base), True
    video = Path(files["video"]) if files.get("video") else None
    original = _probe(video) if video is not None and video.exists() else None
    if original is not None:
        base = dict(width=original.width, height=original.height, fps=original.fps,
                    duration_s=original.duration_s)
    preview = Path(job.preview_path) if job.preview_path else None
    if preview is not None and preview.exists():
        shown = _probe(preview)
        if original is None and shown is not None:  # EXR results: the preview's timing
            base.update(fps=shown.fps, duration_s=shown.duration_s)
        return Media(label, preview, lines=lines, note=preview_note(job, original), id=job.id,
                     **base), False
    if video is not None and video.exists():
        if original is not None and not _plays(original):
            act = studio.tracker.activity.get(job.id)
            return Media(label, None, lines=lines, id=job.id, waiting=(
                f"Making the SDR preview… {act.fraction or 0:.0%}" if act else
                "Making the SDR preview…"), **base), True
        return Media(label, video, lines=lines, id=job.id, **base), False
    return Media(label, None, lines=lines, waiting="No playable output.", id=job.id,
                 **base), bool(studio.tracker.activity.get(job.id))


def _plays(clip: ClipInfo) -> bool:
    from studio import media

    return media.browser_playable(clip)


def preview_note(job: Job, original: ClipInfo | None) -> str:
    """What an SDR preview stands for, e.g. ``"SDR preview — tone-mapped for this screen;
    the original is HEVC 3840×2160 PQ HDR."``"""
    if original is None:
        return "SDR preview — tone-mapped from the linear-light EXR frames."
    hdr = {"smpte2084": "PQ", "arib-std-b67": "HLG"}.get(original.color_transfer or "", "")
    what = f"{original.codec.upper()} {original.width}×{original.height}" + (
        f" {hdr} HDR" if hdr else "")
    return f"SDR preview — tone-mapped for this screen; the original is {what}."


# -- the compare view of generations ----------------------------------------------------------
def same_source(jobs: Sequence[Job]) -> bool:
    """True when every job was made from one clip (content hash, else path/URL/label)."""
    def ident(j: Job) -> tuple:
        s = j.source or {}
        return (s.get("sha256"),) if s.get("sha256") else (s.get("path"), s.get("url"),
                                                           s.get("label"))
    return len({ident(j) for j in jobs}) <= 1


def render_job_compare(studio: Studio, jobs: Sequence[Job], *, key: str,
                       panel: bool = True, read_only: bool = False,
                       compact: bool = False) -> bool:
    """The compare player for 1–4 generations of one source (N-up when several), with the
    panel of the selected result beside it. Returns True while something is still being
    made (a download, a preview), so a live caller keeps refreshing."""
    jobs = list(jobs)[:MAX_REVIEW_IDS]
    if not jobs:
        return False
    if not same_source(jobs):
        st.warning("These generations come from different clips; the compare player shows "
                   "results of one source. Select generations of the same clip.")
        return False
    src, working = source_media(studio, jobs[0])
    results, shown = [], []
    for job in jobs:
        if job.status != Status.SUCCEEDED and compact:
            working = working or job.is_active  # the card's status lines say how it goes
            continue
        media, busy = result_media(studio, job)
        results.append(media)
        shown.append(job)
        working = working or busy
    # The player keeps one place in the layout whatever arrives: an element that moves is
    # drawn anew, and the video someone is watching would stop and rewind when a result
    # lands. So it is always the first column of one row. One result (or none yet): its
    # panel beside the player. N-up: the grid needs the width, so the selected tile's panel
    # goes under it.
    beside = panel and len(results) <= 1
    cols = st.columns([7, 3] if beside else [1], gap="medium")
    with cols[0]:
        view = render_compare(src, results, key=key, compact=compact,
                              default_mode="grid" if len(results) > 1 else "wipe")
    side = cols[1] if beside else None
    if side is not None and not results:
        side.caption("The result's panel (what it is, what it cost, its files) appears here "
                     "once it is in.")
    if panel and results:
        chosen = shown[min(view.selected, len(shown) - 1)]
        with side if side is not None else st.expander(
                f"Selected result: {model_name(chosen.model_id)} "
                f"({min(view.selected, len(shown) - 1) + 1} of {len(shown)})", expanded=False):
            render_result_panel(studio, chosen, key=f"{key}:panel", read_only=read_only)
        # The HDR inspector / EXR browser of the selected result: full width under the
        # player (scopes and frames need the room), nothing decoded until switched on.
        if chosen.status == Status.SUCCEEDED and chosen.result_files:
            render_hdr_tools(studio, chosen, key=f"{key}:hdr:{chosen.id}",
                             playhead_s=view.time_s)
    return working


def render_result_panel(studio: Studio, job: Job, *, key: str, read_only: bool = False) -> None:
    """The side panel of the selected result: what it is, what it cost, its files.

    The HDR inspector and EXR browser of the selected result render under the player
    (:func:`render_job_compare`)."""
    st.markdown(f"**{model_name(job.model_id)}**")
    for line in job_lines(job):
        st.caption(line)
    clip = job.clip or {}
    if clip.get("width"):
        st.caption(f"source {clip.get('width')}×{clip.get('height')} · "
                   f"{float(clip.get('fps') or 0):g} frames/s · "
                   f"{float(clip.get('duration_s') or 0):.2f} s")
    if read_only:
        return
    from components.jobs import _download_button

    for label, path in (job.result_files or {}).items():
        p = Path(path) if path else None
        if p is not None and p.exists():
            _download_button(p, label, key=f"{key}:dl:{job.id}:{label}")


def render_detail_compare(studio: Studio, job: Job, *, key: str) -> None:
    """The compare player in a generation's detail (the Generations list), unless the same
    generation is already in the status card above it on this page."""
    if job.id in session.card_jobs(key.split(":", 1)[0]):  # this page's status card
        st.caption("Shown in the compare player above.")
        session.set_compare_working(key, False)
        return
    if "missing" in (job.result_files or {}):
        st.warning("The result could not be downloaded (its link expired), so there is "
                   "nothing to compare.")
        session.set_compare_working(key, False)
        return
    work = studio.media_state([job.id]).get(job.id, {})
    if not job.result_files:
        # Not here yet: where the download stands (progress, the next try, or a failure with
        # "Download again"), from the media work queue any process may be running.
        render_download_state(studio, job, key=key, item=work.get("download"))
        download = work.get("download")
        if download is not None and download.status == WorkStatus.FAILED:
            session.set_compare_working(key, False)
            return
    render_review_link([job.id], key=f"{key}:review-link")
    working = render_job_compare(studio, [job], key=f"{key}:compare")
    render_preview_retry(studio, job, key=key, item=work.get("preview"))
    session.set_compare_working(key, working)


def render_selection_compare(studio: Studio, jobs: Sequence[Job], *, key: str) -> None:
    """For 2–4 selected generations of one clip: compare them side by side (N-up) with a
    review link of the set."""
    done = [j for j in jobs if j.status == Status.SUCCEEDED]
    if not 2 <= len(done) <= MAX_REVIEW_IDS:
        if len(jobs) >= 2:
            st.caption("Select 2–4 succeeded generations of one clip to compare them in one "
                       "synced player.")
        return
    if not same_source(done):
        st.caption("The selected generations come from different clips; select 2–4 of one "
                   "clip to compare them.")
        return
    with st.expander(f"Compare the {len(done)} selected generations", expanded=True,
                     icon=":material/compare:"):
        render_review_link([j.id for j in done], key=f"{key}:link",
                           label="Review link of this comparison")
        render_job_compare(studio, done, key=f"{key}:nup")


def render_sampler_link(model_id: str) -> None:
    """"Try it on a segment first": the Sampler with this model's current form as the first
    variant to add."""
    st.page_link("pages/sampler.py", label="Not sure? Try settings on a short segment first "
                 "(Sampler)", icon=":material/view_module:",
                 query_params={"model": links.PAGE_SLUGS.get(model_id, "")},
                 help="Send 2–6 variants of a 1–5 s piece of the clip and compare them, each "
                      "with its cost for the whole clip.")


# -- review links -----------------------------------------------------------------------------
def review_query(job_ids: Sequence[str]) -> dict[str, str]:
    """The query of a review link: ``{"g": "<id>,<id>"}`` (at most 4 ids, order kept)."""
    ids = list(dict.fromkeys(i for i in job_ids if i))[:MAX_REVIEW_IDS]
    return {IDS_PARAM: ",".join(ids)}


def review_url(job_ids: Sequence[str], base_url: str | None = None) -> str:
    """The read-only review link of ``job_ids``: ``review?g=…`` joined onto ``base_url``
    (the page's address, e.g. ``st.context.url``), else ``/review?g=…``."""
    rel = f"{REVIEW_SLUG}?{urlencode(review_query(job_ids))}"
    return urljoin(base_url, rel) if base_url else f"/{rel}"


def parse_review_ids(values: Sequence[str]) -> list[str]:
    """Job ids from ``g`` query values (comma-separated or repeated), order kept, at most 4;
    anything that is not an id-like token is dropped."""
    out: list[str] = []
    for value in values:
        for part in str(value).split(","):
            part = part.strip()
            if re.fullmatch(r"[A-Za-z0-9-]{8,64}", part) and part not in out:
                out.append(part)
    return out[:MAX_REVIEW_IDS]


def render_review_link(job_ids: Sequence[str], *, key: str, label: str = "Review link") -> None:
    """A popover with the copyable read-only link of ``job_ids``."""
    with st.popover(label, icon=":material/share:"):
        st.code(review_url(job_ids, st.context.url), language=None, wrap_lines=True)
        st.caption("Read-only: anyone on this deployment can open it and see the comparison "
                   "with its costs. It carries no key and no file.")


# -- the status card under Submit ---------------------------------------------------------------
@dataclass(frozen=True)
class Eta:
    """How long a generation should take: ``seconds`` (the learned median, or the upper end
    of the typical range), and ``label`` saying which."""

    seconds: float
    label: str
    learned: bool


def eta_for(studio: Studio, job: Job) -> Eta:
    """The learned turnaround median of this model × tier × clip length (≥ 3 finished), else
    the model's typical range on the real service."""
    tier = (job.quote or {}).get("tier")
    duration = float((job.clip or {}).get("duration_s") or 0)
    est = load_turnaround(studio, job.model_id, str(tier), duration) if tier else None
    if est is not None:
        return Eta(est.median_s, f"≈ {duration_text(est.median_s)} — learned: median of "
                                 f"{est.samples} finished generations like this one", True)
    spec = models.MODELS.get(job.model_id)
    typical = spec.typical_minutes if spec else "5–15"
    numbers = [float(x) for x in re.findall(r"\d+(?:\.\d+)?", typical)] or [15.0]
    return Eta(max(numbers) * 60, f"{typical} min — the model's typical range on the real "
                                  "service (no learned median yet)", False)


def _elapsed_s(job: Job, now: datetime) -> float:
    start = job.submitted_at or job.created_at
    end = job.completed_at or now
    return max(0.0, (end - start).total_seconds())


def render_job_status(studio: Studio, job: Job, *, now: datetime) -> None:
    """Status, queue position, elapsed, ETA and a progress bar against the ETA for one
    generation (or its error sentence)."""
    name = model_name(job.model_id)
    settings = " · ".join(sampler.key_params(job.model_id, job.params or {}))
    elapsed = _elapsed_s(job, now)
    st.markdown(f"**{name}**" + (f" · {settings}" if settings else "")
                + f" — {_STATUS_TEXT.get(job.status, job.status)}")
    if job.status == Status.FAILED:
        st.error(plain(job.error or "The provider reported a failure without a reason."))
        return
    if job.status in (Status.UNKNOWN, Status.EXPIRED, Status.CANCELLED):
        st.warning(plain(job.error or _STATUS_TEXT[job.status]))
        return
    if job.status == Status.SUCCEEDED:
        media_busy = not job.result_files or (
            "video" in job.result_files and not job.preview_path
            and bool(studio.tracker.activity.get(job.id)))
        took = turnaround_s(job)
        st.caption(f"Finished in {duration_text(took)} · quote {_exact_or_dash(job.quote_usd)}"
                   + (f" · charge {exact(job.charge_usd)} ({charge_source(job)})"
                      if job.charge_usd else ""))
        download = (studio.media_state([job.id]).get(job.id, {}).get("download")
                    if not job.result_files else None)
        if download is not None and download.status == WorkStatus.FAILED:
            render_download_state(studio, job, key=f"card:{job.id}", item=download)
        elif media_busy:
            act = studio.tracker.activity.get(job.id)
            st.progress(act.fraction or 0.0 if act else 0.0,
                        text=f"{act.phase} {act.detail}".strip() if act else
                        "Downloading the result…")
        return
    eta = eta_for(studio, job)
    provider = "Oxen" if job.provider == "oxen" else "LTX"
    queue = ("" if job.status != Status.QUEUED else
             f" · queue position: not reported by {provider}")
    st.caption(f"Elapsed {duration_text(elapsed)} · ETA {eta.label}{queue}")
    fraction = min(0.99, elapsed / eta.seconds) if eta.seconds > 0 else 0.0
    over = elapsed > eta.seconds
    st.progress(fraction, text=(f"{duration_text(elapsed)} of ≈ {duration_text(eta.seconds)}"
                                if not over else
                                f"{duration_text(elapsed)} — longer than the ETA; still "
                                "running"))


def render_status_card(studio: Studio, *, page: str, model_id: str) -> None:
    """The card right under a model page's Submit button for the generations just submitted
    on this page (by its button, its confirmation dialog or a retry), kept for the session
    until the next submit or until closed. Scrolls itself into view once per submit, so it
    is on screen without scrolling."""
    fresh = session.take_submitted(model_id)
    if fresh:
        session.set_card_jobs(page, tuple(fresh))
    ids = session.card_jobs(page)
    if not ids:
        return
    jobs = load_jobs(studio, ids)
    if not jobs:
        session.set_card_jobs(page, ())
        return
    player_key = f"{page}:card:compare"
    live = _card_live(studio, jobs) or session.compare_working(player_key)

    @st.fragment(run_every=REFRESH_S if live else None)
    def _card() -> None:
        current = load_jobs(studio, ids)
        if not current:
            return
        with st.container(border=True, key=f"{page}-status-card"):
            scroll_into_view(f"{page}-status-card", session.card_token(page))
            head, links_col, close = st.columns([6, 2, 1], vertical_alignment="center")
            done = all(j.is_terminal or j.status == Status.UNKNOWN for j in current)
            n = len(current)
            head.markdown(f"**{'Your generation' if n == 1 else f'Your {n} generations'}"
                          + (" — done**" if done else "**"))
            with links_col:
                render_review_link([j.id for j in current], key=f"{page}:card:link")
            if close.button("Close", key=f"{page}:card:close", icon=":material/close:",
                            help="Hide this card; the generations stay in the list below."):
                session.set_card_jobs(page, ())
                st.rerun()
            now = datetime.now(UTC)
            cols = st.columns(min(n, 2)) if n > 1 else [st.container()]
            for i, job in enumerate(current):
                with cols[i % len(cols)]:
                    render_job_status(studio, job, now=now)
            succeeded = [j for j in current if j.status == Status.SUCCEEDED]
            # The panel's place is kept while waiting (its column holds a note), so the
            # player does not move when the result lands; all failed: no panel.
            working = render_job_compare(studio, current, key=player_key,
                                         panel=bool(succeeded) or not done, compact=not done)
            session.set_compare_working(player_key, working)
        if (_card_live(studio, current) or working) != live:
            st.rerun()  # start or stop this card's refresh (the next run agrees: no loop)

    _card()


def _card_live(studio: Studio, jobs: Sequence[Job]) -> bool:
    """Whether the card must keep refreshing: a generation in flight, a download or preview
    under way, or the source preview still being made."""
    for job in jobs:
        act = studio.tracker.activity.get(job.id)
        # An HDR analysis shows in the inspector, not on the card: it keeps nothing live here.
        if job.is_active or (act is not None and act.phase != ANALYSIS_PHASE):
            return True
        video = (job.result_files or {}).get("video")
        if job.status == Status.SUCCEEDED and (not job.result_files or (
                video and Path(video).exists() and not job.preview_path
                and not _plays_file(video))):
            return True  # downloading, or its preview is being made
    src = (jobs[0].source or {}).get("path")
    if src and Path(src).exists():
        state = request_source_preview(studio, Path(src))
        return not state.done
    return False


def _plays_file(path: str) -> bool:
    clip = _probe(Path(path)) if Path(path).exists() else None
    return clip is not None and _plays(clip)


def load_jobs(studio: Studio, ids: Sequence[str]) -> list[Job]:
    """The stored generations of ``ids`` in that order (ids no longer stored are skipped)."""
    out = []
    for job_id in ids:
        try:
            out.append(studio.store.get(job_id))
        except KeyError:
            continue
    return out


_scroll = st.components.v2.component(
    "video_enhance_studio.scroll_into_view",
    html='<span class="ves-anchor"></span>',
    js="""
export default function ({ data, parentElement }) {
  const seen = (window.__vesScrolled = window.__vesScrolled || {});
  if (!data || !data.token || seen[data.id] === data.token) return;
  seen[data.id] = data.token;
  const target = document.querySelector(`.st-key-${data.id}`) || parentElement;
  // below Streamlit's fixed header
  target.style.scrollMarginTop = "4.5rem";
  requestAnimationFrame(() => {
    // Already on screen with room for its first lines (under the header): leave the page
    // where the person has it. Only a card out of sight (or cut at the bottom) is scrolled to.
    const top = target.getBoundingClientRect().top;
    const header = parseFloat(getComputedStyle(document.documentElement).fontSize) * 4.5;
    if (top >= header && top + data.room <= window.innerHeight) return;
    target.scrollIntoView({ block: "start", behavior: "instant" });
  });
}
""",
    isolate_styles=False,
)


def scroll_into_view(container_key: str, token: int) -> None:
    """Scroll the container with key ``container_key`` to the top of the viewport once per
    ``token`` (a new submit), never on the refreshes in between — and only when it is out of
    sight: a card whose first :data:`CARD_ROOM_PX` pixels are already on screen stays where
    the person sees it (the page does not jump)."""
    _scroll(key=f"{container_key}:scroll",
            data={"id": container_key, "token": token, "room": CARD_ROOM_PX}, height=0)


# -- completion toasts --------------------------------------------------------------------------
def toast_transitions(jobs: Sequence[Job]) -> None:
    """Toast each generation that reached an end since this browser session last saw it
    (once): success with its model, failure with its sentence."""
    seen = session.seen_statuses()
    watched = session.watched_jobs()
    for job in jobs:
        before = seen.get(job.id, watched.get(job.id))
        if before is not None and before != job.status and job.is_terminal:
            name = model_name(job.model_id)
            if job.status == Status.SUCCEEDED:
                st.toast(f"{name}: generation succeeded — the result is ready to review.",
                         icon=":material/check_circle:")
            elif job.status == Status.FAILED:
                st.toast(f"{name}: generation failed. {plain(job.error or '')}".strip(),
                         icon=":material/error:", duration="long")
            else:
                st.toast(f"{name}: generation {job.status}.", icon=":material/cancel:")
        seen[job.id] = job.status
        if job.id in watched:
            if job.is_terminal:
                del watched[job.id]
            else:
                watched[job.id] = job.status


def render_completion_watch(studio: Studio) -> None:
    """On every page: watch the generations this session submitted and toast when each
    ends. Refreshes every 2 s only while one of them is in flight."""
    watched = session.watched_jobs()
    if not watched:
        return

    @st.fragment(run_every=REFRESH_S)
    def _watch() -> None:
        ids = list(session.watched_jobs())
        if ids:
            found = load_jobs(studio, ids)
            for gone in set(ids) - {j.id for j in found}:  # deleted meanwhile: stop watching
                session.watched_jobs().pop(gone, None)
            toast_transitions(found)
        if not session.watched_jobs():
            st.rerun()  # nothing left to watch: one full run draws this without its timer

    _watch()


__all__ = ["Eta", "duration_text", "eta_for", "job_lines", "parse_review_ids", "plain",
           "render_completion_watch", "render_job_compare", "render_job_status",
           "render_result_panel", "render_review_link", "render_source_preview_status",
           "render_status_card", "request_source_preview", "result_media", "review_query",
           "review_url", "same_source", "source_media", "toast_transitions"]
