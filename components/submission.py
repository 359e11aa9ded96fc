"""The one place the UI sends a paid request: progress, errors as sentences, and the
follow-up writes that need no core change (the sidebar's display name on the new rows, the
link from a retry to the generation it repeats)."""

from __future__ import annotations

import streamlit as st

from components import session
from studio.errors import NetworkError, StudioError
from studio.jobs import Job
from studio.service import Prepared, Studio


def has_parent_link() -> bool:
    """True when this version of the job store records ``parent_id`` (retry links)."""
    return "parent_id" in getattr(Job, "__dataclass_fields__", {})


def submit_prepared(studio: Studio, prepared: Prepared, *, mode: str = "queue", n: int = 1,
                    parent: Job | None = None) -> list[Job]:
    """Submit ``prepared`` inside an ``st.status`` box; returns the new rows ([] when nothing
    was sent or its outcome is unknown — the rows are in the store either way and the
    status box says what happened)."""
    with st.status("Submitting…", expanded=True) as status:
        bar = st.progress(0.0)

        def progress(what: str, frac: float | None) -> None:
            bar.progress(min(1.0, frac or 0.0), text=what)

        try:
            if mode == "sync":
                status.update(label="Running synchronously — this blocks until the video is ready")
            jobs = studio.submit(prepared, mode=mode, num_generations=n, progress=progress)
        except NetworkError as exc:
            status.update(label="Submit outcome unknown" if exc.maybe_sent else "Not submitted",
                          state="error")
            st.error(str(exc))
            return []
        except StudioError as exc:
            status.update(label="Not submitted", state="error")
            st.error(str(exc))
            return []
        jobs = annotate(studio, jobs, parent=parent)
        ids = ", ".join(j.remote_id or j.id[:8] for j in jobs)
        status.update(label=f"Submitted {len(jobs)} generation(s): {ids}", state="complete")
    return jobs


def annotate(studio: Studio, jobs: list[Job], *, parent: Job | None = None) -> list[Job]:
    """Write this browser's display name and, for a retry, the parent link onto new rows."""
    name = session.display_name()
    out = []
    for job in jobs:
        changes: dict[str, str] = {}
        if name and name != job.owner_name:
            changes["owner_name"] = name
        if parent is not None and has_parent_link():
            changes["parent_id"] = parent.id
        out.append(studio.store.update(job.id, **changes) if changes else job)
    return out
