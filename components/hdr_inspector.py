"""The HDR inspector panel: a video frame in cd/m² — scopes, false colour, gamut, metadata —
and the clip's MaxCLL/MaxFALL chart.

Self-contained: :func:`render_hdr_inspector` takes ``(studio_or_paths, job, *, key)`` so the
Generations detail, the compare player's side panel and review links can all host it. The
measurements are :mod:`studio.media.hdr`; the figures :mod:`studio.media.figures`.
:func:`render_hdr_tools` is the small switch the Generations detail calls: it offers the
inspector for HDR videos and the EXR frame browser for EXR results.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import streamlit as st

from studio.errors import StudioError
from studio.jobs import Job
from studio.media import ClipInfo, figures, hdr, is_hdr, probe
from studio.tracking.results import HDR_ANALYSIS
from studio.tracking.work import WorkItem, WorkStatus

_TRANSFER_NAMES = {"smpte2084": "PQ", "arib-std-b67": "HLG"}


@dataclass(frozen=True)
class MediaPaths:
    """What the HDR panels need when there is no :class:`~studio.service.Studio` (a review
    link): the data dir (caches, saved frames) and the files by label (``"video"``,
    ``"exr_frames"``, ``"source"``)."""

    data_dir: Path
    files: Mapping[str, Path] = field(default_factory=dict)


def media_paths(studio_or_paths: Any, job: Job | None) -> MediaPaths:
    """:class:`MediaPaths` from a ``Studio`` and a generation, or passed through."""
    if isinstance(studio_or_paths, MediaPaths):
        return studio_or_paths
    files: dict[str, Path] = {}
    if job is not None:
        for label, path in (job.result_files or {}).items():
            if path and label != "missing":
                files[label] = Path(path)
        src = (job.source or {}).get("path")
        if src:
            files["source"] = Path(src)
    return MediaPaths(Path(studio_or_paths.settings.data_dir), files)


def _stamp(path: Path) -> str:
    st_ = path.stat()
    return f"{st_.st_size}:{st_.st_mtime_ns}"


@st.cache_data(ttl=3600, max_entries=64, show_spinner=False)
def _probe(path: str, stamp: str) -> ClipInfo:
    return probe(path)


def hdr_videos(paths: MediaPaths) -> list[tuple[str, Path, ClipInfo]]:
    """The PQ/HLG videos among a generation's files: (label for the screen, path, clip)."""
    out = []
    for label, name in (("video", "Result"), ("source", "Source")):
        path = paths.files.get(label)
        if path is None or not path.is_file():
            continue
        try:
            clip = _probe(str(path), _stamp(path))
        except StudioError:
            continue
        if is_hdr(clip):
            out.append((f"{name} ({_TRANSFER_NAMES[clip.color_transfer or '']})", path, clip))
    return out


@st.cache_resource(ttl=600, max_entries=6, show_spinner=False)
def _scopes(path: str, stamp: str, time_s: float, exposure: float, peak: float
            ) -> tuple[hdr.FrameScopes, int]:
    clip = probe(path)
    frame, index = hdr.read_frame_at(path, time_s)
    return hdr.frame_scopes(frame, clip, hlg_peak_nits=peak, exposure_stops=exposure,
                            frame_index=index), index


@st.cache_data(ttl=3600, max_entries=16, show_spinner=False)
def _metadata(path: str, stamp: str) -> list[tuple[str, str]]:
    return hdr.read_hdr_metadata(path).rows()


def _legend_html() -> str:
    items = "".join(
        f'<span style="display:inline-flex;align-items:center;margin:0 14px 4px 0">'
        f'<span style="width:14px;height:14px;border-radius:3px;background:{colour};'
        f'margin-right:6px;border:1px solid #8884"></span>{label}</span>'
        for label, colour in figures.band_legend())
    return f'<div style="font-size:0.85rem;line-height:1.6">{items}</div>'


def _jpeg(rgb8: Any) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb8).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def data_url(rgb8: Any) -> str:
    """A JPEG data URL of an (H, W, 3) uint8 picture, for the click-to-read image."""
    return "data:image/jpeg;base64," + base64.b64encode(_jpeg(rgb8)).decode("ascii")


def frame_start(t: float, fps: float, last: float) -> float:
    """The start (seconds) of the frame of a ``fps`` frames/s video that shows at ``t``
    seconds, held within ``[0, last]``: the player lands mid-frame (``(n + 0.5) / fps``),
    the inspector's slider steps on frame starts (``n / fps``)."""
    if not fps or fps <= 0 or not math.isfinite(t):
        return 0.0
    n = math.floor(max(t, 0.0) * fps + 1e-6)
    return round(min(n / fps, max(last, 0.0)), 6)


def render_hdr_inspector(studio_or_paths: Any, job: Job | None, *, key: str,
                         playhead_s: float | None = None) -> None:
    """The inspector for the PQ/HLG videos of ``job`` (result and/or source).

    ``playhead_s`` is the compare player's settled playhead (seconds, ``None`` when there is
    no player or it has not reported one): each new value moves the inspector to the frame
    under it; the inspector's own "Time (s)" slider stays for looking elsewhere.

    ``studio_or_paths`` is the app's ``Studio`` or a :class:`MediaPaths`. Shows, for the
    frame at the chosen time: the SDR view / false colour / gamut picture, a log-nits
    histogram, a waveform, peak and average light, the metadata readout, and — computed once
    and cached in the data dir — MaxCLL/MaxFALL with a per-frame chart. A result's analysis is
    media work from the queue (``hdr_analysis``; its row's progress shows here); only when no
    row exists (a source video, another HLG peak, a review link without a store) does the
    panel measure in a background thread of this process.
    """
    paths = media_paths(studio_or_paths, job)
    videos = hdr_videos(paths)
    if not videos:
        st.caption("No PQ or HLG video in this generation to inspect.")
        return
    labels = [v[0] for v in videos]
    chosen = st.segmented_control("Inspect", labels, default=labels[0], key=f"{key}:which") \
        if len(videos) > 1 else labels[0]
    _label, path, clip = next(v for v in videos if v[0] == (chosen or labels[0]))
    step = 1.0 / clip.fps if clip.fps else 0.05
    c1, c2, c3 = st.columns([3, 2, 2])
    last = max(clip.duration_s - step, 0.0)
    followed = f"{key}:t-followed"
    if playhead_s is not None and (st.session_state.get(followed) != playhead_s
                                   or f"{key}:t" not in st.session_state):
        # A new playhead (or the inspector just opened): the slider follows it once.
        st.session_state[followed] = playhead_s
        st.session_state[f"{key}:t"] = frame_start(playhead_s, clip.fps, last)
    st.session_state.setdefault(f"{key}:t", 0.0)
    with c1:
        t = st.slider("Time (s)", 0.0, last, step=step, format="%.2f", key=f"{key}:t",
                      help="Follows the compare player's playhead (pause, seek or step it); "
                           "move this slider to look at another frame."
                      if playhead_s is not None else None)
    with c2:
        exposure = st.slider("SDR view exposure (stops)", -4.0, 4.0, 0.0, step=0.5,
                             key=f"{key}:exp")
    with c3:
        peak = 1000.0
        if clip.color_transfer == "arib-std-b67":
            peak = float(st.selectbox("HLG nominal peak (cd/m²)", [1000, 600, 1500, 2000, 4000],
                                      key=f"{key}:peak"))
        else:
            st.caption("PQ is absolute: cd/m² come straight from the ST 2084 EOTF.")
    try:
        scopes, index = _scopes(str(path), _stamp(path), round(t, 4), exposure, peak)
    except StudioError as exc:
        st.warning(f"This frame cannot be measured: {exc}")
        return
    view = st.segmented_control("Picture", ["SDR view", "False colour", "Gamut"],
                                default="False colour", key=f"{key}:view") or "False colour"
    left, right = st.columns([3, 2])
    with left:
        if view == "SDR view":
            st.image(scopes.sdr_view, output_format="JPEG", width="stretch")
            st.caption(f"Tone map: {scopes.tone_map}.")
        elif view == "Gamut" and scopes.gamut_overlay is not None:
            st.image(scopes.gamut_overlay, output_format="JPEG", width="stretch")
            st.caption("Magenta: outside P3 (and BT.709). Cyan: outside BT.709 only. "
                       "Primaries are BT.2020.")
        else:
            if view == "Gamut":
                st.caption("Gamut flags need BT.2020 primaries; showing false colour.")
            st.image(scopes.false_colour, output_format="JPEG", width="stretch")
            st.markdown(_legend_html(), unsafe_allow_html=True)
        st.caption(f"Frame {index} at {scopes.time_s:.2f} s · {scopes.light_model}.")
    with right:
        m1, m2 = st.columns(2)
        m1.metric("Frame peak (cd/m²)", f"{scopes.light.peak_nits:,.0f}",
                  help="Largest max(R,G,B) of any pixel (CTA-861.3 content light level).")
        m2.metric("Frame average (cd/m²)", f"{scopes.light.average_nits:,.1f}",
                  help="Mean of max(R,G,B) over the frame (CTA-861.3 FALL).")
        if scopes.outside_bt709 is not None:
            g1, g2 = st.columns(2)
            g1.metric("Outside BT.709", f"{scopes.outside_bt709:.1%}")
            g2.metric("Outside P3", f"{scopes.outside_p3:.1%}")
        shares = ", ".join(f"{b.label.split(' (')[0]}: {f:.1%}"
                           for b, f in zip(hdr.FALSE_COLOUR_BANDS, scopes.band_fractions,
                                           strict=True) if f >= 0.0005)
        st.caption(f"Pixels per band — {shares}.")
    h1, h2 = st.columns(2)
    with h1:
        st.plotly_chart(figures.histogram_figure(scopes.histogram), width="stretch",
                        key=f"{key}:hist")
    with h2:
        st.plotly_chart(figures.waveform_figure(scopes.waveform), width="stretch",
                        key=f"{key}:wave")
    queued = _analysis_row(studio_or_paths, job, paths, path, peak)
    _render_clip_analysis(paths, path, peak, key=key, queued=queued, studio=studio_or_paths,
                          job=job)
    with st.expander("Metadata", expanded=False):
        try:
            rows = _metadata(str(path), _stamp(path))
        except StudioError as exc:
            st.warning(str(exc))
        else:
            st.table({"field": [r[0] for r in rows], "value": [r[1] for r in rows]})


def _analysis_row(studio: Any, job: Job | None, paths: MediaPaths, path: Path,
                  peak: float) -> WorkItem | None:
    """The ``hdr_analysis`` work row measuring ``path``, when the work queue has one: the
    result video of a generation in a store, at the nominal peak the queue measures at.
    ``None`` (the panel measures in a thread of its own) for a source video, another HLG
    peak, or a review link without a store."""
    if job is None or not hasattr(studio, "media_state") or path != paths.files.get("video"):
        return None
    if peak != hdr.HLG_NOMINAL_PEAK_NITS:
        return None
    try:
        return studio.media_state([job.id]).get(job.id, {}).get(HDR_ANALYSIS)
    except Exception:  # noqa: BLE001 - the store is unreachable: measure here instead
        return None


def _render_clip_analysis(paths: MediaPaths, path: Path, peak: float, *, key: str,
                          queued: WorkItem | None = None, studio: Any = None,
                          job: Job | None = None) -> None:
    cache = paths.data_dir / "analysis"
    result = hdr.load_clip_analysis(path, cache, hlg_peak_nits=peak)
    if result is None and queued is not None and queued.status != WorkStatus.DONE:
        _render_queued_analysis(studio, job, queued, key=key)
        return
    if result is None:
        task = hdr.analyse_in_background(path, cache, hlg_peak_nits=peak)

        @st.fragment(run_every=1.0)
        def _progress() -> None:
            if task.done.is_set():
                st.rerun()
            st.progress(task.progress,
                        text=f"Measuring MaxCLL/MaxFALL over every frame… {task.progress:.0%}")

        if task.done.is_set() and task.error:
            st.warning(f"MaxCLL/MaxFALL could not be measured: {task.error}")
            return
        if not task.done.is_set():
            _progress()
            return
        result = task.result
    if result is None:
        return
    a, b, c = st.columns(3)
    a.metric("MaxCLL (cd/m²)", f"{result.max_cll:,.0f}",
             help=f"Brightest pixel of the clip (frame {result.max_cll_frame}); "
                  f"{result.standard}.")
    b.metric("MaxFALL (cd/m²)", f"{result.max_fall:,.0f}",
             help=f"Brightest frame average (frame {result.max_fall_frame}).")
    c.metric("Frames measured", f"{result.frame_count:,}")
    st.plotly_chart(figures.light_level_figure(result), width="stretch", key=f"{key}:cll")


def _render_queued_analysis(studio: Any, job: Job | None, queued: WorkItem, *,
                            key: str) -> None:
    """MaxCLL/MaxFALL measured by the media work queue (this app's pool or a ``studio
    worker``): its progress while it runs, a sentence and a retry once it has failed."""
    if queued.status == WorkStatus.FAILED:
        st.warning(f"MaxCLL/MaxFALL could not be measured: {queued.error or 'no reason given'}")
        if job is not None and st.button("Measure again", key=f"{key}:cll-retry"):
            studio.retry_media(job, HDR_ANALYSIS)
            st.rerun()
        return

    @st.fragment(run_every=1.0)
    def _progress() -> None:
        row = queued
        if job is not None:
            row = studio.media_state([job.id]).get(job.id, {}).get(HDR_ANALYSIS) or queued
        if row.status != queued.status:
            st.rerun()  # settled: the whole panel shows the figures (or why not)
        if row.running():
            st.progress(row.progress or 0.0,
                        text=f"Measuring MaxCLL/MaxFALL over every frame… "
                             f"{row.progress or 0.0:.0%}")
        else:
            st.progress(0.0, text="MaxCLL/MaxFALL: queued for the media workers…")

    _progress()


def render_hdr_tools(studio_or_paths: Any, job: Job, *, key: str,
                     playhead_s: float | None = None) -> None:
    """Toggles for the HDR inspector (PQ/HLG result or source) and the EXR frame browser
    (an EXR frames result) under a generation; nothing is decoded until one is switched on.
    ``playhead_s``: the compare player's settled playhead, which the inspector follows."""
    from components.exr_browser import render_exr_browser

    paths = media_paths(studio_or_paths, job)
    exr_zip = paths.files.get("exr_frames")
    has_exr = exr_zip is not None and exr_zip.is_file()
    has_hdr = bool(hdr_videos(paths))
    if not (has_exr or has_hdr):
        return
    if has_hdr and st.toggle("HDR inspector — nits, scopes, false colour, MaxCLL/MaxFALL",
                             key=f"{key}:hdr-on"):
        with st.container(border=True):  # the Studio goes on: its work queue measures
            render_hdr_inspector(studio_or_paths, job, key=f"{key}:hdr", playhead_s=playhead_s)
    if has_exr and st.toggle("EXR frame browser — every frame in scene-linear light",
                             key=f"{key}:exr-on"):
        with st.container(border=True):
            render_exr_browser(paths, job, key=f"{key}:exr")
