"""The Sampler page: one clip, a 1–5 s segment of it, 2–6 variants (models × settings), each
quoted for the segment and for the whole clip before anything is sent; one click sends them
all (through the budget guard and, above the threshold, a confirmation of the batch total);
the results land in one synced N-up player with their costs, and "Promote" opens a variant's
model page prefilled for the whole clip.

The segment is cut once, frame-exact (:func:`studio.segment.cut_segment`), when the batch is
sent, and uploaded once per provider (the upload cache of :meth:`Studio.resolve_source`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import streamlit as st

from components import links, review, session
from components.loaders import effective_spec, load_probe, stamp
from components.model_page import render_clip
from components.quote_panel import BADGE
from components.rates_view import load_rate_book
from components.request_form import render_request_form, widget_values
from components.source_picker import render_source_picker
from components.submission import watch_submitted
from studio import models, presets, sampler, segment
from studio.errors import (
    BudgetExceededError,
    ConfirmationRequired,
    MediaError,
    ParamError,
    StudioError,
)
from studio.jobs import Job
from studio.media import ClipInfo
from studio.money import cents, exact
from studio.sampler import Variant
from studio.service import PlanItem, Prepared, Source, Studio
from studio.store import Status

START_FROM_FORM = "the settings below"
FROM_PAGE = "this model's page (its current form)"


# -- planning -------------------------------------------------------------------------------
def _variants(key: str) -> list[Variant]:
    return [Variant.from_json(v) for v in session.sampler_variants(key)]


def _set_variants(key: str, variants: Sequence[Variant]) -> None:
    store = session.sampler_variants(key)
    store[:] = [v.to_json() for v in variants]


def _form_key(key: str, model_id: str) -> str:
    return f"{key}:add:{links.PAGE_SLUGS.get(model_id, 'model')}"


def _start_from(studio: Studio, key: str, model_id: str) -> None:
    """Callback of "Start from": load a preset (or the model page's form) into the form."""
    spec = models.get(model_id)
    choice = st.session_state.get(f"{key}:add:from")
    params: dict[str, Any] | None = None
    if choice == FROM_PAGE:
        params = session.last_form(model_id)
    elif isinstance(choice, str) and choice.startswith("preset "):
        params = presets.load(studio.store, model_id).get(
            choice.removeprefix("preset "))
    if params is not None:
        session.set_widget_values(widget_values(spec, params, key=_form_key(key, model_id)))


def _preselect(key: str) -> None:
    """Opened from a model page (``?model=<slug>``): that model, starting from the form left
    on its page — once per link."""
    slug = st.query_params.get("model")
    if not slug or session.prefilled_from(key) == f"model={slug}":
        return
    model_id = next((m for m, s in links.PAGE_SLUGS.items() if s == slug), None)
    session.set_prefilled_from(key, f"model={slug}", ())
    if model_id is None:
        return
    values: dict[str, Any] = {f"{key}:add:model": model_id}
    form = session.last_form(model_id)
    if form is not None:
        values[f"{key}:add:from"] = FROM_PAGE
        values.update(widget_values(models.get(model_id), form, key=_form_key(key, model_id)))
    session.set_widget_values(values)


def render_add_variant(studio: Studio, *, key: str) -> None:
    """Pick a model, start from a preset, that model page's current form or the defaults,
    adjust, and add it as a variant."""
    _preselect(key)
    variants = _variants(key)
    model_id = st.selectbox("Model", list(models.MODELS), key=f"{key}:add:model",
                            format_func=review.model_name)
    spec = effective_spec(studio, models.get(model_id))
    saved = presets.load(studio.store, model_id)
    options = [START_FROM_FORM, *(f"preset {n}" for n in saved)]
    if session.last_form(model_id) is not None:
        options.append(FROM_PAGE)
    if st.session_state.get(f"{key}:add:from") not in options:  # another model's choice
        session.set_widget_values({f"{key}:add:from": START_FROM_FORM})
    st.selectbox("Start from", options, key=f"{key}:add:from",
                 on_change=_start_from, args=(studio, key, model_id),
                 help="A saved preset of this model or the form you left on its page; the "
                      "settings below then show it and can still be changed.")
    params = render_request_form(spec, key=_form_key(key, model_id))
    full = len(variants) >= sampler.MAX_VARIANTS
    if st.button(f"Add variant {len(variants) + 1}" if not full else "Six variants: the most",
                 key=f"{key}:add:button", disabled=full, icon=":material/add:", type="secondary"):
        choice = st.session_state.get(f"{key}:add:from") or START_FROM_FORM
        new = Variant(model_id, params, "added" if choice == START_FROM_FORM else choice)
        problems = models.get(model_id).validate(params, require_source=False)
        if problems:
            st.error("This variant cannot be sent as it is:\n\n"
                     + "\n".join(f"- {p}" for p in problems))
        elif any(new.same_as(v) for v in variants):
            st.warning("That variant is already in the list.")
        else:
            _set_variants(key, [*variants, new])
            st.rerun()


@st.cache_data(ttl=3600, max_entries=16, show_spinner=False)
def _frame_range(fps: float, frames: int, start: float, length: float) -> tuple[int, int]:
    return segment.frame_range(fps, frames, start, length)


def render_segment(clip: ClipInfo, *, key: str) -> tuple[float, float] | None:
    """Start and length widgets; returns ``(start_s, length_s)`` or ``None`` (with the
    sentence shown) when the segment does not fit the clip."""
    if clip.duration_s < segment.MIN_LENGTH_S:
        st.error(f"The clip lasts {clip.duration_s:.2f} s; a segment needs at least "
                 f"{segment.MIN_LENGTH_S:g} s.")
        return None
    longest = min(segment.MAX_LENGTH_S, clip.duration_s)
    c1, c2 = st.columns(2)
    length = c2.slider("Length (s)", segment.MIN_LENGTH_S, float(longest),
                       min(2.0, float(longest)), step=0.5, key=f"{key}:length",
                       help="1–5 s: long enough to judge motion, short enough to cost little.")
    latest = max(0.0, clip.duration_s - length)
    start = c1.number_input("Start (s)", 0.0, float(round(latest, 3)), 0.0, step=0.5,
                            key=f"{key}:start", help="Where the segment begins in the clip.")
    try:
        first, count = _frame_range(clip.fps, clip.frame_count, float(start), float(length))
    except MediaError as exc:
        st.error(str(exc))
        return None
    st.caption(f"Frames {first}–{first + count - 1} ({count} frames, {count / clip.fps:.2f} s) "
               f"of {clip.frame_count}. Cut once, frame-exact, when you submit; re-encoded only "
               "when a stream copy would not be exact.")
    return float(start), float(length)


def _quote_rows(studio: Studio, variants: Sequence[Variant], source: Source, clip: ClipInfo,
                count: int) -> list[tuple[Variant, Prepared, Prepared]]:
    """Each variant prepared on the segment's header facts and on the whole clip."""
    book = load_rate_book(studio)
    seg_clip = sampler.segment_clip(clip, count)
    rows = []
    for v in variants:
        seg = studio.prepare(v.model_id, source, v.params, clip=seg_clip, book=book)
        whole = studio.prepare(v.model_id, source, v.params, clip=clip, book=book)
        rows.append((v, seg, whole))
    return rows


def render_quotes(rows: Sequence[tuple[Variant, Prepared, Prepared]], clip: ClipInfo,
                  count: int, *, key: str) -> Decimal:
    """One line per variant: its segment quote and its cost for the whole clip, each with
    the rate's provenance; a remove button. Returns the segment total (USD)."""
    seg_s = count / clip.fps
    for i, (v, seg, whole) in enumerate(rows):
        with st.container(border=True, key=f"{key}-variant-{i}"):
            c1, c2, c3, c4 = st.columns([4, 3, 3, 1], vertical_alignment="center")
            c1.markdown(f"**{i + 1}. {review.plain(v.label)}**")
            c1.caption(f"from {v.origin}")
            if seg.quote is not None:
                c2.markdown(f"Segment ({seg_s:.2f} s): **{cents(seg.quote.amount_usd)}**")
                c2.caption(f"{BADGE.get(seg.quote.provenance, seg.quote.provenance)} "
                           f"{seg.quote.basis}")
            else:
                c2.markdown("Segment: not priced")
            if whole.quote is not None:
                c3.markdown(f"Whole clip ({clip.duration_s:.2f} s): "
                            f"**{cents(whole.quote.amount_usd)}**")
                c3.caption(f"{BADGE.get(whole.quote.provenance, whole.quote.provenance)} "
                           f"{whole.quote.basis}")
            else:
                c3.markdown("Whole clip: not priced")
            if c4.button("", key=f"{key}:remove:{i}", icon=":material/delete:",
                         help="Remove this variant"):
                variants = [r[0] for r in rows]
                del variants[i]
                _set_variants(key, variants)
                st.rerun()
            for p in seg.problems:
                st.error(f"Segment: {p}")
            for p in whole.problems:
                st.caption(f"⚠️ Promoting to the whole clip: {p}")
    return sampler.total_usd([seg.amount_usd for _, seg, _ in rows])


# -- sending ---------------------------------------------------------------------------------
def _cut(studio: Studio, source: Source, start: float, length: float) -> tuple[Source, ClipInfo]:
    assert source.path is not None
    with st.status("Cutting the segment…", expanded=False) as status:
        bar = st.progress(0.0)
        cut = segment.cut_segment(source.path, studio.settings.data_dir / "segments",
                                  start_s=start, length_s=length,
                                  progress=lambda f: bar.progress(min(1.0, f)))
        status.update(label=f"Segment cut ({'stream copy' if cut.copied else 're-encoded'}, "
                            f"{cut.frame_count} frames)", state="complete")
    label = f"{source.label} · {cut.duration_s:.2f} s from {cut.start_s:.2f} s"
    seg_source = Source(source.kind, label, path=cut.path)
    return seg_source, load_probe(str(cut.path), stamp(seg_source))


def _send(studio: Studio, items: list[PlanItem], *, key: str, confirmed: bool,
          whole: dict[int, str]) -> None:
    """Send the batch; on success put the new generations in the page's link (``?g=``)."""
    total = sum(((p.amount_usd or Decimal(0)) * n for p, n in items), Decimal(0))
    try:
        with st.status(f"Submitting {len(items)} variants…", expanded=True) as status:
            bar = st.progress(0.0)
            outcomes = studio.submit_plan(
                items, confirmed=confirmed, owner_name=session.display_name(),
                progress=lambda what, f: bar.progress(min(1.0, f or 0.0), text=what))
            status.update(label=f"Submitted {len(items)} variants", state="complete")
    except ConfirmationRequired as exc:
        session.set_sampler_pending(key, {"items": items, "total": total, "why": str(exc),
                                          "whole": whole})
        st.rerun()
    except BudgetExceededError as exc:
        st.error(str(exc), icon=":material/block:")
        return
    except ParamError as exc:
        st.error("These variants cannot be sent:\n\n" + "\n".join(f"- {p}" for p in exc.problems)
                 if getattr(exc, "problems", None) else str(exc))
        return
    except StudioError as exc:
        st.error(str(exc))
        return
    jobs: list[Job] = []
    for outcome in outcomes:
        if outcome.error:
            st.error(f"Variant {outcome.row}: {outcome.error}")
        new = watch_submitted(list(outcome.jobs), card=False)
        jobs += new
        for job in new:
            if outcome.row in whole:
                session.set_sampler_whole(job.id, whole[outcome.row])
    if jobs:
        session.watch_jobs([j.id for j in jobs])
        st.query_params[review.IDS_PARAM] = ",".join(j.id for j in jobs)
        st.rerun()


@st.dialog("Confirm the sampler batch", width="medium", on_dismiss=session.close_sampler_dialogs)
def _confirm(studio: Studio, key: str, pending: dict[str, Any]) -> None:
    items: list[PlanItem] = pending["items"]
    st.markdown(pending["why"])
    total: Decimal = pending["total"]
    st.metric(f"Total for {len(items)} variants", cents(total),
              help=f"Exactly {exact(total)} USD.")
    st.caption("= " + " + ".join(exact(p.amount_usd) for p, _ in items)
               + f" = {exact(total)} (each variant's segment quote)")
    c1, c2 = st.columns(2)
    if c1.button("Confirm and submit", type="primary", key=f"{key}:confirm:yes"):
        session.set_sampler_pending(key, None)
        _send(studio, items, key=key, confirmed=True, whole=pending.get("whole") or {})
    if c2.button("Cancel", key=f"{key}:confirm:no"):
        session.set_sampler_pending(key, None)
        st.rerun()


# -- results ----------------------------------------------------------------------------------
def promote_query(job: Job) -> dict[str, str]:
    """The model-page link that repeats ``job``'s settings on the whole clip: its form
    parameters (the share-link format of :mod:`components.links`), never the segment."""
    return {k: v for k, v in links.rerun_query(job).items() if k != links.SOURCE_KEY}


def render_results(studio: Studio, job_ids: Sequence[str], *, key: str) -> None:
    """The sampled generations: status and cost of each, Promote links, and the N-up
    player (refreshing while any is in flight)."""
    jobs = review.load_jobs(studio, job_ids)
    if not jobs:
        st.warning("The generations of this sample are not in the store any more.")
        return
    player_key = f"{key}:results:compare"
    live = any(j.is_active for j in jobs) or session.compare_working(player_key)

    @st.fragment(run_every=review.REFRESH_S if live else None)
    def _body() -> None:
        current = review.load_jobs(studio, job_ids)
        head, link = st.columns([4, 1], vertical_alignment="center")
        head.subheader(f"Results · {len(current)} variants", divider="gray", anchor=False)
        with link:
            review.render_review_link([j.id for j in current][:review.MAX_REVIEW_IDS],
                                      key=f"{key}:results:link")
        now = datetime.now(UTC)
        cols = st.columns(min(3, len(current)))
        for i, job in enumerate(current):
            with cols[i % len(cols)], st.container(border=True, key=f"{key}-result-{i}"):
                review.render_job_status(studio, job, now=now)
                whole = session.sampler_whole(job.id)
                if whole:
                    st.caption(f"Whole clip with these settings: {cents(whole)} (quoted "
                               "before sending)")
                if job.model_id in links.PAGE_SLUGS:
                    st.page_link(links.page_path(job.model_id), label="Promote to the whole clip",
                                 icon=":material/open_in_new:", query_params=promote_query(job),
                                 help="Open this model's page with these settings, for the "
                                      "whole clip.")
                    if (job.source or {}).get("kind") == "upload":
                        st.caption("Choose the same uploaded clip there: a local file cannot "
                                   "travel in a link.")
        done = [j for j in current if j.status == Status.SUCCEEDED]
        shown = done or current
        if len(shown) > review.MAX_REVIEW_IDS:
            labels = {j.id: f"{i + 1}. {review.model_name(j.model_id)} · "
                      + " · ".join(sampler.key_params(j.model_id, j.params or {}))
                      for i, j in enumerate(shown)}
            pick = st.multiselect("In the player (up to 4)", list(labels),
                                  default=list(labels)[:review.MAX_REVIEW_IDS],
                                  max_selections=review.MAX_REVIEW_IDS,
                                  format_func=labels.__getitem__, key=f"{key}:results:pick")
            shown = [j for j in shown if j.id in pick] or shown[:review.MAX_REVIEW_IDS]
        working = review.render_job_compare(studio, shown, key=player_key)
        session.set_compare_working(player_key, working)
        if (any(j.is_active for j in current) or working) != live:
            st.rerun()

    _body()
    if st.button("Start another sample", key=f"{key}:results:new", icon=":material/restart_alt:"):
        del st.query_params[review.IDS_PARAM]
        st.rerun()


# -- the page ---------------------------------------------------------------------------------
def render_sampler_page(studio: Studio, *, key: str) -> None:
    """The whole Sampler page."""
    st.title("Sampler")
    st.caption("Send a short segment of one clip through several models and settings, see what "
               "each costs for the segment and for the whole clip, then compare the results in "
               "one synced player and promote the one you want.")
    result_ids = review.parse_review_ids(st.query_params.get_all(review.IDS_PARAM))
    if result_ids:
        render_results(studio, result_ids, key=key)

    left, right = st.columns(2, gap="large")
    with left:
        st.subheader("1 · Clip and segment", divider="gray", anchor=False)
        source = render_source_picker(key=key,
                                      uploads_dir=studio.settings.data_dir / "uploads")
        clip: ClipInfo | None = None
        if source is not None:
            try:
                clip = load_probe(source.probe_target, stamp(source))
            except StudioError as exc:
                st.error(str(exc))
        chosen = None
        if clip is not None and source is not None:
            render_clip(clip, None)
            if source.path is None:
                st.warning("The sampler cuts the segment on this server: upload the clip (or "
                           "use the sample) instead of a URL.")
            else:
                review.render_source_preview_status(studio, source, key=key)
                chosen = render_segment(clip, key=key)
    with right:
        st.subheader("2 · Variants", divider="gray", anchor=False)
        st.caption(f"{sampler.MIN_VARIANTS}–{sampler.MAX_VARIANTS} variants: models × settings.")
        render_add_variant(studio, key=key)

    st.subheader("3 · Quotes", divider="gray", anchor=False)
    variants = _variants(key)
    if not variants:
        st.info("Add at least two variants (model and settings) to see their quotes.")
        return
    if clip is None or source is None or chosen is None:
        st.info("Choose a clip and a segment to quote the variants.")
        return
    start, length = chosen
    first, count = _frame_range(clip.fps, clip.frame_count, start, length)
    rows = _quote_rows(studio, variants, source, clip, count)
    total = render_quotes(rows, clip, count, key=key)
    problems = sampler.check_variants(variants)
    problems += [f"Variant {i + 1}: {p}" for i, (_, seg, _) in enumerate(rows)
                 for p in seg.problems]
    for p in sampler.check_variants(variants):
        st.warning(p)
    whole_total = sampler.total_usd([w.amount_usd for _, _, w in rows])
    st.markdown(f"**Batch total for the segment: {cents(total)}** "
                f"({len(rows)} generations) · the whole clip with every variant would be "
                f"{cents(whole_total)}")
    st.caption(f"Exactly {exact(total)} for the segment and {exact(whole_total)} for the whole "
               "clip: the sums of the quotes above.")
    if st.button(f"Submit {len(rows)} variants · {cents(total)}", type="primary",
                 key=f"{key}:submit", disabled=bool(problems),
                 help="Cuts the segment once, uploads it once and sends every variant; the "
                      "budget is checked on the total first."):
        try:
            seg_source, seg_clip = _cut(studio, source, start, length)
        except StudioError as exc:
            st.error(str(exc))
            return
        book = load_rate_book(studio)
        items: list[PlanItem] = [(studio.prepare(v.model_id, seg_source, v.params,
                                                 clip=seg_clip, book=book), 1) for v in variants]
        cut_total = sampler.total_usd([p.amount_usd for p, _ in items])
        if cut_total != total:
            st.warning(f"The cut segment is priced {exact(cut_total)}, not "
                       f"{exact(total)} as shown (its header differs slightly); nothing "
                       "was sent. Review the quotes and submit again.")
            return
        whole = {i + 1: str(w.amount_usd) for i, (_, _, w) in enumerate(rows)
                 if w.amount_usd is not None}
        _send(studio, items, key=key, confirmed=False, whole=whole)
    pending = session.sampler_pending(key)
    if pending:
        _confirm(studio, key, pending)


__all__ = ["promote_query", "render_add_variant", "render_quotes", "render_results",
           "render_sampler_page", "render_segment"]
