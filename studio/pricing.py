"""Quotes: what a generation will cost, in USD, and where each rate came from.

Owns the billing rule of each endpoint and the bundled rate table (``rates.json``, compiled
from ``shared/api/pricing.md``). Money is :class:`decimal.Decimal` throughout; a quote is
rounded half-up to 4 decimal places (1/100 of a cent) so published examples reproduce
exactly (14 s × $0.1494 = $2.0916).

Billing rules (pricing.md §3):
- Starlight / Rhea: output seconds × rate of the output resolution tier (Starlight 2k is
  billed at the high-res rate, like 4k).
- Hyperion: output seconds (= input seconds) × rate of the resolution tier (≤720p, ≤1080p,
  above → 4k), proxied from Topaz's hyp-1 credit table.
- LTX 2.3 HDR on Oxen: output megapixels (width × height × frames / 10⁶, rounded up) × fal's
  upstream per-MP rate.
- LTX direct: input seconds × rate of the input tier (smallest box holding the input by
  pixel count, either orientation).

With a live Oxen key the model's ``pricing`` object (oxen.md §11.2) wins over bundled rates.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from studio import catalog

if TYPE_CHECKING:
    from studio.media import ClipInfo

CENTI_CENT = Decimal("0.0001")
PROVENANCES = ("live", "published", "proxy", "override")
UNIT_LABELS = {
    "output_second": "output second",
    "input_second": "input second",
    "output_megapixel": "output megapixel",
}


@dataclass(frozen=True)
class Rate:
    """One price point: ``usd`` per ``unit`` for ``model_id`` at ``tier``.

    ``provenance`` is ``"published"`` (the billing provider's own number), ``"proxy"`` (the
    closest documented stand-in from another provider or product), ``"live"`` (the model's
    Oxen ``pricing`` object) or ``"override"`` (a team override). ``source_url`` and
    ``as_of`` say where and when it was read.
    """

    model_id: str
    tier: str
    unit: str
    usd: Decimal
    provenance: str
    source_url: str
    as_of: str
    confidence: str = ""
    derivation: str = ""

    @property
    def label(self) -> str:
        """E.g. ``"$0.1494 per output second (4k) · published · as of 2026-05-12"``."""
        tier = "" if self.tier == "any" else f" ({self.tier})"
        return (f"${self.usd} per {UNIT_LABELS.get(self.unit, self.unit)}{tier} · "
                f"{self.provenance} · as of {self.as_of}")


@dataclass(frozen=True)
class Quote:
    """A priced generation: ``amount_usd`` = ``units`` × ``rate.usd`` (4 dp, half-up).

    ``units`` is in the rate's unit (seconds or megapixels); ``tier`` is the resolution tier
    that picked the rate; ``provenance`` is the rate's; ``basis`` spells out the arithmetic.
    """

    model_id: str
    amount_usd: Decimal
    units: Decimal
    tier: str
    rate: Rate
    basis: str
    notes: tuple[str, ...] = ()

    @property
    def provenance(self) -> str:
        return self.rate.provenance

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (amounts as decimal strings) for the job store."""
        return {
            "model_id": self.model_id,
            "amount_usd": str(self.amount_usd),
            "units": str(self.units),
            "unit": self.rate.unit,
            "tier": self.tier,
            "provenance": self.rate.provenance,
            "rate_usd": str(self.rate.usd),
            "source_url": self.rate.source_url,
            "as_of": self.rate.as_of,
            "basis": self.basis,
            "notes": list(self.notes),
        }


@cache
def bundled_rates() -> tuple[Rate, ...]:
    """Every bundled rate from ``studio/rates.json`` (read once)."""
    raw = json.loads(resources.files("studio").joinpath("rates.json").read_text("utf-8"))
    return tuple(
        Rate(
            model_id=r["model_id"],
            tier=r["tier"],
            unit=r["unit"],
            usd=Decimal(r["usd"]),
            provenance=r["provenance"],
            source_url=r["source_url"],
            as_of=r["as_of"],
            confidence=r.get("confidence", ""),
            derivation=r.get("derivation", ""),
        )
        for r in raw["rates"]
    )


def rate_for(model_id: str, tier: str, *, live_pricing: Mapping[str, Any] | None = None) -> Rate:
    """The rate for ``model_id`` at ``tier``: live Oxen pricing first, then the bundled table.

    Raises ``KeyError`` when no rate exists (a quote is never made from an unsourced number).
    """
    if live_pricing:
        live = _live_rate(model_id, tier, live_pricing)
        if live is not None:
            return live
    for r in bundled_rates():
        if r.model_id == model_id and r.tier in (tier, "any"):
            return r
    raise KeyError(f"no rate for {model_id} at tier {tier}")


def _live_rate(model_id: str, tier: str, pricing: Mapping[str, Any]) -> Rate | None:
    """A rate from an Oxen ``pricing`` object (oxen.md §11.2), or ``None`` if it has none.

    Precedence: ``cost_per_second_by_resolution[tier]`` (newest, most precise), then
    ``cost_per_second_high_res`` for 2k/4k, then ``cost_per_second``. Only per-second pricing
    maps onto our units; LTX on Oxen (priced per MP upstream) uses it as per output second.
    """
    value = None
    by_res = pricing.get("cost_per_second_by_resolution") or {}
    if isinstance(by_res, Mapping) and by_res.get(tier) is not None:
        value = by_res[tier]
    elif tier in ("2k", "4k") and pricing.get("cost_per_second_high_res") is not None:
        value = pricing["cost_per_second_high_res"]
    elif pricing.get("cost_per_second") is not None:
        value = pricing["cost_per_second"]
    if value is None:
        return None
    return Rate(
        model_id=model_id,
        tier=tier,
        unit="output_second",
        usd=Decimal(str(value)),
        provenance="live",
        source_url=f"GET /api/ai/models/{model_id} → pricing",
        as_of="live",
        confidence="Oxen's live pricing object for this model.",
    )


def _seconds(x: float) -> Decimal:
    """Seconds as a Decimal at millisecond precision (avoids float noise like 13.999999)."""
    return Decimal(str(round(x, 3))).normalize()


def _hyperion_tier(width: int, height: int) -> str:
    short = min(width, height)
    if short <= 720:
        return "720p"
    if short <= 1080:
        return "1080p"
    return "4k"


def quote(
    model_id: str,
    clip: ClipInfo,
    params: Mapping[str, Any],
    *,
    live_pricing: Mapping[str, Any] | None = None,
) -> Quote:
    """Quote one generation of ``model_id`` on ``clip`` with ``params`` (defaults fill gaps).

    Returns a :class:`Quote` in USD. Raises ``studio.errors.ParamError`` for an unknown model
    and ``KeyError`` if no sourced rate exists. ``live_pricing`` is the Oxen model's
    ``pricing`` object; when it has a per-second rate it replaces the bundled one.
    """
    spec = catalog.get(model_id)
    p = catalog.with_defaults(model_id, params)
    geo = catalog.output_geometry(
        model_id, width=clip.width, height=clip.height, fps=clip.fps,
        frame_count=clip.frame_count, params=p,
    )
    notes: list[str] = []
    if spec.task == "upscale":
        tier = str(p["resolution"])
        units = _seconds(geo.duration_s)
        rate = rate_for(model_id, tier, live_pricing=live_pricing)
        what = f"{units} output s"
        if p.get("interpolate_frames"):
            notes.append("Frame interpolation is documented as more expensive; no surcharge "
                         "is published, so this quote does not include one.")
    elif model_id == catalog.HYPERION:
        tier = _hyperion_tier(clip.width, clip.height)
        units = _seconds(geo.duration_s)
        rate = rate_for(model_id, tier, live_pricing=live_pricing)
        what = f"{units} s"
    elif model_id == catalog.LTX_OXEN:
        tier = "any"
        live = _live_rate(model_id, tier, live_pricing) if live_pricing else None
        if live is not None:
            rate, units = live, _seconds(geo.duration_s)
            what = f"{units} output s"
        else:
            rate = rate_for(model_id, tier)
            units = Decimal(math.ceil(round(geo.megapixels, 6)))
            what = f"{units} MP ({geo.width}×{geo.height} × {geo.frame_count} frames, rounded up)"
    elif model_id == catalog.LTX_DIRECT:
        ltx_tier = catalog.ltx_tier(clip.width, clip.height)
        # Above 4K the route rejects the input; quote at the top tier and say so.
        tier = ltx_tier.name if ltx_tier else "4k"
        if ltx_tier is None:
            notes.append("Inputs above 3840×2160 are rejected by LTX; quoted at the 4K rate.")
        units = _seconds(clip.duration_s)
        rate = rate_for(model_id, tier)
        what = f"{units} input s"
    else:  # pragma: no cover - every catalog entry has a rule above
        raise KeyError(f"no billing rule for {model_id}")
    amount = (units * rate.usd).quantize(CENTI_CENT, rounding=ROUND_HALF_UP)
    basis = f"{what} × ${rate.usd} = ${amount}"
    return Quote(model_id, amount, units, tier, rate, basis, tuple(notes))


def oxen_pricing_object(model_id: str) -> dict[str, Any]:
    """The Oxen model ``pricing`` object (oxen.md §11.2) built from the bundled rates.

    This is what the sandbox serves from ``GET /api/ai/models/{id}``; numbers are JSON
    numbers (USD) as on the real API. LTX on Oxen is per megapixel upstream, which Oxen's
    object cannot express, so its per-second fields are null.
    """
    rates = [r for r in bundled_rates() if r.model_id == model_id]
    per_second = {r.tier: float(r.usd) for r in rates if r.unit == "output_second"}
    high = per_second.get("4k")
    base = per_second.get("1080p")
    return {
        "method": "per_video_output_second",
        "cost_per_second": base,
        "cost_per_second_high_res": high,
        "cost_per_second_with_audio": None,
        "cost_per_second_by_resolution": per_second or None,
    }


def tiers_for_chart(model_id: str) -> list[tuple[str, dict[str, Any], tuple[int, int] | None]]:
    """The lines of a cost-vs-duration chart: (label, param overrides, clip size override).

    Upscalers: one line per ``resolution`` value. Hyperion and LTX direct: one per input tier
    (the clip is resized to that tier's box). LTX on Oxen: one per ``resolution`` preset.
    """
    spec = catalog.get(model_id)
    if spec.task == "upscale" or model_id == catalog.LTX_OXEN:
        return [(str(v), {"resolution": v}, None) for v in spec.param("resolution").enum or ()]
    if model_id == catalog.HYPERION:
        return [("720p", {}, (1280, 720)), ("1080p", {}, (1920, 1080)), ("4k", {}, (3840, 2160))]
    return [(f"≤{t.name}", {}, t.box) for t in catalog.LTX_TIERS]
