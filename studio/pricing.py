"""Quotes: what a generation will cost, in USD, and where each rate came from.

The front door for pricing. :func:`quote` probes nothing and does no I/O: it works out the
output geometry (:mod:`studio.catalog`), picks the endpoint's billing rule
(:mod:`studio.billing`, one pure function per endpoint) and takes rates from a
:class:`~studio.ratebook.RateBook` (team override > live Oxen ``pricing`` > bundled
``rates.json``, compiled from ``shared/api/pricing.md``). Money is :class:`decimal.Decimal`
throughout; a quote is rounded half-up to 4 decimal places (1/100 of a cent) so published
examples reproduce exactly (14 s × $0.1494 = $2.0916).

Billing rules (pricing.md §3; details and sources on each :mod:`studio.billing` function):
- Starlight: output seconds × rate of the output resolution tier (2k billed at the high-res
  rate, like 4k).
- Rhea: output seconds × rate of the output tier, × a proxy surcharge factor when
  ``interpolate_frames`` is on (an assumption; Oxen publishes no number).
- Hyperion: seconds × rate of the tier by short side (≤720, ≤1080, above → 4k), proxied from
  Topaz's hyp-1 credit table.
- LTX 2.3 HDR on Oxen: output megapixels (width × height × frames / 10⁶, rounded up) × fal's
  upstream per-MP rate.
- LTX direct: input seconds × rate of the input tier (smallest box holding the input by pixel
  count, either orientation; ltx.md §3.2).

With a live Oxen key the model's ``pricing`` object (oxen.md §11.2) wins over bundled rates;
a team override wins over both. :class:`Rate`, :class:`Quote`, :func:`bundled_rates` and the
constants are re-exported here for existing callers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from studio import billing, catalog
from studio.billing import CENTI_CENT, Quote
from studio.ratebook import (
    PROVENANCES,
    UNIT_LABELS,
    Rate,
    RateBook,
    bundled_book,
    bundled_rates,
)

if TYPE_CHECKING:
    from studio.media import ClipInfo

__all__ = [
    "CENTI_CENT",
    "PROVENANCES",
    "UNIT_LABELS",
    "Quote",
    "Rate",
    "RateBook",
    "bundled_rates",
    "oxen_pricing_object",
    "quote",
    "rate_for",
    "tiers_for_chart",
]


def rate_for(model_id: str, tier: str, *, live_pricing: Mapping[str, Any] | None = None) -> Rate:
    """The rate for ``model_id`` at ``tier``: live Oxen pricing first, then the bundled table.

    Team overrides are not consulted here (use :meth:`RateBook.rate_for` of a loaded book).
    Raises ``KeyError`` when no rate exists (a quote is never made from an unsourced number).
    """
    return bundled_book().rate_for(model_id, tier, live_pricing=live_pricing)


def quote(
    model_id: str,
    clip: ClipInfo,
    params: Mapping[str, Any],
    *,
    live_pricing: Mapping[str, Any] | None = None,
    book: RateBook | None = None,
) -> Quote:
    """Quote one generation of ``model_id`` on ``clip`` with ``params`` (defaults fill gaps).

    Returns a :class:`Quote` in USD. ``book`` supplies the rates (``None`` = bundled rates
    only); ``live_pricing`` is this model's Oxen ``pricing`` object and, when it has a
    per-second rate, replaces the book's live/bundled one (a team override still wins).
    Raises ``studio.errors.ParamError`` for an unknown model and ``KeyError`` if no sourced
    rate exists. Costs a few microseconds (rates are dict lookups; nothing is read from disk).
    """
    spec = catalog.get(model_id)
    p = catalog.with_defaults(model_id, params)
    rates = book if book is not None else bundled_book()

    def rate(tier: str) -> Rate:
        return rates.rate_for(model_id, tier, live_pricing=live_pricing)

    if model_id == catalog.LTX_DIRECT:
        return billing.ltx_direct(clip.duration_s, clip.width, clip.height, rate=rate)
    geo = catalog.output_geometry(
        model_id, width=clip.width, height=clip.height, fps=clip.fps,
        frame_count=clip.frame_count, params=p,
    )
    if model_id == catalog.STARLIGHT:
        return billing.starlight(geo.duration_s, str(p["resolution"]),
                                 interpolate_frames=bool(p.get("interpolate_frames")), rate=rate)
    if model_id == catalog.RHEA:
        return billing.rhea(geo.duration_s, str(p["resolution"]),
                            interpolate_frames=bool(p.get("interpolate_frames")), rate=rate)
    if model_id == catalog.HYPERION:
        return billing.hyperion(geo.duration_s, clip.width, clip.height, rate=rate)
    if model_id == catalog.LTX_OXEN:
        return billing.ltx_oxen(geo.width, geo.height, geo.frame_count,
                                output_seconds=geo.duration_s, rate=rate)
    raise KeyError(f"no billing rule for {spec.id}")  # pragma: no cover - every model has one


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
