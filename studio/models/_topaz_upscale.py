"""What Topaz's two upscalers on Oxen (Rhea, Starlight 2.5) share: output geometry by
resolution tier, re-timing to ``target_fps``, and what the page says about the frame rate.

Not a unit itself (no ``UNIT``): :mod:`studio.models.rhea` and
:mod:`studio.models.starlight` build on :class:`TopazUpscaler`. Source: model_params.md §3,
§4 (resolution tiers, ``target_fps`` as one of 8 listed rates since 2026-05-29).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from studio.models.base import (
    RESOLUTION_HEIGHTS,
    Geometry,
    ModelUnit,
    Suggestion,
    even,
    fps_text,
)
from studio.models.schema import FieldUI

if TYPE_CHECKING:
    from studio.media import ClipInfo


UI: dict[str, FieldUI] = {
    "input_video": FieldUI(label="Source clip"),
    "resolution": FieldUI(label="Output resolution"),
    "target_fps": FieldUI(
        label="Output frame rate",
        help="Frame rate of the result (frames/s). A rate other than the clip's re-times it: "
             "frames are repeated or dropped, or generated when interpolate_frames is on."),
    "interpolate_frames": FieldUI(
        help="Generate in-between frames to reach the output frame rate instead of repeating "
             "frames (documented as more expensive)."),
}


@dataclass(frozen=True, kw_only=True, eq=False)
class TopazUpscaler(ModelUnit):
    """An Oxen-hosted Topaz upscaler: output height = the ``resolution`` tier's
    (720/1080/1440/2160 px), width keeps the source aspect (rounded to even), frame rate =
    ``target_fps`` keeping the duration."""

    def output_geometry(self, *, width: int, height: int, fps: float, frame_count: int,
                        params: Mapping[str, Any]) -> Geometry:
        p = self.with_defaults(params)
        out_h = RESOLUTION_HEIGHTS[str(p["resolution"])]
        out_w = even(width * out_h / height)
        out_fps = float(p["target_fps"])
        duration = frame_count / fps if fps else 0.0
        return Geometry(out_w, out_h, out_fps, max(1, round(duration * out_fps)))

    def reachable_resolutions(self) -> tuple[str, ...]:
        return tuple(str(v) for v in (self.param("resolution").enum or ())
                     if str(v) in RESOLUTION_HEIGHTS)

    def params_for_target(self, params: Mapping[str, Any], target: str | None
                          ) -> dict[str, Any]:
        out = dict(params)
        if target is not None and target in self.reachable_resolutions():
            out["resolution"] = target
        return out

    def _nearest_rate(self, fps: float) -> Any | None:
        rates = [r for r in (self.param("target_fps").enum or ()) if isinstance(r, int | float)]
        if not rates or not fps:
            return None
        return min(rates, key=lambda r: (abs(float(r) - fps), float(r)))

    def request_notes(self, clip: ClipInfo, params: Mapping[str, Any]) -> list[str]:
        """What ``target_fps`` does to this clip: its output frame rate and frame count."""
        p = self.with_defaults(params)
        if not clip.fps or "target_fps" not in p:
            return []
        out = self.output_geometry(width=clip.width, height=clip.height, fps=clip.fps,
                                   frame_count=clip.frame_count, params=p)
        src, dst = fps_text(clip.fps), fps_text(float(p["target_fps"]))
        if abs(float(p["target_fps"]) - clip.fps) < 0.0005:
            return [f"Output frame rate: {dst} frames/s, the clip's own ({out.frame_count} "
                    "frames)."]
        how = ("new frames generated in between" if p.get("interpolate_frames")
               else "frames repeated or dropped")
        return [f"Output frame rate: {dst} frames/s. The clip is {src} frames/s, so its "
                f"{clip.frame_count} frames become {out.frame_count} ({how})."]

    def suggestions(self, clip: ClipInfo, params: Mapping[str, Any]) -> list[Suggestion]:
        """The listed ``target_fps`` nearest the clip's own rate, when another is set."""
        p = self.with_defaults(params)
        nearest = self._nearest_rate(clip.fps)
        if nearest is None or "target_fps" not in p or \
                abs(float(p["target_fps"]) - float(nearest)) < 1e-9:
            return []
        exact = abs(float(nearest) - clip.fps) < 0.0005
        reason = (f"The clip is {fps_text(clip.fps)} frames/s; "
                  + ("keep it unchanged." if exact else
                     f"{fps_text(float(nearest))} is the listed rate nearest to it."))
        return [Suggestion("target_fps", nearest,
                           f"Use {fps_text(float(nearest))} frames/s", reason)]


__all__ = ["UI", "TopazUpscaler"]
