"""The compare player: a Streamlit components v2 custom component (HTML, CSS and JavaScript in
this folder, read as text — no build step, nothing from a CDN).

:func:`render_compare` shows a source and 1–4 results of it in one synced player: wipe,
side by side, A/B flip, difference and an N-up grid; one transport (play/pause, seek, loop
in/out, speed 0.25–2×, frame step by one frame of the result, timecode); zoom fit / 100 % /
200 % / 400 % with pan, the same region on every side. See ``compare.js`` for the exact
rules on geometry and time.

Media reach the browser through Streamlit's own media route (``/media/<hash>.mp4``, served
with HTTP ranges), never as a file path: the page holds no server path. The person's mode,
zoom and selected result are component state, kept for the session under ``key`` and passed
back on every rerun, so they survive reruns and the switch from status card to player. The
playhead comes back too, once it settles (after a seek, a frame step or a pause):
:attr:`CompareView.time_s`, which the HDR inspector under the player follows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import streamlit as st

from components import session

_HERE = Path(__file__).resolve().parent
MODES = ("wipe", "side", "flip", "diff", "grid")
ZOOMS = ("fit", "1", "2", "4")
MAX_RESULTS = 4  # issue 7 §2: "N-up: 2–4 results of the same source"

_component = st.components.v2.component(
    "video_enhance_studio.compare",
    html=(_HERE / "compare.html").read_text(encoding="utf-8"),
    css=(_HERE / "compare.css").read_text(encoding="utf-8"),
    js=(_HERE / "compare.js").read_text(encoding="utf-8"),
    # Mounted in the page's DOM (styles scoped by the .vcmp prefix) so the page — and a
    # browser test — sees its <video> elements like any other.
    isolate_styles=False,
)


@dataclass(frozen=True)
class Media:
    """One side of the comparison.

    ``path`` is the browser-playable file (the original or its SDR preview), ``None`` while
    there is none yet — then ``waiting`` is the sentence shown in its place. ``width`` ×
    ``height`` (pixels), ``fps`` (frames/s) and ``duration_s`` (seconds) describe the
    *original* (a 4K HDR result keeps its 3840×2160 even when its preview is smaller), so
    100 % zoom means one original pixel per screen pixel. ``label`` names it (model display
    name), ``lines`` are the facts under the label (key parameters, quote, charge,
    turnaround), ``note`` says when what plays is an SDR preview. ``id`` is the generation's
    job id (``None`` for the source).
    """

    label: str
    path: Path | None
    width: int
    height: int
    fps: float
    duration_s: float
    lines: tuple[str, ...] = ()
    note: str | None = None
    waiting: str | None = None
    id: str | None = None


@dataclass(frozen=True)
class CompareView:
    """What the person chose in the player: ``mode`` (one of :data:`MODES`), ``zoom``
    (:data:`ZOOMS`), ``selected`` (index into the results: B in wipe/flip/difference, the
    highlighted tile in the grid). ``time_s`` is the playhead (seconds on the results'
    timeline) the player last reported once it settled, ``None`` before it reported one."""

    mode: str = "wipe"
    zoom: str = "fit"
    selected: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    time_s: float | None = None


def media_url(path: Path, *, coordinates: str) -> str:
    """The URL of ``path`` on Streamlit's media route, registered for this session at
    ``coordinates`` (one slot per player side, so a replaced file frees the old one).

    The media manager keeps a file while a session's current run refers to it, so this is
    called on every run that shows the player. Raises ``OSError`` when the file is gone."""
    from streamlit import runtime

    return runtime.get_instance().media_file_mgr.add(str(path), "video/mp4", coordinates)


def view_for(key: str) -> CompareView:
    """The view last chosen in the player mounted with ``key`` (the default before)."""
    raw = session.compare_view(key) or {}
    mode = raw.get("mode") if raw.get("mode") in MODES else "wipe"
    zoom = str(raw.get("zoom")) if str(raw.get("zoom")) in ZOOMS else "fit"
    selected = raw.get("selected") if isinstance(raw.get("selected"), int) else 0
    return CompareView(mode, zoom, max(0, selected), time_s=_seconds(raw.get("time")))


def _seconds(value: Any) -> float | None:
    """A reported playhead as seconds ≥ 0, or ``None`` when it is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def _item(media: Media, slot: str, key: str) -> dict[str, Any]:
    url = None
    waiting = media.waiting
    if media.path is not None:
        try:
            url = media_url(media.path, coordinates=f"{key}:{slot}")
        except OSError:
            waiting = "The file to play is no longer on disk."
    return {"slot": slot, "url": url, "label": media.label, "lines": list(media.lines),
            "note": media.note, "waiting": waiting or (None if url else "Not playable"),
            "width": int(media.width), "height": int(media.height), "fps": float(media.fps),
            "duration": float(media.duration_s), "id": media.id}


def render_compare(source: Media | None, results: Sequence[Media], *, key: str,
                   default_mode: str | None = None, compact: bool = False) -> CompareView:
    """Mount the compare player for ``source`` and 0–:data:`MAX_RESULTS` ``results`` (none:
    the source plays alone until a result exists); returns the person's current
    :class:`CompareView`. ``compact`` keeps the picture under about 42 % of the window's
    height (the status card must fit on screen).

    ``key`` identifies the player: keep it stable where one player shows changing content
    (the status card turning into the result, another row selected), so the mode and zoom
    carry over. ``default_mode`` applies until the person picks one (``"grid"`` for an
    N-up sampler, else wipe). Raises ``ValueError`` for more than :data:`MAX_RESULTS`
    results."""
    if len(results) > MAX_RESULTS:
        raise ValueError(f"The compare player shows at most {MAX_RESULTS} results.")
    stored = session.compare_view(key)
    view = view_for(key)
    if stored is None and default_mode in MODES:
        view = CompareView(default_mode, view.zoom, view.selected, time_s=view.time_s)
    chosen_view = {"mode": view.mode, "zoom": view.zoom, "selected": view.selected}
    data = {
        "source": _item(source, "source", key) if source is not None else None,
        "results": [_item(m, f"r{i}:{m.id or i}", key) for i, m in enumerate(results)],
        "view": {**chosen_view, "time": view.time_s},
        "compact": compact,
        "player_id": key,  # a player drawn anew for this key goes on where the last one was
    }
    result = _component(key=key, data=data, default={"view": chosen_view, "time": view.time_s},
                        on_view_change=lambda: None, on_time_change=lambda: None)
    chosen = getattr(result, "view", None) or data["view"]
    played = _seconds(getattr(result, "time", None))
    if isinstance(chosen, dict):
        session.set_compare_view(key, {
            "mode": chosen.get("mode", view.mode), "zoom": str(chosen.get("zoom", view.zoom)),
            "selected": chosen.get("selected", view.selected),
            "time": played if played is not None else view.time_s})
    return view_for(key)


__all__ = ["MAX_RESULTS", "MODES", "Media", "CompareView", "ZOOMS", "media_url",
           "render_compare", "view_for"]
