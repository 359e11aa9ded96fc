"""Topaz Hyperion HDR on Oxen (``topazlabs-hyperion-hdr-video``): SDR → HDR10 (PQ) or HLG,
H.265 or ProRes, keeping the input's size and frame rate.

The unit: vendored request schema (``schemas/topazlabs-hyperion-hdr-video
.reconstructed.json``), ``output_profile`` shown and sent only with ProRes (its schema says
"only meaningful when output_encoder is ProRes"), the billing rule :func:`bill` by resolution
tier and the chart's three tiers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.billing import Quote, RateLookup, per_unit, seconds
from studio.models._topaz_credits import credit_rate
from studio.models.base import ChartLine, ModelUnit
from studio.models.schema import FieldUI, read_schema

if TYPE_CHECKING:
    from studio.media import ClipInfo

MODEL_ID = "topazlabs-hyperion-hdr-video"
SCHEMA = read_schema(Path(__file__).with_name("schemas") / f"{MODEL_ID}.reconstructed.json")

#: The bundled rates of this endpoint (USD), each with its source: compiled from
#: shared/api/pricing.md on 2026-11-20. A live ``pricing`` object or a team override wins
#: over them (:mod:`studio.ratebook`).
_HYP_1 = "https://developer.topazlabs.com/video-models/video-utilities/hyperion-sdr-to-hdr"
_NO_OXEN_PRICE = "No Oxen price published for Hyperion; Topaz hyp-1 table at $0.10/credit."
RATES: tuple[dict[str, str], ...] = (
    credit_rate(MODEL_ID, "720p", source_url=_HYP_1, rows="11, 12", confidence=(
        "No Oxen price published for Hyperion. Topaz's own hyp-1 credit table at "
        "$0.10/credit; Topaz rounds credits up per job (min 1 credit), Oxen's rule is unknown.")),
    credit_rate(MODEL_ID, "1080p", source_url=_HYP_1, rows="11, 13", confidence=_NO_OXEN_PRICE),
    credit_rate(MODEL_ID, "4k", source_url=_HYP_1, rows="11, 14", confidence=_NO_OXEN_PRICE),
)


def tier_for(width: int, height: int) -> str:
    """Hyperion's resolution tier by the short side in pixels: ≤720 → ``"720p"``,
    ≤1080 → ``"1080p"``, larger → ``"4k"`` (the three rows of Topaz's hyp-1 credit table,
    pricing.md rows 12–14)."""
    short = min(width, height)
    if short <= 720:
        return "720p"
    if short <= 1080:
        return "1080p"
    return "4k"


def bill(output_seconds: float | Decimal, width: int, height: int, *, rate: RateLookup
         ) -> Quote:
    """Topaz Hyperion HDR on Oxen: seconds (output = input) × the rate of the tier picked by
    the short side of ``width`` × ``height`` pixels (:func:`tier_for`). USD, 4 dp half-up.

    Source: no Oxen price is published (pricing.md §4); bundled rates are a proxy from Topaz's
    own hyp-1 credit table at $0.10/credit (pricing.md rows 11–14). Topaz rounds credits up
    per job; Oxen's rounding is unknown, so none is applied. Raises ``KeyError`` when a rate
    is missing.
    """
    units = seconds(output_seconds)
    tier = tier_for(width, height)
    return per_unit(MODEL_ID, units, f"{units} s", tier, rate(tier))


@dataclass(frozen=True, kw_only=True, eq=False)
class Hyperion(ModelUnit):
    def quote(self, clip: ClipInfo, params: Mapping[str, Any], *, rate: RateLookup) -> Quote:
        geo = self.output_geometry(width=clip.width, height=clip.height, fps=clip.fps,
                                   frame_count=clip.frame_count, params=params)
        return bill(geo.duration_s, clip.width, clip.height, rate=rate)

    def chart_lines(self) -> list[ChartLine]:
        """One line per tier, the clip resized to that tier's 16:9 box."""
        return [ChartLine("720p", box=(1280, 720)), ChartLine("1080p", box=(1920, 1080)),
                ChartLine("4k", box=(3840, 2160))]


UNIT = Hyperion(
    bundled_rates=RATES,
    id=MODEL_ID,
    display_name="Topaz Hyperion HDR",
    short_name="Hyperion HDR",
    provider="oxen",
    route="/api/ai/queue",
    source_field="input_video",
    task="hdr",
    output_kind="hdr_video",
    description="SDR→HDR conversion (Topaz HYP-1): expands highlights and colour into an "
    "HDR10 (PQ) or HLG master, H.265 or ProRes. Keeps the input resolution and frame rate.",
    schema=SCHEMA,
    ui={
        "input_video": FieldUI(label="Source clip"),
        "transfer_function": FieldUI(
            help="HDR transfer function: HLG for broadcast-style delivery, PQ (SMPTE ST 2084) "
                 "for HDR10 mastering."),
        "adjust_exposure": FieldUI(
            help="Exposure change applied while converting (0.5 = neutral)."),
        "boost_saturation": FieldUI(
            help="Saturation boost applied while converting (0.5 = neutral)."),
        "highlight_threshold": FieldUI(
            help="SDR level above which highlights are expanded into the HDR range (the API "
                 "default is 0.65; Topaz's desktop app uses 0.70)."),
        "output_encoder": FieldUI(
            help="Encoder of the rendered file: H.265 (MP4) or ProRes (MOV, for editing)."),
        "output_profile": FieldUI(
            label="ProRes profile",
            help="ProRes profile of the MOV. Shown and sent only with the ProRes encoder: the "
                 "schema says it has no meaning for H.265.",
            only_with={"output_encoder": ("ProRes",)}),
    },
    page="hyperion_hdr",
    icon=":material/hdr_on:",
    sandbox_processor="hyperion",
    order=10,
    limits=("Maximum clip length: not documented.",),
    sources=("https://docs.oxen.ai/inference-api/reference/models/topazlabs-hyperion-hdr-video",),
    notes=("Oxen marks this model legacy (2026-07-10) in favour of topazlabs-hyperion-2-video.",),
)
