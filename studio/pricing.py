"""Quotes: what a generation will cost, in USD, and where each rate came from.

The front door for pricing. :func:`quote` probes nothing and does no I/O: it asks the model's
unit (:mod:`studio.models`) for its billing rule — which works out the output geometry and
applies one pure function of that endpoint — and takes rates from a
:class:`~studio.ratebook.RateBook` (team override > live Oxen ``pricing`` > the
unit's bundled ``RATES``, compiled from ``shared/api/pricing.md``). Money is :class:`decimal.Decimal`
throughout; a quote is rounded half-up to 4 decimal places (1/100 of a cent) so published
examples reproduce exactly (14 s × $0.1494 = $2.0916).

Billing rules (pricing.md §3; details and sources on each unit's ``bill`` function):
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

from studio import models
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
    unit = models.get(model_id)
    rates = book if book is not None else bundled_book()

    def rate(tier: str) -> Rate:
        return rates.rate_for(model_id, tier, live_pricing=live_pricing)

    return unit.quote(clip, unit.with_defaults(params), rate=rate)


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
    """The lines of a cost-vs-duration chart: (label, param overrides, clip size override),
    from the unit's :meth:`~studio.models.ModelUnit.chart_lines`."""
    return [(line.label, dict(line.overrides), line.box)
            for line in models.get(model_id).chart_lines()]
