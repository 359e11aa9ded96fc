"""Billing rules: one pure function per endpoint, turning units and a rate into a quote.

Owns the :class:`Quote` record and the arithmetic every billing rule shares (seconds at
millisecond precision, whole megapixels, one half-up rounding). Each endpoint's own rule lives
in its model unit (``studio/models/<page>.py``: ``bill`` and friends). Rates come from a
``rate(tier) -> Rate`` lookup (normally :meth:`studio.ratebook.RateBook.rate_for` bound to the
model), so the rules do no I/O and are table-tested at every tier boundary.

Money is :class:`decimal.Decimal` USD. The amount is computed exactly and rounded once, half-up
to 4 decimal places (:data:`CENTI_CENT`, 1/100 of a cent), so published examples reproduce
exactly (14 s × $0.1494 = $2.0916; fal's 112 MP × $0.0027075 = $0.3032). Seconds enter at
millisecond precision (:func:`seconds`).

Sources: pricing.md §1 rows and §3, oxen.md §11.2 (the Oxen ``pricing`` object), ltx.md §3.2
(LTX input tiers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # no runtime import: the model units import this module
    from studio.ratebook import Rate

CENTI_CENT = Decimal("0.0001")
RateLookup = Callable[[str], "Rate"]
"""``rate(tier) -> Rate`` for the model being billed; raises ``KeyError`` when unsourced."""


@dataclass(frozen=True)
class Quote:
    """A priced generation: ``amount_usd`` = ``units`` × ``rate.usd`` × every surcharge
    factor, rounded half-up to 4 dp.

    ``units`` is in the rate's unit (seconds or whole megapixels); ``tier`` is the resolution
    tier that picked the rate; ``provenance`` is the rate's; ``basis`` spells out the
    arithmetic; ``surcharges`` are the ``"factor"`` rates multiplied in (e.g. Rhea's proxy
    interpolation surcharge); ``notes`` are caveats a person should read.
    """

    model_id: str
    amount_usd: Decimal
    units: Decimal
    tier: str
    rate: Rate
    basis: str
    notes: tuple[str, ...] = ()
    surcharges: tuple[Rate, ...] = ()

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
            "surcharges": [
                {"tier": s.tier, "factor": str(s.usd), "provenance": s.provenance,
                 "source_url": s.source_url, "as_of": s.as_of}
                for s in self.surcharges
            ],
        }


def seconds(x: float | Decimal) -> Decimal:
    """Seconds as a Decimal at millisecond precision (avoids float noise like 13.999999)."""
    value = (x.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP) if isinstance(x, Decimal)
             else Decimal(str(round(x, 3))))
    return _plain(value.normalize())


def _plain(value: Decimal) -> Decimal:
    """``value`` without an exponent (``normalize`` turns 120 into ``1.2E+2``), so bases
    read "120 output s"."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


def megapixels(width: int, height: int, frames: int) -> int:
    """Output megapixels ``width × height × frames / 10⁶`` rounded up to a whole MP (fal's
    rule, pricing.md row 4); exact integer arithmetic, so 1 000 000 px is 1 MP, not 2."""
    return -(-(width * height * frames) // 1_000_000)


def hyperion_tier(width: int, height: int) -> str:
    """Hyperion's resolution tier by the short side in pixels: ≤720 → ``"720p"``,
    ≤1080 → ``"1080p"``, larger → ``"4k"`` (the three rows of Topaz's hyp-1 credit table,
    pricing.md rows 12–14)."""
    short = min(width, height)
    if short <= 720:
        return "720p"
    if short <= 1080:
        return "1080p"
    return "4k"


def amount(units: Decimal, rate: Rate, *factors: Rate) -> Decimal:
    """``units`` × ``rate.usd`` × each factor's ``usd``, rounded once half-up to 4 dp (USD)."""
    total = units * rate.usd
    for f in factors:
        total *= f.usd
    return total.quantize(CENTI_CENT, rounding=ROUND_HALF_UP)


def per_unit(model_id: str, units: Decimal, what: str, tier: str, rate: Rate,
             notes: tuple[str, ...] = ()) -> Quote:
    """The quote of ``units`` × ``rate`` (no surcharge), with its basis spelled out:
    ``"<what> × $<rate> = $<amount>"``."""
    total = amount(units, rate)
    return Quote(model_id, total, units, tier, rate, f"{what} × ${rate.usd} = ${total}", notes)
