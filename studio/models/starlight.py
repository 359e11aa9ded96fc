"""Topaz Starlight 2.5 on Oxen (``topazlabs-upscale-starlight-2-5-video``): generative
restoration and upscaling to 1080p, 2K or 4K.

The unit: vendored request schema (``schemas/topazlabs-upscale-starlight-2-5-video
.reconstructed.json``, from shared/api/schemas), geometry and frame-rate advice from
:class:`~studio.models._topaz_upscale.TopazUpscaler`, and the billing rule :func:`bill`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.billing import Quote, RateLookup, per_unit, seconds
from studio.models._topaz_upscale import UI, TopazUpscaler
from studio.models.schema import read_schema

if TYPE_CHECKING:
    from studio.media import ClipInfo

MODEL_ID = "topazlabs-upscale-starlight-2-5-video"
SCHEMA = read_schema(Path(__file__).with_name("schemas") / f"{MODEL_ID}.reconstructed.json")

#: The bundled rates of this endpoint (USD), each with its source: compiled from
#: shared/api/pricing.md on 2026-11-20. A live ``pricing`` object or a team override wins
#: over them (:mod:`studio.ratebook`).
RATES: tuple[dict[str, str], ...] = (
    {
        "model_id": MODEL_ID,
        "tier": "1080p",
        "unit": "output_second",
        "usd": "0.0374",
        "provenance": "published",
        "source_url": (
            "https://docs.oxen.ai/inference-api/reference/models/walkthroughs/topaz_starlight_precise_2_5"),
        "as_of": "2026-05-12",
        "confidence": (
            "Oxen's own published rate; Topaz's list price is higher, so it may be stale — the "
            "live pricing object wins."),
        "derivation": "pricing.md row 1",
    },
    {
        "model_id": MODEL_ID,
        "tier": "2k",
        "unit": "output_second",
        "usd": "0.1494",
        "provenance": "published",
        "source_url": (
            "https://docs.oxen.ai/inference-api/reference/models/walkthroughs/topaz_starlight_precise_2_5"),
        "as_of": "2026-05-12",
        "confidence": "Oxen's published high-res rate (2k is billed as 4k).",
        "derivation": "pricing.md row 2",
    },
    {
        "model_id": MODEL_ID,
        "tier": "4k",
        "unit": "output_second",
        "usd": "0.1494",
        "provenance": "published",
        "source_url": (
            "https://docs.oxen.ai/inference-api/reference/models/walkthroughs/topaz_starlight_precise_2_5"),
        "as_of": "2026-05-12",
        "confidence": "Oxen's published high-res rate.",
        "derivation": "pricing.md row 3",
    },
)

INTERPOLATION_NOTE = (
    "Frame interpolation is documented as more expensive; no surcharge is published, so this "
    "quote does not include one."
)


def bill(output_seconds: float | Decimal, resolution: str, *, interpolate_frames: bool,
         rate: RateLookup) -> Quote:
    """Topaz Starlight 2.5 on Oxen: output seconds × the rate of the output ``resolution``
    (``"1080p"``, ``"2k"``, ``"4k"``), USD.

    Source: pricing.md rows 1–3 (Oxen's published per-output-second rates) and oxen.md §11.2
    (``cost_per_second`` for 1080p, ``cost_per_second_high_res`` for 2k *and* 4k). 2k is
    billed as 4k: its bundled entry is the high-res rate, and a live object without a 2k entry
    in ``cost_per_second_by_resolution`` falls back to ``cost_per_second_high_res``.
    Interpolation adds a note, not a surcharge (Oxen publishes none). Rounding: 4 dp half-up.
    Raises ``KeyError`` when no rate exists for the tier.
    """
    units = seconds(output_seconds)
    notes = (INTERPOLATION_NOTE,) if interpolate_frames else ()
    return per_unit(MODEL_ID, units, f"{units} output s", resolution, rate(resolution), notes)


@dataclass(frozen=True, kw_only=True, eq=False)
class Starlight(TopazUpscaler):
    def quote(self, clip: ClipInfo, params: Mapping[str, Any], *, rate: RateLookup) -> Quote:
        geo = self.output_geometry(width=clip.width, height=clip.height, fps=clip.fps,
                                   frame_count=clip.frame_count, params=params)
        return bill(geo.duration_s, str(params["resolution"]),
                    interpolate_frames=bool(params.get("interpolate_frames")), rate=rate)


UNIT = Starlight(
    bundled_rates=RATES,
    id=MODEL_ID,
    display_name="Topaz Starlight 2.5",
    short_name="Starlight upscale",
    provider="oxen",
    route="/api/ai/queue",
    source_field="input_video",
    task="upscale",
    output_kind="video",
    description="Generative restoration and upscaling (Starlight Precise 2.5) to 1080p, 2K or "
    "4K. 2K and 4K are billed at Oxen's high-res rate.",
    schema=SCHEMA,
    ui=UI,
    page="starlight",
    icon=":material/auto_awesome:",
    sandbox_processor="upscale",
    order=50,
    limits=("Maximum clip length on Oxen: not documented (Topaz's cloud app caps at 9000 "
            "frames).",),
    sources=("https://docs.oxen.ai/inference-api/reference/models/"
             "topazlabs-upscale-starlight-2-5-video",),
)
