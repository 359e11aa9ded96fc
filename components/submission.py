"""The one place the UI sends a paid request: progress, errors as sentences, and the
confirmation dialog. The sidebar's display name and a retry's link to the generation it
repeats go to the core with the request (:meth:`studio.service.Studio.submit`), which writes
them with the rows before the paid request leaves; components never write the store."""

from __future__ import annotations

import streamlit as st

from components import session
from components.text import plain
from studio.errors import BudgetExceededError, ConfirmationRequired, NetworkError, StudioError
from studio.jobs import Job
from studio.money import cents, exact
from studio.service import Prepared, Studio


def submit_prepared(studio: Studio, prepared: Prepared, *, mode: str = "queue", n: int = 1,
                    parent: Job | None = None, confirmed: bool = False,
                    options: dict | None = None) -> list[Job]:
    """Submit ``prepared`` inside an ``st.status`` box; returns the new rows ([] when nothing
    was sent or its outcome is unknown — the rows are in the store either way and the
    status box says what happened).

    The core's budget guard may refuse (the arithmetic is shown) or ask for a confirmation
    (a submit above ``STUDIO_CONFIRM_ABOVE_USD``): then a dialog shows the quote and sends
    only when the person confirms. ``options`` are the request-level fields
    (``target_namespace``, ``response_format``) handed to :meth:`Studio.submit`."""
    if not confirmed:
        try:
            studio.check_submit(prepared, num_generations=n)
        except BudgetExceededError as exc:
            st.error(str(exc), icon=":material/block:")
            return []
        except ConfirmationRequired as exc:
            # Opened by the router at the end of this run (and of every run until it is
            # answered), so a click inside the dialog is never lost.
            session.set_pending_confirmation({"prepared": prepared, "mode": mode, "n": n,
                                              "parent": parent, "why": str(exc),
                                              "options": options or {}})
            return []
        confirmed = True  # checked just now; the core checks again when it sends
    with st.status("Submitting…", expanded=True) as status:
        bar = st.progress(0.0)

        def progress(what: str, frac: float | None) -> None:
            bar.progress(min(1.0, frac or 0.0), text=what)

        try:
            if mode == "sync":
                status.update(label="Running synchronously — this blocks until the video is ready")
            jobs = studio.submit(prepared, mode=mode, num_generations=n, progress=progress,
                                 confirmed=confirmed, owner_name=session.display_name(),
                                 parent_id=parent.id if parent is not None else None,
                                 **(options or {}))
        except NetworkError as exc:
            status.update(label="Submit outcome unknown" if exc.maybe_sent else "Not submitted",
                          state="error", expanded=True)  # the reason stays in view
            st.error(plain(exc))
            return []
        except StudioError as exc:
            status.update(label="Not submitted", state="error", expanded=True)
            st.error(plain(exc))
            return []
        jobs = watch_submitted(jobs)
        ids = ", ".join(j.display_id for j in jobs)
        status.update(label=f"Submitted {len(jobs)} generation(s): {ids}", state="complete")
    return jobs


@st.dialog("Confirm this submit", on_dismiss=session.close_confirmation)
def _confirm_dialog(studio: Studio, pending: dict) -> None:
    prepared: Prepared = pending["prepared"]
    n: int = pending["n"]
    quote = prepared.quote
    st.markdown(pending["why"])
    if quote is not None:
        st.metric("Quote" if n == 1 else f"Quote for {n} generations",
                  cents(quote.amount_usd * n),
                  help=f"Exactly {exact(quote.amount_usd * n)} (USD).")
        st.caption(f"{quote.basis} · rate: {quote.rate.label}")
    c1, c2 = st.columns(2)
    if c1.button("Confirm and submit", type="primary", key="confirm-submit:yes"):
        session.close_confirmation()
        jobs = submit_prepared(studio, prepared, mode=pending["mode"], n=n,
                               parent=pending["parent"], confirmed=True,
                               options=pending.get("options"))
        if jobs:
            st.rerun()
    if c2.button("Cancel", key="confirm-submit:no"):
        session.close_confirmation()
        st.rerun()


def render_confirm_dialog(studio: Studio) -> None:
    """Open the confirmation dialog when a submit above the threshold is waiting for one."""
    pending = session.pending_confirmation()
    if pending:
        _confirm_dialog(studio, pending)


def watch_submitted(jobs: list[Job], *, card: bool = True) -> list[Job]:
    """Watch new rows for the every-page completion toast and (``card``) show them in their
    model page's status card. The display name and a retry's parent link are already on
    the rows (written by :meth:`studio.service.Studio.submit`)."""
    if jobs and card:
        session.note_submitted([j.id for j in jobs], jobs[0].model_id)
    elif jobs:
        session.watch_jobs([j.id for j in jobs])
    return jobs
