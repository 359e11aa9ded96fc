"""The shared per-model page: source → probe → parameters → quote and chart → submit → live
generations. Every model page is this component with a different model unit
(:class:`studio.models.ModelUnit`); nothing here knows a model by its id."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import streamlit as st

from components import links, review, session
from components.jobs import render_live_jobs
from components.loaders import (
    effective_spec,
    load_probe,
    load_thumbnail,
    load_turnaround,
    stamp,
)
from components.preset_picker import render_presets
from components.quote_panel import render_budget_verdict, render_quote, submit_label
from components.rates_view import load_rate_book
from components.request_form import (
    render_request_form,
    render_suggestions,
    widget_value,
    widget_values,
)
from components.request_options import render_request_options
from components.source_picker import render_source_picker
from components.submission import submit_prepared
from components.text import plain, problem_list
from studio import charts, export, media, models
from studio.budget import BudgetVerdict
from studio.errors import StudioError
from studio.media import ClipInfo
from studio.models import ModelUnit as ModelSpec
from studio.models import fps_text
from studio.service import Prepared, Source, Studio, file_sha256, trimmed_source


def render_clip(clip: ClipInfo, thumb: bytes | None) -> None:
    """The probe: thumbnail and the header facts that matter for pricing and limits."""
    cols = st.columns([1, 2])
    if thumb:
        cols[0].image(thumb, width="stretch")
    hdr = {"smpte2084": "PQ (HDR)", "arib-std-b67": "HLG (HDR)"}.get(clip.color_transfer or "",
                                                                     clip.color_transfer or "SDR")
    cols[1].markdown(
        f"**{clip.width}×{clip.height}** · **{fps_text(clip.fps)}** frames/s · "
        f"**{clip.duration_s:.2f} s**"
        f" · {clip.frame_count} frames  \n{clip.codec} · {clip.pix_fmt} · transfer {hdr}"
        + ("" if media.browser_playable(clip) else "  \n:orange[Not browser-playable: previews "
                                                   "use a tone-mapped H.264 copy.]")
        + (f"  \nRotated {clip.rotation}° for display." if clip.rotation else ""))
    for note in clip.notes:  # e.g. a Matroska file whose frames stop short of its duration
        cols[1].warning(note)


def _apply_prefill(spec: ModelSpec, *, key: str) -> tuple[str, ...] | None:
    """Fill the form (and a URL source) from the page's query parameters, once per link.

    A link is applied when the page's widgets are new in this session (first visit, or
    back from another page, where Streamlit dropped them) or when its query string differs
    from the one applied last. Returns the notes about ignored keys while the link is shown,
    ``None`` when the page has no query parameters.
    """
    query = {k: st.query_params[k] for k in st.query_params}
    if not query:
        return None
    signature = urlencode(sorted(query.items()))
    fresh = f"{key}:kind" not in st.session_state
    if fresh or session.prefilled_from(key) != signature:
        prefill = links.parse_query(spec, query)
        values = widget_values(spec, prefill.params, key=key)
        if prefill.src:
            values.update({f"{key}:kind": "url", f"{key}:url": prefill.src})
        elif prefill.sample:
            values[f"{key}:kind"] = "sample"
        session.set_widget_values(values)
        session.set_prefilled_from(key, signature, prefill.notes)
    return session.prefill_notes(key)


def _render_prefill_notes(notes: tuple[str, ...] | None) -> None:
    if notes is None:
        return
    rerun_of = st.query_params.get(links.RERUN_KEY)
    if rerun_of:  # "Rerun with edits" inside the app: no link was opened
        st.info(plain(f"The form was filled in from generation {rerun_of} (Rerun with "
                      "edits): change what you need, then submit."), icon=":material/edit:")
    else:
        st.info("The form was filled in from the link you opened.", icon=":material/link:")
    if notes:
        st.warning("Some of the link's values were ignored:\n\n"
                   + "\n".join(f"- {n}" for n in notes))


def render_model_page(spec: ModelSpec, studio: Studio, *, key: str) -> None:
    """The whole page for one model."""
    spec = effective_spec(studio, spec)
    notes = _apply_prefill(spec, key=key)
    st.title(spec.display_name)
    target = studio.target(spec.provider)
    st.caption(f"{PROVIDER_NAMES.get(spec.provider, spec.provider)} · "
               f"{'live service' if target == 'live' else 'local sandbox'} · "
               f"typically {spec.typical_minutes} min on the real service")
    st.markdown(spec.description)
    _render_details(spec)
    _render_prefill_notes(notes)

    left, right = st.columns([1, 1], gap="large")
    with left:
        st.subheader("1 · Source", divider="gray")
        source = render_source_picker(key=key, uploads_dir=studio.settings.data_dir / "uploads")
    clip: ClipInfo | None = None
    if source is not None:
        try:
            with st.spinner("Reading the clip's header…"):
                clip = load_probe(source.probe_target, stamp(source))
        except StudioError as exc:
            with left:
                st.error(str(exc))
            source = None
    if source is not None and clip is not None and spec.frame_cap(clip) is not None:
        source, clip = _offer_trim(studio, spec, source, clip, key=key, container=left)

    with left:
        if clip is not None and source is not None:
            thumb = None
            try:
                thumb = load_thumbnail(source.probe_target, stamp(source))
            except StudioError:
                pass
            render_clip(clip, thumb)
            review.render_source_preview_status(studio, source, key=key)
        st.subheader("2 · Parameters", divider="gray")
        params = render_request_form(spec, key=key)
        advice = st.container()  # what these parameters do to this clip, filled in below
        session.set_last_form(spec.id, params)  # the sampler's "current form" variant
        render_presets(spec, params, store=studio.store, key=key)
        mode, n = "queue", 1
        if spec.supports_queue:
            c1, c2 = st.columns([3, 2])  # room for "Sync (blocks)" (issue 10 item 20)
            mode = c1.segmented_control(
                "Mode", ["queue", "sync"], default="queue", required=True,
                format_func={"queue": "Queue (async)", "sync": "Sync (blocks)"}.__getitem__,
                key=f"{key}:mode",
                help="Queue returns at once and tracks the generation; sync waits for the "
                     "video (typically minutes) and validates parameters immediately.")
            if mode == "queue":
                n = c2.number_input("Generations", 1, 4, 1, key=f"{key}:n",
                                    help="num_generations: 1–4 runs of the same request.")
        options = render_request_options(studio, spec, mode, key=key)

    prepared: Prepared | None = None
    verdict: BudgetVerdict | str | None = None
    with right:
        st.subheader("3 · Quote", divider="gray")
        if clip is None or source is None:
            st.info("Choose a clip to see its quote.")
        else:
            book = load_rate_book(studio)  # overrides > live Oxen pricing > bundled
            prepared = studio.prepare(spec.id, source, params, clip=clip, book=book, unit=spec)
            render_quote(prepared.quote, key=f"{key}:quote", count=int(n))
            if prepared.quote is not None:
                verdict = _budget_verdict(studio, prepared.quote.amount_usd * int(n))
                render_budget_verdict(verdict)
                _render_coverage(spec, clip, params, key=key)
                est = load_turnaround(studio, spec.id, prepared.quote.tier, clip.duration_s)
                st.caption(f":material/schedule: Turnaround: {est.label}" if est else
                           ":material/schedule: Turnaround: no forecast yet (needs 3 finished "
                           "generations of this model, tier and length).")
            if prepared.quote is not None:
                st.plotly_chart(charts.cost_curve(spec.id, clip, params, book=book),
                                width="stretch", key=f"{key}:chart")

    if prepared is not None and clip is not None:
        with advice:
            for note in prepared.notes:
                st.caption(f":material/info: {note}")
            if prepared.quote is not None:
                render_suggestions(spec.suggestions(clip, spec.with_defaults(params)), spec,
                                   key=key)

    st.subheader("4 · Submit", divider="gray")
    if prepared is not None:
        # A field the user has not filled in yet is not a mistake: it is named beside the
        # button, never shown as an error before the user has done anything.
        wrong = [p for p in prepared.problems if p.code != "required"]
        missing = [p for p in prepared.problems if p.code == "required"]
        if wrong:
            st.error("Fix these before submitting:\n\n" + problem_list(wrong))
        if missing:
            st.caption("To submit, fill in: " + ", ".join(_title(spec, p.field) for p in missing))
    over_budget = isinstance(verdict, str) or (verdict is not None and not verdict.allowed)
    can_submit = prepared is not None and prepared.ok and not over_budget
    label = submit_label(prepared.quote.amount_usd * n if prepared is not None and prepared.quote
                         else None, verdict)
    clicked = st.button(label, type="primary", disabled=not can_submit, key=f"{key}:submit")
    with st.container():  # a fixed slot: the status card below keeps its place on reruns
        if clicked:
            submit_prepared(studio, prepared, mode=mode, n=int(n), options=options)
    review.render_status_card(studio, page=key, model_id=spec.id)
    review.render_sampler_link(spec.id)
    if prepared is not None and prepared.ok:
        _render_export(studio, prepared, mode=mode, key=key)

    st.subheader("Generations", divider="gray")
    render_live_jobs(studio, key=f"{key}:jobs", model_id=spec.id, limit=50)


def _budget_verdict(studio: Studio, amount: Decimal) -> BudgetVerdict | str:
    """The budget verdict of a request quoted at ``amount`` USD, or the sentence saying why
    the budget cannot be read (the submit is then refused by the core with it too)."""
    try:
        return studio.check_budget(amount)
    except StudioError as exc:
        return str(exc)


def _offer_trim(studio: Studio, spec: ModelSpec, source: Source, clip: ClipInfo, *, key: str,
                container: Any) -> tuple[Source, ClipInfo]:
    """A model with a frame cap for this clip's size (LTX direct's input tiers): offer to
    send only the first N frames."""
    cap = spec.frame_cap(clip)
    if cap is None or clip.frame_count <= cap or source.path is None:
        return source, clip
    with container:
        trim = st.toggle(
            f"Send only the first {cap} frames ({cap / clip.fps:.1f} s)", value=True,
            key=f"{key}:trim",
            help=f"{spec.display_name} rejects longer clips at this resolution; the app cuts "
                 "a copy locally.")
        if not trim:
            return source, clip
        try:
            with st.spinner(f"Cutting the first {cap} frames…"):
                trimmed = trimmed_source(source, cap, studio.settings.data_dir / "trimmed")
            return trimmed, load_probe(str(trimmed.path), stamp(trimmed))
        except StudioError as exc:
            st.error(str(exc))
            return source, clip


PROVIDER_NAMES = {"oxen": "Oxen.ai", "ltx": "LTX API"}


def _title(spec: ModelSpec, field: str | None) -> str:
    try:
        return spec.param(field or "").title
    except KeyError:
        return field or "the request"


def _render_details(spec: ModelSpec) -> None:
    """The ids and sources of the model, out of the way: the page shows its display name."""
    with st.expander("Model details", icon=":material/info:"):
        st.markdown(
            f"- Model id: `{spec.id}` · route `{spec.route}` "
            f"({PROVIDER_NAMES.get(spec.provider, spec.provider)})\n"
            f"- Parameters: {'the live request_schema' if spec.schema_origin == 'live' else 'the bundled request schema'}\n"
            + "".join(f"- {line}\n" for line in (*spec.limits, *spec.notes))
            + "".join(f"- Source: {url}\n" for url in spec.sources))


def _set_widget(wkey: str, value: Any) -> None:
    st.session_state[wkey] = value


def _render_coverage(spec: ModelSpec, clip: ClipInfo, params: dict[str, Any], *,
                     key: str) -> None:
    """When a parameter, not the clip, sets the output's length: how much of the clip the
    result covers, and one click to cover all of it (within the parameter's maximum)."""
    cover = spec.coverage(clip, spec.with_defaults(params))
    if cover is None:
        return
    field = spec.param(cover.field)
    if cover.whole:
        st.caption(f":material/check_circle: The result covers the whole "
                   f"{clip.duration_s:.1f} s clip ({field.title.lower()}: {cover.value}).")
        return
    st.warning(f"The result covers **{cover.output_s:.1f} s of the {clip.duration_s:.1f} s "
               f"clip ({cover.fraction:.0%})**: {field.title.lower()} is {cover.value}.",
               icon=":material/timelapse:")
    if cover.value != cover.whole_clip_value:
        label = (f"Cover as much as one generation can ({cover.whole_clip_value} frames)"
                 if cover.capped else
                 f"Cover the whole clip ({cover.whole_clip_value} frames)")
        st.button(label, key=f"{key}:cover", icon=":material/fit_screen:",
                  on_click=_set_widget, args=(f"{key}:{cover.field}",
                                              widget_value(field, cover.whole_clip_value)))
        if cover.capped:
            st.caption(f"One generation renders at most {field.maximum:g} frames; the rest of "
                       "the clip needs another generation.")


def _render_code(spec: ModelSpec, body: dict[str, Any], base: str, *, mode: str) -> None:
    tabs = export.snippets(spec.id, body, base, mode=mode)
    for tab, (code, language) in zip(st.tabs(list(tabs)), tabs.values(), strict=True):
        tab.code(code, language=language)


def _render_export(studio: Studio, prepared: Prepared, *, mode: str, key: str) -> None:
    spec = models.get(prepared.model_id)
    with st.expander("Copy as Python / cURL / JavaScript"):
        src = prepared.source
        url = src.url
        if src.path is not None:
            target = f"{studio.target(spec.provider)}:{studio.base_url(spec.provider)}"
            url = studio.store.cached_upload(spec.provider, target, file_sha256(src.path),
                                             datetime.now(UTC))
            if url is None:
                url = "<URL of your uploaded clip — filled in after the first upload>"
        body = studio.build_body(spec.id, spec.with_defaults(prepared.params), url or "")
        if spec.supports_queue and mode == "queue" and st.session_state.get(f"{key}:n", 1) > 1:
            body["num_generations"] = int(st.session_state[f"{key}:n"])
        sandbox = studio.target(spec.provider) == "sandbox"
        if sandbox:
            st.caption("**Local sandbox**: this request runs against the sandbox as shown "
                       "(any non-empty key works).")
        _render_code(spec, body, studio.base_url(spec.provider), mode=mode)
        if sandbox:
            real_body, real_base = export.for_real_service(spec.id, body)
            st.caption(f"**Real service** ({real_base}): the same request with your own key "
                       "in the environment variable; put your clip's public URL in place of "
                       f"`{export.PLACEHOLDER_CLIP_URL}`.")
            _render_code(spec, real_body, real_base, mode=mode)
