"""The EXR frame browser: any ZIP of EXR frames, one frame decoded on demand.

Scrubber (slider and step buttons), exposure in stops, channel view, scene-linear histogram
and false colour (with the convention on screen: which value is reference white), per-frame
statistics with NaN/Inf counts, a pixel readout by clicking the picture or typing x/y, and
"save this frame" as EXR or PNG into the data dir. A damaged member is reported for its
frame; the others stay browsable. Core: :mod:`studio.media.exr`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import streamlit as st

from components.hdr_inspector import _legend_html, _stamp, data_url, media_paths
from studio.errors import StudioError
from studio.jobs import Job
from studio.media import exr, figures, hdr

_CLICK_JS = """
export default function (component) {
  const { data, setTriggerValue, parentElement } = component;
  let img = parentElement.querySelector("img.exr-frame");
  if (!img) {
    img = document.createElement("img");
    img.className = "exr-frame";
    img.style.width = "100%";
    img.style.cursor = "crosshair";
    img.style.display = "block";
    parentElement.appendChild(img);
  }
  img.src = data.src;
  img.alt = data.alt;
  img.onclick = (e) => {
    const r = img.getBoundingClientRect();
    const x = Math.min(data.width - 1, Math.floor((e.clientX - r.left) / r.width * data.width));
    const y = Math.min(data.height - 1, Math.floor((e.clientY - r.top) / r.height * data.height));
    setTriggerValue("pixel", { x: x, y: y });
  };
}
"""


@st.cache_resource(show_spinner=False)
def _click_image() -> Any:
    return st.components.v2.component("vestudio.exr_click_image", js=_CLICK_JS)


@st.cache_resource(ttl=900, max_entries=4, show_spinner=False)
def _sequence(path: str, stamp: str) -> exr.ExrSequence:
    return exr.ExrSequence(path)


@st.cache_resource(ttl=300, max_entries=3, show_spinner=False)
def _frame(path: str, stamp: str, index: int) -> exr.ExrFrame:
    return _sequence(path, stamp).frame(index)


def _step(key: str, delta: int, count: int) -> None:
    st.session_state[key] = min(max(int(st.session_state.get(key, 0)) + delta, 0), count - 1)


def render_exr_browser(studio_or_paths: Any, job: Job | None, *, key: str) -> None:
    """Browse the EXR frames ZIP of ``job`` (``studio_or_paths``: a ``Studio`` or
    :class:`components.hdr_inspector.MediaPaths`)."""
    paths = media_paths(studio_or_paths, job)
    zip_path = paths.files.get("exr_frames")
    if zip_path is None or not zip_path.is_file():
        st.caption("This generation has no EXR frames to browse.")
        return
    stamp = _stamp(zip_path)
    try:
        seq = _sequence(str(zip_path), stamp)
    except StudioError as exc:
        st.error(str(exc))
        return
    count = seq.frame_count
    fkey = f"{key}:frame"
    st.session_state.setdefault(fkey, 0)
    nav = st.columns([1, 8, 1], vertical_alignment="bottom")
    nav[0].button("◀ Step", key=f"{key}:prev", on_click=_step, args=(fkey, -1, count),
                  disabled=st.session_state[fkey] <= 0)
    index = nav[1].slider(f"Frame (of {count}: {Path(seq.names[0]).name} … "
                          f"{Path(seq.names[-1]).name})", 0, count - 1, key=fkey)
    nav[2].button("Step ▶", key=f"{key}:next", on_click=_step, args=(fkey, 1, count),
                  disabled=st.session_state[fkey] >= count - 1)
    c1, c2, c3, c4 = st.columns([2, 4, 2, 2])
    exposure = c1.slider("Exposure (stops)", -8.0, 8.0, 0.0, step=0.5, key=f"{key}:exp")
    channel = c2.segmented_control("Channel", list(exr.CHANNEL_VIEWS), default="RGB",
                                   key=f"{key}:ch") or "RGB"
    white = float(c3.selectbox("Reference white (1.0 =)", [203, 100], key=f"{key}:white",
                               format_func=lambda v: f"{v} cd/m²"))
    view = c4.segmented_control("Picture", ["Image", "False colour"], default="Image",
                                key=f"{key}:view") or "Image"
    convention = (f"Scene-linear convention: 1.0 = reference white = {white:g} cd/m² "
                  + ("(HDR reference white, ITU-R BT.2408)." if white == 203 else
                     "(SDR peak white; BT.2408 puts HDR reference white at 203 cd/m²)."))
    if seq.damaged:
        listed = ", ".join(str(i) for i in sorted(seq.damaged)[:20])
        more = f" and {len(seq.damaged) - 20} more" if len(seq.damaged) > 20 else ""
        st.warning(f"Damaged frames (cannot be read): {listed}{more}. The others stay "
                   "browsable.")
    try:
        frame = _frame(str(zip_path), stamp, int(index))
    except StudioError as exc:
        seq.damaged[int(index)] = str(exc)
        st.error(f"Frame {index} is damaged: {exc}")
        return
    if frame.note:
        st.info(frame.note)
    if channel == "A" and frame.alpha is None:
        st.caption("This frame has no alpha channel; showing RGB.")
        channel = "RGB"
    nits = exr.luminance_of(frame) * white
    left, right = st.columns([3, 2])
    with left:
        if view == "False colour":
            picture = hdr.false_colour_image(nits)
        else:
            picture = exr.view_rgb8(frame, exposure_stops=exposure, channel=channel)
        full_w, full_h = frame.header.width, frame.header.height
        clicked = _click_image()(
            data={"src": data_url(picture), "width": full_w, "height": full_h,
                  "frame": int(index), "alt": f"EXR frame {index}"},
            key=f"{key}:img", on_pixel_change=lambda: None)
        if view == "False colour":
            st.markdown(_legend_html(), unsafe_allow_html=True)
        st.caption(f"{seq.names[index]} · {full_w}×{full_h} · {frame.dtype} · "
                   f"{frame.header.compression or 'uncompressed'} · {convention} Click the "
                   "picture to read a pixel.")
    with right:
        pixel = getattr(clicked, "pixel", None) if clicked is not None else None
        px, py = st.columns(2)
        if pixel:  # a trigger: present only on the run right after the click
            st.session_state[f"{key}:x"] = int(pixel["x"])
            st.session_state[f"{key}:y"] = int(pixel["y"])
        x = px.number_input("x", 0, full_w - 1, key=f"{key}:x")
        y = py.number_input("y", 0, full_h - 1, key=f"{key}:y")
        value = exr.pixel_readout(frame, int(x), int(y), white_nits=white)
        readout = {k: (f"{v:.6g}" if math.isfinite(v) else str(v)) for k, v in value.items()}
        st.markdown("**Pixel (linear)** " + " · ".join(
            f"{k} `{v}`" for k, v in readout.items() if k != "nits")
            + f" · ≈ {value['nits']:.4g} cd/m²")
        stats = exr.frame_stats(frame)
        st.table({"channel": list(stats.channels),
                  "min": [f"{c.minimum:.5g}" for c in stats.channels.values()],
                  "max": [f"{c.maximum:.5g}" for c in stats.channels.values()],
                  "mean": [f"{c.mean:.5g}" for c in stats.channels.values()]})
        st.caption(f"NaN samples: {stats.nan_count:,} · +Inf: {stats.pos_inf_count:,} · "
                   f"−Inf: {stats.neg_inf_count:,} · negative: {stats.negative_count:,} "
                   "(counted, never put in the histogram or the means).")
        fmt = st.segmented_control("Save as", ["EXR", "PNG"], default="EXR",
                                   key=f"{key}:fmt") or "EXR"
        if st.button(f"Save frame {index} as {fmt}", key=f"{key}:save"):
            try:
                saved = exr.save_frame(frame, paths.data_dir / "exports", stem=zip_path.stem,
                                       fmt=fmt.lower(), exposure_stops=exposure,
                                       channel=channel)
            except StudioError as exc:
                st.error(str(exc))
            else:
                st.session_state[f"{key}:saved"] = str(saved)
        saved_path = st.session_state.get(f"{key}:saved")
        if saved_path and Path(saved_path).is_file():
            st.download_button(f"Download {Path(saved_path).name}",
                               data=Path(saved_path).read_bytes, file_name=Path(saved_path).name,
                               key=f"{key}:dl")
    st.plotly_chart(figures.histogram_figure(
        hdr.log_nits_histogram(nits), title=f"Scene-linear luminance (× {white:g} cd/m²)"),
        width="stretch", key=f"{key}:hist")
