"""The shared per-model page: source → probe → parameters → quote and chart → submit → live
generations. Every model page is this component with a different :class:`ModelSpec`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import streamlit as st

from components import links, session
from components.jobs import render_live_jobs
from components.loaders import (
    effective_spec,
    load_probe,
    load_thumbnail,
    load_turnaround,
    stamp,
)
from components.preset_picker import render_presets
from components.quote_panel import render_quote
from components.rates_view import load_rate_book
from components.request_form import render_request_form, widget_values
from components.source_picker import render_source_picker
from components.submission import submit_prepared
from studio import catalog, charts, export, media
from studio.catalog import ModelSpec
from studio.errors import StudioError
from studio.media import ClipInfo
from studio.presets import presets_path
from studio.service import Prepared, Source, Studio, file_sha256, trimmed_source


def render_clip(clip: ClipInfo, thumb: bytes | None) -> None:
    """The probe: thumbnail and the header facts that matter for pricing and limits."""
    cols = st.columns([1, 2])
    if thumb:
        cols[0].image(thumb, width="stretch")
    hdr = {"smpte2084": "PQ (HDR)", "arib-std-b67": "HLG (HDR)"}.get(clip.color_transfer or "",
                                                                     clip.color_transfer or "SDR")
    cols[1].markdown(
        f"**{clip.width}×{clip.height}** · **{clip.fps:.3f}** frames/s · **{clip.duration_s:.2f} s**"
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
        session.set_widget_values(values)
        session.set_prefilled_from(key, signature, prefill.notes)
    return session.prefill_notes(key)


def _render_prefill_notes(notes: tuple[str, ...] | None) -> None:
    if notes is None:
        return
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
    st.caption(f"{'Oxen.ai' if spec.provider == 'oxen' else 'LTX API'} · `{spec.id}` · "
               f"{'live service' if target == 'live' else 'local sandbox'} · parameters: "
               f"{'live request_schema' if spec.schema_origin == 'live' else 'bundled catalog'}"
               f" · typically {spec.typical_minutes} min on the real service")
    st.markdown(spec.description)
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
    if source is not None and clip is not None and spec.id == catalog.LTX_DIRECT:
        source, clip = _offer_trim(studio, source, clip, key=key, container=left)

    with left:
        if clip is not None and source is not None:
            thumb = None
            try:
                thumb = load_thumbnail(source.probe_target, stamp(source))
            except StudioError:
                pass
            render_clip(clip, thumb)
        st.subheader("2 · Parameters", divider="gray")
        params = render_request_form(spec, key=key)
        render_presets(spec, params, path=presets_path(studio.settings.data_dir), key=key)
        mode, n = "queue", 1
        if spec.supports_queue:
            c1, c2 = st.columns(2)
            mode = c1.segmented_control(
                "Mode", ["queue", "sync"], default="queue", required=True,
                format_func={"queue": "Queue (async)", "sync": "Sync (blocks)"}.__getitem__,
                key=f"{key}:mode",
                help="Queue returns at once and tracks the generation; sync waits for the "
                     "video (typically minutes) and validates parameters immediately.")
            if mode == "queue":
                n = c2.number_input("Generations", 1, 4, 1, key=f"{key}:n",
                                    help="num_generations: 1–4 runs of the same request.")

    prepared: Prepared | None = None
    with right:
        st.subheader("3 · Quote", divider="gray")
        if clip is None or source is None:
            st.info("Choose a clip to see its quote.")
        else:
            book = load_rate_book(studio)  # overrides > live Oxen pricing > bundled
            prepared = studio.prepare(spec.id, source, params, clip=clip, book=book)
            render_quote(prepared.quote, key=f"{key}:quote", count=int(n))
            if prepared.quote is not None:
                est = load_turnaround(studio, spec.id, prepared.quote.tier, clip.duration_s)
                st.caption(f":material/schedule: Turnaround: {est.label}" if est else
                           ":material/schedule: Turnaround: no forecast yet (needs 3 finished "
                           "generations of this model, tier and length).")
            for note in prepared.notes:
                st.caption(f"ℹ️ {note}")
            if prepared.quote is not None:
                st.plotly_chart(charts.cost_curve(spec.id, clip, params, book=book),
                                width="stretch", key=f"{key}:chart")

    st.subheader("4 · Submit", divider="gray")
    if prepared is not None and prepared.problems:
        st.error("Fix these before submitting:\n\n" + "\n".join(f"- {p}" for p in prepared.problems))
    can_submit = prepared is not None and prepared.ok
    label = (f"Submit · ${prepared.quote.amount_usd * n}" if prepared is not None and prepared.quote
             else "Submit")
    if st.button(label, type="primary", disabled=not can_submit, key=f"{key}:submit"):
        submit_prepared(studio, prepared, mode=mode, n=int(n))
    if prepared is not None and prepared.ok:
        _render_export(studio, prepared, mode=mode, key=key)

    st.subheader("Generations", divider="gray")
    render_live_jobs(studio, key=f"{key}:jobs", model_id=spec.id, limit=50)


def _offer_trim(studio: Studio, source: Source, clip: ClipInfo, *, key: str,
                container: Any) -> tuple[Source, ClipInfo]:
    """LTX direct caps frames per input tier: offer to send only the first N frames."""
    cap = catalog.ltx_max_frames(clip)
    if cap is None or clip.frame_count <= cap or source.path is None:
        return source, clip
    with container:
        trim = st.toggle(
            f"Send only the first {cap} frames ({cap / clip.fps:.1f} s)", value=True,
            key=f"{key}:trim",
            help="LTX HDR rejects longer clips at this resolution; the app cuts a copy locally.")
        if not trim:
            return source, clip
        try:
            with st.spinner(f"Cutting the first {cap} frames…"):
                trimmed = trimmed_source(source, cap, studio.settings.data_dir / "trimmed")
            return trimmed, load_probe(str(trimmed.path), stamp(trimmed))
        except StudioError as exc:
            st.error(str(exc))
            return source, clip


def _render_export(studio: Studio, prepared: Prepared, *, mode: str, key: str) -> None:
    spec = catalog.get(prepared.model_id)
    with st.expander("Copy as cURL / Python"):
        src = prepared.source
        url = src.url
        if src.path is not None:
            target = f"{studio.target(spec.provider)}:{studio.base_url(spec.provider)}"
            url = studio.store.cached_upload(spec.provider, target, file_sha256(src.path),
                                             datetime.now(UTC))
            if url is None:
                url = "<URL of your uploaded clip — filled in after the first upload>"
        body = studio.build_body(spec.id, catalog.with_defaults(spec.id, prepared.params), url or "")
        if spec.provider == "oxen" and mode == "queue" and st.session_state.get(f"{key}:n", 1) > 1:
            body["num_generations"] = int(st.session_state[f"{key}:n"])
        base = studio.base_url(spec.provider)
        tab1, tab2 = st.tabs(["cURL", "Python"])
        tab1.code(export.curl_command(spec.id, body, base, mode=mode), language="bash")
        tab2.code(export.python_snippet(spec.id, body, base, mode=mode), language="python")
        if studio.target(spec.provider) == "sandbox":
            st.caption("This points at the local sandbox. For the real service use "
                       f"{'https://hub.oxen.ai' if spec.provider == 'oxen' else 'https://api.ltx.video'}"
                       " and your own key in the environment variable.")

