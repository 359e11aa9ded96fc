"""Where a finished generation's result stands: downloading (with progress), waiting for a
retry, or settled as failed with a retry action — read from the media work queue, so it shows
work done by any process sharing the store (the app's pool or a ``studio worker``)."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from components.text import plain
from studio.jobs import Job
from studio.service import Studio
from studio.tracking.work import WorkItem, WorkStatus


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().strftime("%H:%M:%S")


def render_download_state(studio: Studio, job: Job, *, key: str,
                          item: WorkItem | None = None) -> None:
    """The result area of a succeeded generation whose files are not here (yet).

    ``item`` is the generation's ``download`` work row when the caller already read it."""
    if item is None:
        item = studio.media_state([job.id]).get(job.id, {}).get("download")
    if item is None:
        st.progress(0.0, text="Waiting to download the result…")
        return
    if item.status == WorkStatus.FAILED:
        # The sentence itself is on the generation (shown above); here: what can be done.
        if job.provider == "ltx":
            st.caption("LTX keeps results for 24 h after they finish; a retry reads the "
                       "generation again for a fresh link.")
        if st.button("Download again", key=f"{key}:redownload:{job.id}",
                     icon=":material/refresh:",
                     help="Reads the generation again (for a fresh link if it expired) and "
                          "downloads the result, within the same size and time limits."):
            studio.retry_download(job)
            st.rerun()
        return
    if item.running():
        fraction = min(1.0, max(0.0, item.progress or 0.0))
        st.progress(fraction, text=plain(item.detail or "Downloading the result…"))
        return
    if item.attempts:
        st.progress(0.0, text=plain(
            f"Download try {item.attempts + 1} at {_when(item.next_at)}; the last one "
            f"failed: {item.error or 'no reason given'}"))
        return
    st.progress(0.0, text="Waiting to download the result…")


def render_preview_retry(studio: Studio, job: Job, *, key: str,
                         item: WorkItem | None) -> None:
    """A "Make the preview again" action for a preview that settled as failed."""
    if item is None or item.status != WorkStatus.FAILED:
        return
    if st.button("Make the preview again", key=f"{key}:repreview:{job.id}",
                 icon=":material/refresh:"):
        studio.retry_media(job, "preview")
        st.rerun()
