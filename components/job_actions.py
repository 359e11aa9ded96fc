"""Actions on generations: retry as a new linked generation (after a confirmation dialog
that shows the quote), "rerun with edits" as a shareable model-page link, and a ZIP of a
selection with its manifest.

The retry dialog is opened from session state rather than from the button's return value:
the button sits inside the live-refreshing fragment, and a dialog opened there would be
drawn again on every refresh. The button records which generation to retry and reruns the
app; :func:`render_retry_dialog` then opens the dialog once per full run until it is
confirmed, cancelled or dismissed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import streamlit as st

from components import links, session
from components.loaders import load_probe, stamp
from components.quote_panel import render_budget_verdict, render_quote, submit_label
from components.rates_view import load_rate_book
from components.source_picker import SAMPLE
from components.submission import submit_prepared
from components.text import plain, problem_list
from studio import manifest, models
from studio.errors import StudioError
from studio.jobs import Job
from studio.service import Source, Studio
from studio.store import Status

RETRYABLE = (Status.FAILED, Status.CANCELLED, Status.UNKNOWN, Status.EXPIRED)
MAX_ZIP_DOWNLOAD = 300 * 1024 * 1024  # larger selections are written to the data folder


def retry_source(job: Job) -> Source | None:
    """The clip of ``job`` for a retry: its local file when that still exists, else the URL
    it was sent from; ``None`` when neither is available."""
    src = job.source or {}
    label = src.get("label") or "source"
    path = Path(src["path"]) if src.get("path") else None
    if path is not None and path.is_file():
        return Source(src.get("kind") or "upload", label, path=path)
    if src.get("url"):
        return Source("url", label, url=str(src["url"]))
    return None


def parent_label(studio: Studio, job: Job) -> str | None:
    """"retry of <generation id>" for a job made by a retry, else ``None``."""
    parent_id = getattr(job, "parent_id", None)
    if not parent_id:
        return None
    try:
        parent = studio.store.get(parent_id)
    except KeyError:
        return f"retry of `{parent_id[:8]}` (no longer in the store)"
    return f"retry of `{parent.display_id}`"


def render_retry_button(job: Job, *, scope: str, key: str) -> None:
    """"Retry…" for a failed, cancelled, unknown or expired generation: opens the dialog."""
    if job.status not in RETRYABLE:
        return
    if st.button("Retry…", key=f"{key}:retry:{job.id}",
                 help="Send the same request again as a new generation, after a quote."):
        session.set_retry_job(scope, job.id)
        st.rerun()  # a full run, where render_retry_dialog opens the dialog


@st.dialog("Retry generation", width="medium", on_dismiss=session.close_retry_dialogs)
def _retry_dialog(studio: Studio, job: Job, scope: str) -> None:
    spec = models.MODELS.get(job.model_id)

    def close() -> None:
        if st.button("Close", key=f"{scope}:retry:close"):
            session.set_retry_job(scope, None)
            st.rerun()

    source = retry_source(job)
    if spec is None or source is None:
        st.error("This generation cannot be repeated: its model or its clip is no longer "
                 "known. Start a new one from the model's page.")
        close()
        return
    old = job.display_id
    st.markdown(f"Send **{spec.display_name}** again on *{source.label}* with the same "
                f"parameters. This is a **new, paid** generation, linked to `{old}`.")
    if job.status == Status.UNKNOWN:
        st.warning("The original request may have reached the provider. Check the provider's "
                   "history first, or you may pay for it twice.")
    try:
        with st.spinner("Reading the clip's header…"):
            clip = load_probe(source.probe_target, stamp(source))
        prepared = studio.prepare(job.model_id, source, job.params, clip=clip,
                                  book=load_rate_book(studio))
    except StudioError as exc:
        st.error(plain(exc))
        close()
        return
    render_quote(prepared.quote, key=f"{scope}:retry:quote")
    verdict = None
    if prepared.quote is not None:
        try:
            verdict = studio.check_budget(prepared.quote.amount_usd)
        except StudioError as exc:
            verdict = str(exc)
        render_budget_verdict(verdict)
    if prepared.problems:
        st.error("This request cannot be sent again as it is:\n\n"
                 + problem_list(prepared.problems)
                 + "\n\nUse *Rerun with edits* to fix it on the model page.")
    label = submit_label(prepared.quote.amount_usd if prepared.quote else None, verdict,
                         verb="Submit again")
    over = isinstance(verdict, str) or (verdict is not None and not verdict.allowed)
    c1, c2 = st.columns(2)
    confirm = c1.button(label, type="primary", disabled=not prepared.ok or over,
                        key=f"{scope}:retry:confirm")
    if c2.button("Cancel", key=f"{scope}:retry:cancel"):
        session.set_retry_job(scope, None)
        st.rerun()
    if confirm:
        # This dialog is the confirmation (it shows the quote); the core still applies the
        # budget and says why when it refuses.
        # A retry bills the namespace the original did.
        options = {"target_namespace": job.target_namespace} if getattr(
            job, "target_namespace", None) else None
        new = submit_prepared(studio, prepared, mode="queue", n=1, parent=job, confirmed=True,
                              options=options)
        if new:
            session.set_retry_job(scope, None)
            session.select_job(scope, new[0].id)
            st.rerun()


def render_retry_dialog(studio: Studio, *, scope: str) -> None:
    """Open the retry dialog when a Retry button of ``scope`` asked for it."""
    job_id = session.retry_job(scope)
    if not job_id:
        return
    try:
        job = studio.store.get(job_id)
    except KeyError:
        session.set_retry_job(scope, None)
        return
    _retry_dialog(studio, job, scope)


def render_rerun_link(job: Job, *, key: str) -> None:
    """"Rerun with edits": the model page with this generation's parameters (and its URL
    source) pre-filled, plus the same link to copy and share."""
    if job.model_id not in links.PAGE_SLUGS:
        return
    # The marker lets the page say where its values came from: no link was opened.
    st.page_link(links.page_path(job.model_id), label="Rerun with edits", icon=":material/edit:",
                 query_params={**links.rerun_query(job), links.RERUN_KEY: job.display_id},
                 help="Open the model page with these parameters filled in.")
    url = links.rerun_url(job, st.context.url)
    source = job.source or {}
    with st.popover("Share link", icon=":material/link:"):
        st.code(url, language=None, wrap_lines=True)
        if source.get("kind") == "sample":
            # The sample ships with the app: the link carries it (issue 10 item 16).
            if source.get("label") != SAMPLE.name:
                st.caption(plain(f"The link opens the whole sample clip; this generation "
                                 f"used {source.get('label')}."))
        elif source.get("kind") != "url":
            st.caption("The clip was a local file, so the link carries the parameters only.")


def zip_opener(studio: Studio, job_ids: tuple[str, ...]) -> Callable[[], BinaryIO]:
    """A callable for ``st.download_button(data=...)``: on click it writes the ZIP of the
    jobs (read fresh from the store) into ``<data_dir>/exports`` and returns it opened.

    The file is unlinked right after opening (POSIX keeps it readable through the handle),
    so exports do not pile up; anything left behind is pruned after an hour.
    """
    out_dir = studio.settings.data_dir / "exports" / "tmp"

    def open_zip() -> BinaryIO:
        manifest.prune_exports(out_dir)
        jobs = []
        for job_id in job_ids:
            try:
                jobs.append(studio.store.get(job_id))
            except KeyError:
                continue
        archive = manifest.write_zip(jobs, out_dir)
        fh = open(archive.path, "rb")  # noqa: SIM115 - Streamlit reads and closes it
        try:
            archive.path.unlink()
        except OSError:  # e.g. Windows: prune_exports removes it later
            pass
        return fh

    return open_zip


def render_selection_download(studio: Studio, jobs: list[Job], *, key: str) -> None:
    """"Download selection as ZIP" for the selected rows (result files + manifest.csv)."""
    if not jobs:
        st.caption("Select rows (the boxes at the left of the table) to download them "
                   "together as a ZIP with a manifest.")
        return
    size = manifest.selection_bytes(jobs)
    with_files = sum(1 for j in jobs if manifest.result_files(j))
    what = (f"{len(jobs)} selected · {with_files} with downloaded results · "
            f"{size / 1e6:.1f} MB")
    ids = tuple(j.id for j in jobs)
    if size > MAX_ZIP_DOWNLOAD:
        st.caption(what + " — too large to send through the browser; write it to the data "
                          "folder instead.")
        if st.button("Write selection ZIP to the data folder", key=f"{key}:zipfile"):
            try:
                archive = manifest.write_zip(
                    [studio.store.get(i) for i in ids], studio.settings.data_dir / "exports")
            except OSError as exc:
                st.error(f"The ZIP could not be written: {exc}")
            else:
                st.success(f"Written to the data folder: `exports/{archive.path.name}` "
                           f"({archive.bytes / 1e6:.0f} MB of results)")
        return
    st.caption(what)
    st.download_button("Download selection as ZIP", data=zip_opener(studio, ids),
                       file_name=f"generations-{len(jobs)}.zip", mime="application/zip",
                       icon=":material/folder_zip:", key=f"{key}:zip", on_click="ignore")
