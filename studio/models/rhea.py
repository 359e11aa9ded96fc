"""Topaz Rhea on Oxen (``topazlabs-rhea-video``): the Proteus-family fine-detail upscaler
to 720p, 1080p, 2K or 4K with restoration controls.

The unit: vendored request schema (``schemas/topazlabs-rhea-video.reconstructed.json``),
geometry and frame-rate advice from :class:`~studio.models._topaz_upscale.TopazUpscaler`,
and the billing rule :func:`bill` with its interpolation surcharge factor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.billing import Quote, RateLookup, amount, per_unit, seconds
from studio.models._topaz_credits import credit_rate
from studio.models._topaz_upscale import UI, TopazUpscaler
from studio.models.schema import FieldUI, read_schema

if TYPE_CHECKING:
    from studio.media import ClipInfo

MODEL_ID = "topazlabs-rhea-video"
SCHEMA = read_schema(Path(__file__).with_name("schemas") / f"{MODEL_ID}.reconstructed.json")

#: The bundled rates of this endpoint (USD), each with its source: compiled from
#: shared/api/pricing.md on 2026-11-20. A live ``pricing`` object or a team override wins
#: over them (:mod:`studio.ratebook`).
_PROTEUS = "https://developer.topazlabs.com/video-models/proteus/proteus"
_NO_OXEN_PRICE = "No Oxen price published for Rhea; Topaz Proteus-family table at $0.10/credit."
RATES: tuple[dict[str, str], ...] = (
    credit_rate(MODEL_ID, "720p", source_url=_PROTEUS, rows="11, 15", confidence=(
        "No Oxen price published for Rhea. Topaz's own Proteus-family credit table (Rhea's "
        "family) at $0.10/credit (Developer plan).")),
    credit_rate(MODEL_ID, "1080p", source_url=_PROTEUS, rows="11, 15",
                confidence=_NO_OXEN_PRICE),
    credit_rate(MODEL_ID, "2k", priced_as="4k", source_url=_PROTEUS, rows="11, 15",
                confidence="Topaz's table has no 2K row; priced at its 4K row (the next tier up)."),
    credit_rate(MODEL_ID, "4k", source_url=_PROTEUS, rows="11, 15", confidence=_NO_OXEN_PRICE),
    {
        "model_id": MODEL_ID,
        "tier": "interpolate_frames",
        "unit": "factor",
        "usd": "2",
        "provenance": "proxy",
        "source_url": "https://docs.oxen.ai/inference-api/reference/models/topazlabs-rhea-video",
        "as_of": "2026-06-26",
        "confidence": (
            "Low: an assumption, not a published number. Oxen's Rhea page only says "
            "interpolate_frames is \"more expensive\" and gives no surcharge (pricing.md §4); Topaz "
            "publishes no Rhea price either."),
        "derivation": (
            "Topaz bills its video models per output frame (pricing.md rows 9–10, "
            "https://developer.topazlabs.com/getting-started/model-pricing/video-models) and "
            "frame interpolation doubles the output frames, so the surcharge is taken as ×2 "
            "(multiplies the per-second rate)."),
    },
)
INTERPOLATION_TIER = "interpolate_frames"  # the surcharge factor's tier in RATES


def bill(output_seconds: float | Decimal, resolution: str, *, interpolate_frames: bool,
         rate: RateLookup) -> Quote:
    """Topaz Rhea on Oxen: output seconds × the rate of the output ``resolution`` (``"720p"``,
    ``"1080p"``, ``"2k"``, ``"4k"``), × the ``"interpolate_frames"`` factor when
    ``interpolate_frames`` is true. USD, rounded once to 4 dp half-up.

    Sources: Oxen publishes no Rhea price (pricing.md §4), so the per-second rates are the
    Topaz Proteus-family credit table (pricing.md rows 11, 15; proxy) unless live pricing or an
    override says otherwise. The surcharge factor is a *proxy assumption*: Oxen only says
    interpolation is "more expensive" (model_params.md §3); Topaz bills per output frame and
    interpolation doubles the frames, so the bundled factor is 2. Basis and notes say so.
    Raises ``KeyError`` when a rate is missing.
    """
    units = seconds(output_seconds)
    r = rate(resolution)
    if not interpolate_frames:
        return per_unit(MODEL_ID, units, f"{units} output s", resolution, r)
    factor = rate(INTERPOLATION_TIER)
    total = amount(units, r, factor)
    basis = (f"{units} output s × ${r.usd} × {factor.usd} "
             f"({factor.provenance} interpolation surcharge, an assumption) = ${total}")
    note = (f"Frame interpolation is priced with a {factor.provenance} surcharge of "
            f"×{factor.usd}, an assumption: Oxen only says interpolation is more expensive and "
            "publishes no number. " + (factor.derivation or factor.confidence))
    return Quote(MODEL_ID, total, units, resolution, r, basis, (note,), (factor,))


@dataclass(frozen=True, kw_only=True, eq=False)
class Rhea(TopazUpscaler):
    def quote(self, clip: ClipInfo, params: Mapping[str, Any], *, rate: RateLookup) -> Quote:
        geo = self.output_geometry(width=clip.width, height=clip.height, fps=clip.fps,
                                   frame_count=clip.frame_count, params=params)
        return bill(geo.duration_s, str(params["resolution"]),
                    interpolate_frames=bool(params.get("interpolate_frames")), rate=rate)


UNIT = Rhea(
    bundled_rates=RATES,
    id=MODEL_ID,
    display_name="Topaz Rhea",
    short_name="Rhea upscale",
    provider="oxen",
    route="/api/ai/queue",
    source_field="input_video",
    task="upscale",
    output_kind="video",
    description="Fine-detail upscaler (Proteus family) to 720p, 1080p, 2K or 4K with "
    "optional frame interpolation and restoration controls.",
    schema=SCHEMA,
    ui={
        **UI,
        "blur": FieldUI(help="Anti-blur: higher = sharper."),
        "compression": FieldUI(help="Compression-artifact removal: higher = stronger."),
        "halo": FieldUI(help="Halo suppression: higher = stronger."),
        "grain_type": FieldUI(help="Film grain style (optional; no default declared)."),
    },
    page="rhea",
    icon=":material/zoom_in:",
    sandbox_processor="upscale",
    order=40,
    limits=("Maximum clip length: not documented.",),
    sources=("https://docs.oxen.ai/inference-api/reference/models/topazlabs-rhea-video",),
)
