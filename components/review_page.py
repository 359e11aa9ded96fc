"""The read-only review page behind review links (``/review?g=<job id>,<job id>``): the
compare player of 1–4 generations of one clip with their labels and a cost card, for anyone
on the same deployment. No actions, no downloads, no key, no server path, no provider URL:
media come through Streamlit's media route."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import pandas as pd
import streamlit as st

from components import session
from components.review import (
    IDS_PARAM,
    REFRESH_S,
    charge_source,
    duration_text,
    model_name,
    parse_review_ids,
    render_job_compare,
    turnaround_s,
)
from studio import sampler
from studio.jobs import Job
from studio.money import cents, exact
from studio.service import Studio


def cost_frame(jobs: Sequence[Job]) -> pd.DataFrame:
    """The cost card: one row per generation — model, settings, status, quote and where its
    rate came from, charge and where it came from, turnaround, owner."""
    rows = []
    for job in jobs:
        quote = job.quote or {}
        rows.append({
            "Model": model_name(job.model_id),
            "Settings": " · ".join(sampler.key_params(job.model_id, job.params or {})),
            "Status": job.status,
            "Quote (USD)": exact(quote["amount_usd"]) if quote.get("amount_usd") else "—",
            "Quote from": quote.get("provenance") or "",
            "Charge (USD)": exact(job.charge_usd) if job.charge_usd else "",
            "Charge from": charge_source(job) if job.charge_usd else "",
            "Turnaround": duration_text(turnaround_s(job)) if turnaround_s(job) else "",
            "Owner": job.owner_name or "",
        })
    return pd.DataFrame(rows)


def _total(values: Sequence[Decimal | None]) -> Decimal | None:
    known = [v for v in values if v is not None]
    return sum(known, Decimal(0)) if known else None


def render_review_page(studio: Studio) -> None:
    """The page body: parse the link, load the generations, show the cost card and the
    player (refreshing while any of them is still running)."""
    st.title("Review")
    ids = parse_review_ids(st.query_params.get_all(IDS_PARAM))
    if not ids:
        st.info("A review link names 1–4 generations, e.g. `/review?g=<id>,<id>`. Open one "
                "from a generation's **Review link** button.", icon=":material/link:")
        return
    jobs: list[Job] = []
    for job_id in ids:
        try:
            jobs.append(studio.store.get(job_id))
        except KeyError:
            continue
    if len(jobs) < len(ids):
        st.warning(f"{len(ids) - len(jobs)} of the {len(ids)} generations in this link are not "
                   "in this deployment's store (deleted, or the link is from another "
                   "deployment).")
    if not jobs:
        return
    names = ", ".join(dict.fromkeys(model_name(j.model_id) for j in jobs))
    label = (jobs[0].source or {}).get("label") or "a clip"
    st.caption(f"{names} on *{label}* · read-only · opened from a review link")
    live = any(j.is_active for j in jobs) or session.compare_working("review:compare")

    @st.fragment(run_every=REFRESH_S if live else None)
    def _body() -> None:
        current = []
        for job in jobs:
            try:
                current.append(studio.store.get(job.id))
            except KeyError:
                continue
        quoted = _total([j.quote_amount for j in current])
        charged = _total([j.charge_amount for j in current])
        c1, c2, c3 = st.columns(3)
        c1.metric("Generations", len(current))
        c2.metric("Quoted", cents(quoted) if quoted is not None else "—",
                  help=f"Exactly {exact(quoted)}: the sum of the quotes below." if quoted else None)
        c3.metric("Charged", cents(charged) if charged is not None else "not yet",
                  help=f"Exactly {exact(charged)}: the sum of the charges below."
                  if charged is not None else "No charge reported yet.")
        st.dataframe(cost_frame(current), hide_index=True, width="stretch")
        working = render_job_compare(studio, current, key="review:compare", read_only=True)
        session.set_compare_working("review:compare", working)
        if (any(j.is_active for j in current) or working) != live:
            st.rerun()

    _body()


__all__ = ["cost_frame", "render_review_page"]
