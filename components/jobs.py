"""Generation views: the live queue table, toasts on completion, the detail of the chosen
generation with its actions, and the before/after player.

The table lives in a fragment that reruns every 2 s only while something is in flight or
being downloaded; it reads the job store (the process-wide tracker does the polling), so
open tabs add no provider traffic. What it lists is a :class:`components.filters.JobQuery`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from components import review, session
from components.download_state import render_download_state, render_preview_retry
from components.filters import JobQuery, load_jobs
from components.job_actions import (
    parent_label,
    render_rerun_link,
    render_retry_button,
    render_retry_dialog,
    render_selection_download,
)
from components.text import plain
from studio import ledger, media, models
from studio.errors import StudioError
from studio.jobs import Job
from studio.money import exact
from studio.service import Studio, source_preview
from studio.store import Status
from studio.tracking.work import WorkItem

STATUS_ICON = {
    Status.SUBMITTING: ":blue-badge[submitting]", Status.WAITING: ":gray-badge[waiting]",
    Status.QUEUED: ":gray-badge[queued]",
    Status.PROCESSING: ":blue-badge[processing]", Status.SUCCEEDED: ":green-badge[succeeded]",
    Status.FAILED: ":red-badge[failed]", Status.CANCELLED: ":orange-badge[cancelled]",
    Status.EXPIRED: ":gray-badge[expired]", Status.UNKNOWN: ":violet-badge[unknown]",
}
REFRESH_S = 2.0
#: Fixed widths (px) of the queue table's columns whose text changes while it is on screen
#: (a status, a charge, an id arriving) or runs long. The table sizes other columns to their
#: text once, when first drawn, and never again: "queued" → "succeeded" was cut to
#: "succeede" (issue 10 item 20). Each fits its longest value at 14 px Source Sans.
COLUMN_WIDTHS = {"Status": 110, "Charge (USD)": 110, "Charge from": 240, "Elapsed": 80,
                 "Generation id": 300}
MAX_INLINE_DOWNLOAD = 300 * 1024 * 1024


def _elapsed(job: Job) -> str:
    end = job.completed_at or datetime.now(UTC)
    secs = max(0, int((end - job.created_at).total_seconds()))
    return f"{secs // 60}:{secs % 60:02d}"


def jobs_frame(jobs: list[Job]) -> pd.DataFrame:
    """The queue table as a DataFrame (one row per generation, newest first)."""
    rows = []
    for j in jobs:
        spec = models.MODELS.get(j.model_id)
        rows.append({
            "Created": j.created_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
            "Model": spec.display_name if spec else j.model_id,
            "Status": j.status,
            "Source": (j.source or {}).get("label", ""),
            "Quote (USD)": exact(j.quote_usd) if j.quote_usd is not None else "",
            "Quote from": (j.quote or {}).get("provenance", ""),
            "Charge (USD)": exact(j.charge_usd) if j.charge_usd is not None else "",
            # The live provider's own figure, the sandbox's, or computed by our rule (LTX
            # reports no charge): each says which.
            "Charge from": ledger.charge_source_label(j),
            "Elapsed": _elapsed(j),
            # One id per generation: the provider's where it has one, else ours; the other
            # is in the detail's "Request details" (issue 10 item 13).
            "Generation id": j.display_id,
            "Owner": j.owner_name or j.owner[:8],
        })
    return pd.DataFrame(rows)


def _needs_attention(studio: Studio, jobs: list[Job],
                     states: dict[str, dict[str, WorkItem]] | None = None) -> bool:
    """Something can still change on its own: a generation in flight, or media work
    (download, preview) not settled yet."""
    if any(j.is_active for j in jobs):
        return True
    done = [j.id for j in jobs if j.status == Status.SUCCEEDED]
    states = states if states is not None else studio.media_state(done)
    return any(not item.settled for j in done for item in states.get(j, {}).values()) or any(
        j.status == Status.SUCCEEDED and not j.result_files and "download" not in states.get(j.id, {})
        for j in jobs)


def _toast_transitions(jobs: list[Job]) -> None:
    review.toast_transitions(jobs)  # one toast per end, shared with the every-page watch


def _chosen_from_selection(key: str, jobs: list[Job], rows: list[int]) -> list[Job]:
    """The selected rows as jobs; a row that was just added to the selection becomes the
    generation whose detail is shown."""
    selected = [jobs[r] for r in rows if 0 <= r < len(jobs)]
    ids = tuple(j.id for j in selected)
    before = session.selected_rows(key)
    added = [i for i in ids if i not in before]
    if added:
        session.select_job(key, added[-1])
    session.set_selected_rows(key, ids)
    return selected


def render_live_jobs(studio: Studio, *, key: str, model_id: str | None = None,
                     limit: int = 200, query: JobQuery | None = None,
                     multi_select: bool = False) -> None:
    """The live generations table (+ the detail of the selected one).

    ``query`` filters and orders the rows (default: every generation, newest first; a
    ``model_id`` narrows it to one model). ``multi_select`` lets several rows be selected
    and offers them as one ZIP.
    """
    query = query or JobQuery(model_id=model_id)
    if model_id and not query.model_id:
        query = replace(query, model_id=model_id)
    me = studio.settings.owner()
    jobs_now = load_jobs(studio.store, query, me=me, limit=limit)
    states_now = studio.media_state([j.id for j in jobs_now])  # one read for every row
    live = (_needs_attention(studio, jobs_now, states_now)
            or session.compare_working(f"{key}:detail"))
    # The page's own run hands the rows it just read to the fragment's first run; the
    # fragment's timed reruns read them again. (Reading 500 rows twice per rerun was a
    # quarter of the Generations page's time with 10,000 generations in the store.)
    fresh = [(jobs_now, states_now)]

    @st.fragment(run_every=REFRESH_S if live else None)
    def _live() -> None:
        if fresh:
            jobs, states = fresh.pop()
        else:
            jobs = load_jobs(studio.store, query, me=me, limit=limit)
            states = studio.media_state([j.id for j in jobs])
        _toast_transitions(jobs)
        if not jobs:
            # A model page's own model is not a filter the user chose.
            unfiltered = (replace(query, model_id=None) if model_id else query).is_default
            if unfiltered and query.scope == "mine" and studio.store.list(limit=1):
                st.caption("None of these generations are yours (made with this app's key). "
                           "Choose Team to see everyone's.")
            elif unfiltered and model_id is None:
                _render_first_steps()  # the Generations page has no form "above"
            elif unfiltered:
                st.caption("No generations yet. Submit one above; it will appear here and "
                           "survive reloads and restarts.")
            else:
                st.caption("No generations match these filters.")
            return
        # One slot for the bars, however many run: Streamlit matches elements by position, so
        # a bar appearing must not move the table and the detail (their buttons would be
        # drawn twice until the rerun ends; issue 10 item 20).
        with st.container():
            for job in jobs:
                for item in states.get(job.id, {}).values():
                    if item.running():
                        st.progress(min(1.0, item.progress or 0.0),
                                    text=plain(item.detail or f"{item.kind}…"))
        if multi_select:
            st.caption(f"{len(jobs)} generation(s)" + (
                f" — the first {limit}; narrow the filters to see others"
                if limit and len(jobs) >= limit else ""))
        frame = jobs_frame(jobs)
        event = st.dataframe(frame, hide_index=True, width="stretch", on_select="rerun",
                             selection_mode="multi-row" if multi_select else "single-row",
                             key=f"{key}:table", column_config={
                                 name: st.column_config.Column(width=px)
                                 for name, px in COLUMN_WIDTHS.items()})
        rows = event.selection.rows if event is not None and hasattr(event, "selection") else []
        selected = _chosen_from_selection(key, jobs, list(rows))
        if multi_select:
            render_selection_download(studio, selected, key=f"{key}:selection")
            review.render_selection_compare(studio, selected, key=f"{key}:selection")
        chosen_id = session.selected_job(key)
        chosen = next((j for j in jobs if j.id == chosen_id), jobs[0])
        render_job_detail(studio, chosen, key=f"{key}:detail", scope=key)
        if (_needs_attention(studio, jobs, states)
                or session.compare_working(f"{key}:detail")) != live:
            st.rerun()  # start or stop the auto-refresh

    _live()
    render_retry_dialog(studio, scope=key)


def _render_first_steps() -> None:
    """An empty Generations list (the app's first page): where generations are made — a
    link to every model page, grouped by task as in the navigation (issue 10 item 19)."""
    with st.container(border=True):
        st.markdown("**No generations yet.** Open a model page to make the first one: it "
                    "quotes the bundled sample clip (or your own) before anything is sent, "
                    "and every generation then appears here and survives reloads and "
                    "restarts.")
        groups = models.tasks()
        for col, (task, label) in zip(st.columns(len(groups)), groups, strict=True):
            with col:
                st.caption(label)
                for unit in models.units(task):
                    st.page_link(unit.page_file or f"pages/{unit.page}.py",
                                 label=unit.display_name, icon=unit.icon,
                                 help=unit.description)


def render_job_detail(studio: Studio, job: Job, *, key: str, scope: str | None = None) -> None:
    """Status, errors, actions and — once succeeded — source and result side by side.

    ``scope`` is the key of the list this detail belongs to (where a retry dialog opens and
    which row is selected afterwards); it defaults to ``key``.
    """
    scope = scope or key
    spec = models.MODELS.get(job.model_id)
    title = spec.display_name if spec else job.model_id
    st.markdown(f"**{title}** · {STATUS_ICON.get(job.status, job.status)} · "
                f"source *{(job.source or {}).get('label', '?')}* · "
                f"generation `{job.display_id}`")
    lineage = parent_label(studio, job)
    if lineage:
        st.caption(f"↩︎ {lineage}")
    # Error sentences quote the provider: shown as plain text, never as Markdown.
    if job.status == Status.FAILED and job.error:
        st.error(plain(job.error))
    elif job.status == Status.UNKNOWN:
        st.warning(plain(job.error or "The outcome of this request is unknown."))
    elif job.error:
        st.warning(plain(job.error))
    # One fixed slot per action and for the player: an action that comes or goes (Cancel
    # while running, Retry after a failure, the player on success) must not shift what
    # follows, or the old "Share link" stays drawn beside the new one until the run ends
    # (issue 10 item 20: Streamlit replaces elements by position).
    with st.container(horizontal=True, vertical_alignment="center"):
        cancel_slot, retry_slot = st.container(width="content"), st.container(width="content")
        link_slot = st.container(horizontal=True, width="content", vertical_alignment="center")
    with cancel_slot:
        if job.is_active:
            if job.provider == "oxen" and job.remote_id:
                if not session.cancel_asked(job.id) and st.button(
                        "Cancel generation…", key=f"{key}:cancel:{job.id}",
                        help="Asks first, and says what the provider bills for a cancel."):
                    session.set_cancel_asked(job.id, True)  # the question shows below
            elif job.provider == "ltx":
                st.caption("The LTX API has no cancel endpoint: this generation runs to the end.")
    with retry_slot:
        render_retry_button(job, scope=scope, key=key)
    with link_slot:
        render_rerun_link(job, key=key)
    if job.is_active and session.cancel_asked(job.id):
        _render_cancel_confirmation(studio, job, key=key)
    elif session.cancel_asked(job.id):
        session.set_cancel_asked(job.id, False)  # it finished meanwhile: nothing to cancel
    with st.container():
        if job.status == Status.SUCCEEDED:
            review.render_detail_compare(studio, job, key=key)
    with st.expander("Request details"):
        st.json({"generation_id": job.remote_id, "job_id": job.id,
                 "model": job.model_id, "params": job.params, "mode": job.mode,
                 "target": job.target, "quote": job.quote, "charge_usd": job.charge_usd,
                 # A sandbox link points at this server's loopback: useless to a teammate
                 # and a server detail (issue 10 item 17), so only its kind is shown.
                 "result_urls": (job.result_urls if job.target == "live" else
                                 {k: "link on the local sandbox" for k in job.result_urls}),
                 "owner": job.owner_name or job.owner,
                 "target_namespace": getattr(job, "target_namespace", None),
                 "parent_id": getattr(job, "parent_id", None)})


def _render_cancel_confirmation(studio: Studio, job: Job, *, key: str) -> None:
    """The question before a cancel: what it stops and what the provider bills for it."""
    with st.container(border=True):
        st.warning(f"Cancel this generation? {studio.cancel_terms(job)}", icon=":material/help:")
        c1, c2 = st.columns(2)
        if c1.button("Yes, cancel it", type="primary", key=f"{key}:cancel-yes:{job.id}"):
            session.set_cancel_asked(job.id, False)
            try:
                studio.cancel(job)
                st.toast("Cancel requested.", icon="⛔")
            except StudioError as exc:
                st.error(plain(exc))
        if c2.button("Keep it running", key=f"{key}:cancel-no:{job.id}"):
            session.set_cancel_asked(job.id, False)
            st.rerun()


def _playable_source(studio: Studio, job: Job) -> tuple[Path | str | None, bool]:
    src = job.source or {}
    path = Path(src["path"]) if src.get("path") else None
    if path is None or not path.exists():
        return src.get("url"), False
    try:
        with st.spinner("Making a browser-playable preview of the source…"):
            return source_preview(path, studio.settings.data_dir / "previews")
    except StudioError as exc:
        st.warning(plain(f"The source cannot be previewed: {exc}"))
        return None, False


def render_player(studio: Studio, job: Job, *, key: str) -> None:
    """Source and result side by side; HDR, ProRes, EXR and 4:4:4 media play through a
    tone-mapped H.264 "SDR preview"."""
    work = studio.media_state([job.id]).get(job.id, {})
    if not job.result_files:
        render_download_state(studio, job, key=key, item=work.get("download"))
        return
    if "missing" in job.result_files:
        st.warning("The result link expired before it could be downloaded.")
        return
    left, right = st.columns(2)
    with left:
        st.markdown("**Source**")
        src, is_preview = _playable_source(studio, job)
        if src:
            st.video(str(src))
            if is_preview:
                st.caption("SDR preview: the original is not browser-playable (e.g. 4:4:4).")
    with right:
        st.markdown("**Result**")
        video = job.result_files.get("video")
        if job.preview_path and Path(job.preview_path).exists():
            st.video(job.preview_path)
            st.caption(_preview_caption(job))
        elif video and Path(video).exists():
            st.video(video)
        else:
            st.info("No playable output.")
        render_preview_retry(studio, job, key=key, item=work.get("preview"))
        for label, path in job.result_files.items():
            p = Path(path)
            if p.exists():
                _download_button(p, label, key=f"{key}:dl:{job.id}:{label}")


def _preview_caption(job: Job) -> str:
    files = job.result_files
    if "video" in files:
        try:
            clip = media.probe(files["video"])
        except StudioError:
            return "SDR preview"
        hdr = {"smpte2084": "PQ", "arib-std-b67": "HLG"}.get(clip.color_transfer or "", "")
        what = f"{clip.codec.upper()} {clip.width}×{clip.height}" + (f" {hdr} HDR" if hdr else "")
        return f"SDR preview — tone-mapped for this screen; the original is {what}."
    return "SDR preview — tone-mapped from the linear-light EXR frames."


def _download_button(path: Path, label: str, *, key: str) -> None:
    size = path.stat().st_size
    name = {"video": "result video", "exr_frames": "EXR frames (ZIP)"}.get(label, label)
    if size > MAX_INLINE_DOWNLOAD:
        # No server path on the page (issue 10 item 17): the file's name is enough for
        # whoever runs the app to find it in the data folder's results.
        st.caption(plain(f"{name}: {size / 1e6:.0f} MB, too large to send through the "
                         f"browser; it is {path.name} in the app's data folder (results)."))
        return
    st.download_button(f"Download {name} ({size / 1e6:.1f} MB)", data=path.read_bytes,
                       file_name=path.name, key=key)
