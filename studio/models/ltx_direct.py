"""LTX HDR on the LTX API itself (``POST /v2/video-to-video-hdr``): SDR → HDR as a ZIP of
half-float EXR frames at the input resolution, billed per input second by input tier.

The unit: the route's request schema, taken from the vendored OpenAPI fragment
(``schemas/ltx-video-to-video-hdr.json``: ``VideoToVideoHdrRequest`` plus the later
``output_colorspace``, sent only when changed because the July-2026 OpenAPI lacks it), the
input tiers and their frame caps (ltx.md §3.2), and the billing rule :func:`bill`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.billing import Quote, RateLookup, per_unit, seconds
from studio.errors import Problem
from studio.models.base import ChartLine, ModelUnit
from studio.models.schema import FieldUI, read_schema

if TYPE_CHECKING:
    from studio.media import ClipInfo

MODEL_ID = "ltx-video-to-video-hdr"  # the route has no model id: named after the route

#: The bundled rates of this endpoint (USD), each with its source: compiled from
#: shared/api/pricing.md on 2026-11-20. A live ``pricing`` object or a team override wins
#: over them (:mod:`studio.ratebook`).
RATES: tuple[dict[str, str], ...] = (
    {
        "model_id": MODEL_ID,
        "tier": "1080p",
        "unit": "input_second",
        "usd": "0.20",
        "provenance": "published",
        "source_url": "https://docs.ltx.video/pricing",
        "as_of": "2026-10-07",
        "confidence": (
            "LTX's own rate, from verbatim transcriptions of docs.ltx.io/pricing (the page text "
            "itself was not stored)."),
        "derivation": "pricing.md row 6",
    },
    {
        "model_id": MODEL_ID,
        "tier": "1440p",
        "unit": "input_second",
        "usd": "0.40",
        "provenance": "published",
        "source_url": "https://docs.ltx.video/pricing",
        "as_of": "2026-07-19",
        "confidence": "LTX's own rate; appears only in the 2026-07-19 transcription.",
        "derivation": "pricing.md row 7",
    },
    {
        "model_id": MODEL_ID,
        "tier": "4k",
        "unit": "input_second",
        "usd": "0.80",
        "provenance": "published",
        "source_url": "https://docs.ltx.video/pricing",
        "as_of": "2026-10-07",
        "confidence": "LTX's own rate, from verbatim transcriptions of docs.ltx.io/pricing.",
        "derivation": "pricing.md row 8",
    },
)
_OPENAPI = read_schema(Path(__file__).with_name("schemas") / f"{MODEL_ID}.json")
_REQUEST = _OPENAPI["components"]["schemas"]["VideoToVideoHdrRequest"]
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": list(_REQUEST["required"]),
    "properties": {**_REQUEST["properties"], **_REQUEST.get("x-later-optional-field", {})},
}


@dataclass(frozen=True)
class LtxTier:
    """An LTX input resolution tier: the smallest box that contains the input by pixel count.

    Source: ltx.md §3.2 (frame caps from the July-2026 OpenAPI; a later ComfyUI node doc
    lists 273/193/65 — we pre-validate against the conservative set and let the server's 400
    be authoritative).
    """

    name: str
    box: tuple[int, int]  # pixels, landscape orientation
    max_frames: int

    @property
    def pixels(self) -> int:
        return self.box[0] * self.box[1]


TIERS: tuple[LtxTier, ...] = (
    LtxTier("1080p", (1920, 1080), 181),
    LtxTier("1440p", (2560, 1440), 101),
    LtxTier("4k", (3840, 2160), 41),
)


def tier(width: int, height: int) -> LtxTier | None:
    """The LTX input tier for a ``width`` × ``height`` (pixels) clip, or ``None`` above 4K.

    Tier = the smallest box whose pixel count holds the input's, in either orientation
    (1080×1920 portrait is the ≤1080p tier; 1920×1082 is the ≤1440p tier). An input whose long
    side exceeds 3840 or short side exceeds 2160 is above 4K. Source: ltx.md §3.2.
    """
    long_side, short_side = max(width, height), min(width, height)
    if long_side > 3840 or short_side > 2160:
        return None
    for t in TIERS:
        if width * height <= t.pixels:
            return t
    return None


def tier_name(width: int, height: int) -> str | None:
    """The input tier name (``"1080p"``, ``"1440p"``, ``"4k"``) for ``width`` × ``height``
    pixels, or ``None`` above 4K (:func:`tier`)."""
    t = tier(width, height)
    return t.name if t else None


def bill(input_seconds: float | Decimal, width: int, height: int, *, rate: RateLookup) -> Quote:
    """LTX API ``/v2/video-to-video-hdr``: **input** seconds × the rate of the **input** tier.
    USD, 4 dp half-up.

    Source: ltx.md §3.2 and §8, pricing.md rows 6–8 ($0.20 / $0.40 / $0.80 per input second
    for ≤1920×1080 / ≤2560×1440 / ≤3840×2160). 1920×1080 and 1080×1920 are ≤1080p; 1920×1082
    is ≤1440p. Inputs above 4K are rejected by LTX; they are quoted at the 4K rate with a
    note. Raises ``KeyError`` when a rate is missing.
    """
    units = seconds(input_seconds)
    name = tier_name(width, height)
    notes: tuple[str, ...] = ()
    if name is None:
        name = "4k"
        notes = ("Inputs above 3840×2160 are rejected by LTX; quoted at the 4K rate.",)
    return per_unit(MODEL_ID, units, f"{units} input s", name, rate(name), notes)


@dataclass(frozen=True, kw_only=True, eq=False)
class LtxDirect(ModelUnit):
    def quote(self, clip: ClipInfo, params: Mapping[str, Any], *, rate: RateLookup) -> Quote:
        return bill(clip.duration_s, clip.width, clip.height, rate=rate)

    def chart_lines(self) -> list[ChartLine]:
        """One line per input tier, the clip resized to the tier's box."""
        return [ChartLine(f"≤{t.name}", box=t.box) for t in TIERS]

    def frame_cap(self, clip: ClipInfo) -> int | None:
        t = tier(clip.width, clip.height)
        return t.max_frames if t else None

    def check_limits(self, clip: ClipInfo, params: Mapping[str, Any]) -> list[Problem]:
        """Above 3840×2160 is rejected; the frame cap depends on the input tier
        (181 / 101 / 41 frames). Source: ltx.md §3.2."""
        t = tier(clip.width, clip.height)
        if t is None:
            return [Problem(None, "limit",
                            f"The clip is {clip.width}×{clip.height}; {self.display_name} "
                            "rejects inputs larger than 3840×2160. Downscale it first.")]
        if clip.frame_count > t.max_frames:
            secs = t.max_frames / clip.fps if clip.fps else 0
            return [Problem(None, "limit",
                            f"The clip has {clip.frame_count} frames; {self.display_name} "
                            f"accepts at most {t.max_frames} frames for inputs up to "
                            f"{t.box[0]}×{t.box[1]} (≈ {secs:.1f} s at {clip.fps:g} frames/s). "
                            "Trim it to fit.")]
        return []


UNIT = LtxDirect(
    bundled_rates=RATES,
    id=MODEL_ID,
    display_name="LTX HDR (direct)",
    short_name="LTX HDR direct",
    provider="ltx",
    route="/v2/video-to-video-hdr",
    source_field="video_uri",
    task="hdr",
    output_kind="exr",
    description="SDR→HDR on the LTX API itself: a ZIP of half-float EXR frames at the input "
    "resolution, one per input frame. Billed per input second by input resolution tier.",
    schema=SCHEMA,
    ui={
        "video_uri": FieldUI(
            label="Source clip",
            help="HTTPS URL, base64 data URI or storage_uri from /v1/upload."),
        "output_colorspace": FieldUI(
            label="Output colour space",
            help="Colour space of the EXR frames. Only in the later Comfy Router schema, not "
                 "the July-2026 OpenAPI: sent only when you change it from the default.",
            send_default=False),
    },
    page="ltx_direct",
    icon=":material/hdr_plus:",
    sandbox_processor="ltx_direct",
    order=30,
    limits=(
        "≤ 181 frames up to 1920×1080, ≤ 101 up to 2560×1440, ≤ 41 up to 3840×2160 "
        "(July-2026 OpenAPI; later docs say 273/193/65).",
        "Inputs above 3840×2160 are rejected.",
        "At most 2 generations in flight per account.",
    ),
    sources=("https://docs.ltx.video/api-documentation/api-reference/async-video-generation/"
             "submit-video-to-video-hdr",),
    typical_minutes="2–10",
)
