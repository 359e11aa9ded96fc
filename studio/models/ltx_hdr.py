"""LTX 2.3 Quality HDR on Oxen (``ltx-2-3-quality-hdr``, fal's ``ltx-2.3-quality/hdr``): a
prompt-guided SDR → HDR lift, returning an MP4 preview and a ZIP of 16-bit EXR frames.

The unit: vendored request schema (``schemas/ltx-2-3-quality-hdr.reconstructed.json``),
the output geometry (a size preset capped at a 704 px short side; ``num_frames`` at
``frames_per_second``, whatever the clip's length — so the unit says how much of the clip a
generation covers), the documented default ``negative_prompt`` offered to adopt, and the
billing rule :func:`bill` (fal's per-megapixel rate).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.billing import Quote, RateLookup, megapixels, per_unit, seconds
from studio.models.base import Coverage, Geometry, ModelUnit, even, fps_text
from studio.models.schema import FieldUI, read_schema

if TYPE_CHECKING:
    from studio.media import ClipInfo

MODEL_ID = "ltx-2-3-quality-hdr"
SCHEMA = read_schema(Path(__file__).with_name("schemas") / f"{MODEL_ID}.reconstructed.json")

#: The bundled rates of this endpoint (USD), each with its source: compiled from
#: shared/api/pricing.md on 2026-11-20. A live ``pricing`` object or a team override wins
#: over them (:mod:`studio.ratebook`).
RATES: tuple[dict[str, str], ...] = (
    {
        "model_id": MODEL_ID,
        "tier": "any",
        "unit": "output_megapixel",
        "usd": "0.0027075",
        "provenance": "proxy",
        "source_url": "https://fal.ai/models/fal-ai/ltx-2.3-quality/hdr/llms.txt",
        "as_of": "2026-11-20",
        "confidence": (
            "No Oxen price published. fal's upstream rate for the model Oxen runs; megapixels = "
            "width × height × frames / 10^6, rounded up."),
        "derivation": "pricing.md row 4",
    },
)

#: fal ImageSize presets behind ``resolution`` (width, height in pixels).
PRESET_SIZES: dict[str, tuple[int, int]] = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
#: "output capped around 720p (short side ≤ 704 px)", model_params.md §2.
MAX_SHORT_SIDE = 704
#: The frame rates people pick most (film, PAL, NTSC and their doubles), frames/s.
STANDARD_RATES: tuple[float, ...] = (23.976, 24, 25, 29.97, 30, 50, 59.94, 60)

#: The default ``negative_prompt`` the schema carried from 2026-06-26 to 2026-07-01
#: (model_params.md §2 quotes its start, "color distortion, overexposure, static, blurry
#: details, subtitles, …"; the full text is fal's documented default for the LTX-2.3 Quality
#: endpoints, e.g. https://fal.ai/models/fal-ai/ltx-2.3-quality/image-to-video/lora/llms.txt).
DOCUMENTED_NEGATIVE_PROMPT = (
    "color distortion, overexposure, static, blurry details, subtitles, style, artwork, "
    "painting, frame, still, dim overall tone, worst quality, low quality, JPEG compression "
    "artifacts, ugly, mutilated, extra fingers, poorly drawn hands, poorly drawn face, "
    "deformed, disfigured, malformed limbs, fused fingers, motionless frame, cluttered "
    "background, three legs, crowded background, walking backwards"
)


def bill(width: int, height: int, frames: int, *, output_seconds: float | Decimal,
         rate: RateLookup) -> Quote:
    """LTX 2.3 Quality HDR on Oxen: output megapixels (``width × height × frames / 10⁶`` of
    the generated output, rounded up to a whole MP) × fal's per-MP rate. USD, 4 dp half-up.

    Source: pricing.md row 4 (fal's upstream rate, a proxy: Oxen publishes none; fal's example
    121 frames at 1280×720 ≈ 111.5 → 112 MP → $0.3032). When the rate is per output second
    (a live Oxen ``pricing`` object, oxen.md §11.2), ``output_seconds`` × rate is used instead.
    Raises ``KeyError`` when no rate exists.
    """
    r = rate("any")
    if r.unit == "output_second":
        units = seconds(output_seconds)
        return per_unit(MODEL_ID, units, f"{units} output s", "any", r)
    mp = Decimal(megapixels(width, height, frames))
    what = f"{mp} MP ({width}×{height} × {frames} frames, rounded up)"
    return per_unit(MODEL_ID, mp, what, "any", r)


@dataclass(frozen=True, kw_only=True, eq=False)
class LtxQualityHdr(ModelUnit):
    """``num_frames`` at ``frames_per_second`` sets the output's length, not the clip."""

    def output_geometry(self, *, width: int, height: int, fps: float, frame_count: int,
                        params: Mapping[str, Any]) -> Geometry:
        """The preset size (``auto`` = the source's) scaled down to a short side of at most
        704 px, even dimensions; ``num_frames`` frames at ``frames_per_second``."""
        p = self.with_defaults(params)
        preset = str(p.get("resolution", "auto"))
        w, h = (width, height) if preset == "auto" else PRESET_SIZES[preset]
        scale = min(1.0, MAX_SHORT_SIDE / min(w, h))
        return Geometry(even(w * scale), even(h * scale), float(p["frames_per_second"]),
                        int(p["num_frames"]))

    def quote(self, clip: ClipInfo, params: Mapping[str, Any], *, rate: RateLookup) -> Quote:
        geo = self.output_geometry(width=clip.width, height=clip.height, fps=clip.fps,
                                   frame_count=clip.frame_count, params=params)
        return bill(geo.width, geo.height, geo.frame_count, output_seconds=geo.duration_s,
                    rate=rate)

    def _frame_bounds(self) -> tuple[int, int]:
        p = self.param("num_frames")
        return int(p.minimum if p.minimum is not None else 1), \
            int(p.maximum if p.maximum is not None else 10**6)

    def coverage(self, clip: ClipInfo, params: Mapping[str, Any]) -> Coverage | None:
        """``num_frames`` / ``frames_per_second`` seconds of the clip; the whole clip needs
        ⌈duration × frames_per_second⌉ frames, within the schema's 9–481."""
        p = self.with_defaults(params)
        fps, n = float(p["frames_per_second"]), int(p["num_frames"])
        lo, hi = self._frame_bounds()
        needed = math.ceil(clip.duration_s * fps - 1e-9)
        whole = min(hi, max(lo, needed))
        return Coverage(output_s=n / fps, clip_s=clip.duration_s, field="num_frames", value=n,
                        whole_clip_value=whole, capped=needed > hi, frame_s=1.0 / fps)

    def request_notes(self, clip: ClipInfo, params: Mapping[str, Any]) -> list[str]:
        p = self.with_defaults(params)
        fps, n = float(p["frames_per_second"]), int(p["num_frames"])
        wanted = n / fps
        # Longer by a whole output frame or more (covering a clip needs ⌈duration × fps⌉ frames).
        if clip.duration_s and wanted >= clip.duration_s + 1.0 / fps - 1e-9:
            return [f"{n} frames at {fps_text(fps)} frames/s is {wanted:.1f} s, longer than "
                    f"the {clip.duration_s:.1f} s clip."]
        return []

    def params_to_cover(self, duration_s: float, params: Mapping[str, Any]) -> dict[str, Any]:
        """``num_frames`` = duration × ``frames_per_second`` (rounded), within 9–481."""
        out = dict(params)
        try:
            fps = float(self.with_defaults(params)["frames_per_second"])
        except (TypeError, ValueError):
            fps = 24.0
        lo, hi = self._frame_bounds()
        out["num_frames"] = min(hi, max(lo, round(duration_s * fps)))
        return out

    def max_output_s(self, params: Mapping[str, Any]) -> float | None:
        fps = float(self.with_defaults(params)["frames_per_second"])
        return self._frame_bounds()[1] / fps if fps else None

    def chart_seconds(self, clip: ClipInfo, params: Mapping[str, Any]) -> float:
        p = self.with_defaults(params)
        return float(p["num_frames"]) / float(p["frames_per_second"])


UNIT = LtxQualityHdr(
    bundled_rates=RATES,
    id=MODEL_ID,
    display_name="LTX 2.3 Quality HDR",
    short_name="LTX 2.3 HDR",
    provider="oxen",
    route="/api/ai/queue",
    source_field="input_video",
    task="hdr",
    output_kind="video+exr",
    description="Prompt-guided SDR→HDR lift (LTX 2.3 Quality via fal): an MP4 preview plus a "
    "ZIP of 16-bit EXR frames, output capped around 720p (short side ≤ 704 px).",
    schema=SCHEMA,
    ui={
        "prompt": FieldUI(
            label="Prompt", widget="text_area",
            help="Required. Describe the HDR look you want — light, highlights, shadows, colour "
                 "— in a sentence; the clip itself supplies the content. It does not change "
                 "the price.",
            placeholder="Describe the HDR look, e.g. “cinematic HDR, bright natural "
                        "highlights, deep shadows, rich but true colour”"),
        "input_video": FieldUI(label="Source clip"),
        "num_frames": FieldUI(
            label="Number of frames",
            help="Frames to generate (9–481). With the frame rate this sets how long the result "
                 "is, whatever the clip's length; the quote card says how much of the clip it "
                 "covers."),
        "resolution": FieldUI(
            label="Output size",
            help="Output size preset; output is capped at a short side of 704 px, larger sizes "
                 "are scaled down keeping aspect. 'auto' keeps the source aspect."),
        "frames_per_second": FieldUI(
            label="Frame rate", widget="rate", quick_values=STANDARD_RATES,
            help="Output frame rate, frames/s: any value from 1 to 60."),
        "generate_audio": FieldUI(
            help="Keep an audio track in the MP4 (off returns the MP4 without audio)."),
        "negative_prompt": FieldUI(
            label="Negative prompt", widget="text_area",
            placeholder="Optional: what to steer away from",
            help="What to steer away from (optional; the schema declares no default since "
                 "2026-07-01).",
            documented_value=DOCUMENTED_NEGATIVE_PROMPT,
            documented_note="Oxen's schema carried this default from 2026-06-26 to 2026-07-01 "
                            "and declares none since; it may still be applied when you leave "
                            "the field empty (unverified; model_params.md §2)."),
        "seed": FieldUI(help="Random seed; leave empty for a random one."),
    },
    page="ltx_hdr",
    icon=":material/hdr_auto:",
    sandbox_processor="ltx_oxen",
    order=20,
    limits=("9–481 frames at 1–60 frames/s.", "Output short side ≤ 704 px."),
    sources=("https://docs.oxen.ai/inference-api/reference/models/ltx-2-3-quality-hdr",),
    duration_axis="output",
)
