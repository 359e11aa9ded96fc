"""Billing rules: one pure function per endpoint, turning units and a rate into a quote.

Owns the arithmetic of each endpoint's charge and the :class:`Quote` it produces; the rates
come from a ``rate(tier) -> Rate`` lookup (normally :meth:`studio.ratebook.RateBook.rate_for`
bound to the model), so these functions do no I/O and are table-tested at every tier boundary.

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
from typing import Any

from studio import catalog
from studio.ratebook import Rate

CENTI_CENT = Decimal("0.0001")
INTERPOLATION_TIER = "interpolate_frames"  # Rhea's surcharge factor in rates.json

RateLookup = Callable[[str], Rate]
"""``rate(tier) -> Rate`` for the model being billed; raises ``KeyError`` when unsourced."""

STARLIGHT_INTERPOLATION_NOTE = (
    "Frame interpolation is documented as more expensive; no surcharge is published, so this "
    "quote does not include one."
)


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


def _amount(units: Decimal, rate: Rate, *factors: Rate) -> Decimal:
    total = units * rate.usd
    for f in factors:
        total *= f.usd
    return total.quantize(CENTI_CENT, rounding=ROUND_HALF_UP)


def _per_unit(model_id: str, units: Decimal, what: str, tier: str, rate: Rate,
              notes: tuple[str, ...] = ()) -> Quote:
    amount = _amount(units, rate)
    return Quote(model_id, amount, units, tier, rate, f"{what} × ${rate.usd} = ${amount}", notes)


def starlight(
    output_seconds: float | Decimal, resolution: str, *, interpolate_frames: bool, rate: RateLookup
) -> Quote:
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
    notes = (STARLIGHT_INTERPOLATION_NOTE,) if interpolate_frames else ()
    return _per_unit(catalog.STARLIGHT, units, f"{units} output s", resolution,
                     rate(resolution), notes)


def rhea(
    output_seconds: float | Decimal, resolution: str, *, interpolate_frames: bool, rate: RateLookup
) -> Quote:
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
        return _per_unit(catalog.RHEA, units, f"{units} output s", resolution, r)
    factor = rate(INTERPOLATION_TIER)
    amount = _amount(units, r, factor)
    basis = (f"{units} output s × ${r.usd} × {factor.usd} "
             f"({factor.provenance} interpolation surcharge, an assumption) = ${amount}")
    note = (f"Frame interpolation is priced with a {factor.provenance} surcharge of "
            f"×{factor.usd}, an assumption: Oxen only says interpolation is more expensive and "
            "publishes no number. " + (factor.derivation or factor.confidence))
    return Quote(catalog.RHEA, amount, units, resolution, r, basis, (note,), (factor,))


def hyperion(
    output_seconds: float | Decimal, width: int, height: int, *, rate: RateLookup
) -> Quote:
    """Topaz Hyperion HDR on Oxen: seconds (output = input) × the rate of the tier picked by
    the short side of ``width`` × ``height`` pixels (:func:`hyperion_tier`). USD, 4 dp
    half-up.

    Source: no Oxen price is published (pricing.md §4); bundled rates are a proxy from Topaz's
    own hyp-1 credit table at $0.10/credit (pricing.md rows 11–14). Topaz rounds credits up
    per job; Oxen's rounding is unknown, so none is applied. Raises ``KeyError`` when a rate
    is missing.
    """
    units = seconds(output_seconds)
    tier = hyperion_tier(width, height)
    return _per_unit(catalog.HYPERION, units, f"{units} s", tier, rate(tier))


def ltx_oxen(
    width: int, height: int, frames: int, *, output_seconds: float | Decimal, rate: RateLookup
) -> Quote:
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
        return _per_unit(catalog.LTX_OXEN, units, f"{units} output s", "any", r)
    mp = Decimal(megapixels(width, height, frames))
    what = f"{mp} MP ({width}×{height} × {frames} frames, rounded up)"
    return _per_unit(catalog.LTX_OXEN, mp, what, "any", r)


def ltx_direct_tier(width: int, height: int) -> str | None:
    """The LTX input tier name (``"1080p"``, ``"1440p"``, ``"4k"``) for ``width`` × ``height``
    pixels, or ``None`` above 4K: the smallest box holding the input by pixel count, either
    orientation (ltx.md §3.2; :func:`studio.catalog.ltx_tier`)."""
    tier = catalog.ltx_tier(width, height)
    return tier.name if tier else None


def ltx_direct(input_seconds: float | Decimal, width: int, height: int, *,
               rate: RateLookup) -> Quote:
    """LTX API ``/v2/video-to-video-hdr``: **input** seconds × the rate of the **input** tier.
    USD, 4 dp half-up.

    Source: ltx.md §3.2 and §8, pricing.md rows 6–8 ($0.20 / $0.40 / $0.80 per input second
    for ≤1920×1080 / ≤2560×1440 / ≤3840×2160). 1920×1080 and 1080×1920 are ≤1080p; 1920×1082
    is ≤1440p. Inputs above 4K are rejected by LTX; they are quoted at the 4K rate with a
    note. Raises ``KeyError`` when a rate is missing.
    """
    units = seconds(input_seconds)
    tier = ltx_direct_tier(width, height)
    notes: tuple[str, ...] = ()
    if tier is None:
        tier = "4k"
        notes = ("Inputs above 3840×2160 are rejected by LTX; quoted at the 4K rate.",)
    return _per_unit(catalog.LTX_DIRECT, units, f"{units} input s", tier, rate(tier), notes)
