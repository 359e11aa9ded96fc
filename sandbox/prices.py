"""The sandbox's own price list and billing rules: what a generation is charged.

Owns the amounts the sandbox reports as Oxen's ``cost`` (oxen.md §6.2), holds against
``--credits`` balances and serves in the model object's ``pricing`` (oxen.md §11.2). Written
from ``shared/api/pricing.md`` independently of the client's rate book, so a price or rule the
client gets wrong shows up as a charge that differs from its quote.

Rules (USD, :class:`~decimal.Decimal`; seconds at millisecond precision; pricing.md §3):

* Starlight: output seconds × the rate of the output ``resolution`` (rows 1–3; 2k is billed
  at the high-res rate, like 4k). No published interpolation surcharge: none is added.
* Rhea: output seconds × the rate of the output ``resolution``, × 2 with
  ``interpolate_frames`` (no Oxen price exists: Topaz's Proteus-family credit table at
  $0.10/credit, rows 11 and 15; Topaz bills per output frame and interpolation doubles them).
* Hyperion: seconds × the rate of the tier of the clip's short side (≤720, ≤1080, larger =
  4K), from Topaz's hyp-1 credit table at $0.10/credit (rows 11–14).
* LTX 2.3 on Oxen: output megapixels (width × height × frames / 10⁶, rounded up) × fal's
  per-megapixel rate (row 4).
* LTX direct: **input** seconds × the rate of the input tier (rows 6–8, ltx.md §3.2).
* An endpoint added by a model file (``--model-file``, :mod:`sandbox.model_files`): output
  seconds, input seconds or output megapixels × the price of the tier a request parameter
  names (:class:`Billing`), from the file's own price list with its sources.

An amount is rounded once, half-up, to $0.0001. ``--price-skew F`` (:func:`charge`) moves
every charge off the list price by a deterministic relative difference F, measured against
the charge the way the client's ledger measures quote error: charge = list ÷ (1 − F), so
|charge − list| / charge = |F| exactly before rounding (0.05: the list price is 5 % below the
charge). The model object keeps showing list prices.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sandbox import models

CENTI_CENT = Decimal("0.0001")
_TOPAZ_CREDIT_USD = "$0.10 per credit (Developer plan, pricing.md row 11)"


@dataclass(frozen=True)
class Price:
    """One list price: ``usd`` per ``unit`` (``output_second``, ``input_second``,
    ``output_megapixel``, or ``factor`` — a dimensionless multiplier) for ``model_id`` at
    ``tier``, with the ``source`` page, its ``as_of`` date and how it was derived."""

    model_id: str
    tier: str
    unit: str
    usd: Decimal
    source: str
    as_of: str
    derivation: str


_STARLIGHT_PAGE = ("https://docs.oxen.ai/inference-api/reference/models/walkthroughs/"
                   "topaz_starlight_precise_2_5")
_PROTEUS_PAGE = "https://developer.topazlabs.com/video-models/proteus/proteus"
_HYPERION_PAGE = ("https://developer.topazlabs.com/video-models/video-utilities/"
                  "hyperion-sdr-to-hdr")
_LTX_PAGE = "https://docs.ltx.video/pricing"


def _credits_per_10_min(credits: int) -> Decimal:
    """USD per second for ``credits`` per 10 minutes at $0.10 a credit, to 7 decimal places
    (the precision a per-second price list carries)."""
    return (Decimal(credits) * Decimal("0.10") / 600).quantize(Decimal("0.0000001"),
                                                               rounding=ROUND_HALF_UP)


PRICES: tuple[Price, ...] = (
    Price(models.STARLIGHT, "1080p", "output_second", Decimal("0.0374"), _STARLIGHT_PAGE,
          "2026-05-12", "Oxen's published rate (pricing.md row 1)"),
    Price(models.STARLIGHT, "2k", "output_second", Decimal("0.1494"), _STARLIGHT_PAGE,
          "2026-05-12", "Oxen's published high-res rate; 2k is billed as high-res (row 2)"),
    Price(models.STARLIGHT, "4k", "output_second", Decimal("0.1494"), _STARLIGHT_PAGE,
          "2026-05-12", "Oxen's published high-res rate (row 3)"),
    Price(models.RHEA, "720p", "output_second", _credits_per_10_min(34), _PROTEUS_PAGE,
          "2026-11-20", f"34 credits per 10 min at 720p × {_TOPAZ_CREDIT_USD} (row 15)"),
    Price(models.RHEA, "1080p", "output_second", _credits_per_10_min(76), _PROTEUS_PAGE,
          "2026-11-20", f"76 credits per 10 min at 1080p × {_TOPAZ_CREDIT_USD} (row 15)"),
    Price(models.RHEA, "2k", "output_second", _credits_per_10_min(302), _PROTEUS_PAGE,
          "2026-11-20", f"no 2K row: the 4K row, 302 credits per 10 min × {_TOPAZ_CREDIT_USD}"),
    Price(models.RHEA, "4k", "output_second", _credits_per_10_min(302), _PROTEUS_PAGE,
          "2026-11-20", f"302 credits per 10 min at 4K × {_TOPAZ_CREDIT_USD} (row 15)"),
    Price(models.RHEA, "interpolate_frames", "factor", Decimal(2),
          "https://developer.topazlabs.com/getting-started/model-pricing/video-models",
          "2026-11-20", "Topaz bills per output frame (rows 9–10); interpolation doubles them"),
    Price(models.HYPERION, "720p", "output_second", _credits_per_10_min(34), _HYPERION_PAGE,
          "2026-11-20", f"34 credits per 10 min at 720p × {_TOPAZ_CREDIT_USD} (row 12)"),
    Price(models.HYPERION, "1080p", "output_second", _credits_per_10_min(76), _HYPERION_PAGE,
          "2026-11-20", f"76 credits per 10 min at 1080p × {_TOPAZ_CREDIT_USD} (row 13)"),
    Price(models.HYPERION, "4k", "output_second", _credits_per_10_min(302), _HYPERION_PAGE,
          "2026-11-20", f"302 credits per 10 min at 4K × {_TOPAZ_CREDIT_USD} (row 14)"),
    Price(models.LTX_OXEN, "any", "output_megapixel", Decimal("0.0027075"),
          "https://fal.ai/models/fal-ai/ltx-2.3-quality/hdr/llms.txt", "2026-11-20",
          "fal's upstream rate, megapixels rounded up (row 4)"),
    Price(models.LTX_DIRECT, "1080p", "input_second", Decimal("0.20"), _LTX_PAGE, "2026-10-07",
          "LTX's rate for inputs up to 1920×1080 (row 6)"),
    Price(models.LTX_DIRECT, "1440p", "input_second", Decimal("0.40"), _LTX_PAGE, "2026-07-19",
          "LTX's rate for inputs up to 2560×1440 (row 7)"),
    Price(models.LTX_DIRECT, "4k", "input_second", Decimal("0.80"), _LTX_PAGE, "2026-10-07",
          "LTX's rate for inputs up to 3840×2160 (row 8)"),
)
_BY_KEY = {(p.model_id, p.tier): p for p in PRICES}


@dataclass(frozen=True)
class Billing:
    """The billing rule of an endpoint added by a model file (:mod:`sandbox.model_files`):
    ``units`` × the price of a tier. ``unit`` is ``output_second``, ``input_second`` or
    ``output_megapixel`` (output megapixels rounded up); the tier is the value of the request
    parameter ``tier_param`` (defaults filled), or the one price's tier when ``None``."""

    unit: str
    tier_param: str | None
    prices: tuple[Price, ...]


_EXTRA: dict[str, Billing] = {}


def register(model_id: str, billing: Billing) -> None:
    """Bill ``model_id`` (an endpoint added by a model file) by ``billing``. Raises
    ``ValueError`` when it already has prices."""
    if model_id in _EXTRA or any(p.model_id == model_id for p in PRICES):
        raise ValueError(f"'{model_id}' already has a price list")
    _EXTRA[model_id] = billing
    _BY_KEY.update({(model_id, p.tier): p for p in billing.prices})


def unregister(model_id: str) -> None:
    """Drop the prices :func:`register` added (built-in prices stay)."""
    billing = _EXTRA.pop(model_id, None)
    for p in billing.prices if billing else ():
        _BY_KEY.pop((model_id, p.tier), None)


def price(model_id: str, tier: str) -> Price:
    """The list price of ``model_id`` at ``tier``; ``KeyError`` when there is none."""
    return _BY_KEY[(model_id, tier)]


@dataclass(frozen=True)
class Charge:
    """What one generation costs: ``amount_usd`` (rounded, skew applied), the unrounded
    ``list_usd``, the ``units`` billed in ``price.unit``, the ``tier`` that picked the price,
    any ``factors`` multiplied in, and ``basis`` spelling out the arithmetic."""

    model_id: str
    amount_usd: Decimal
    list_usd: Decimal
    units: Decimal
    tier: str
    price: Price
    factors: tuple[Price, ...]
    basis: str


def seconds(x: float) -> Decimal:
    """Seconds as a Decimal at millisecond precision (13.9999999 → 14; 120 stays "120")."""
    value = Decimal(str(round(float(x), 3)))
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def megapixels(width: int, height: int, frames: int) -> int:
    """``width × height × frames / 10⁶`` rounded up to a whole megapixel (integer math)."""
    return -(-(width * height * frames) // 1_000_000)


def hyperion_tier(width: int, height: int) -> str:
    """Hyperion's tier by the short side in pixels: ≤720 → 720p, ≤1080 → 1080p, else 4k."""
    short = min(width, height)
    return "720p" if short <= 720 else "1080p" if short <= 1080 else "4k"


def skewed(list_usd: Decimal, skew: Decimal) -> Decimal:
    """``list_usd ÷ (1 − skew)`` rounded half-up to $0.0001 (see the module docstring).
    Raises ``ValueError`` unless −1 < skew < 1."""
    if not Decimal(-1) < skew < Decimal(1):
        raise ValueError(f"price skew must be between -1 and 1 (got {skew})")
    amount = list_usd if skew == 0 else list_usd / (Decimal(1) - skew)
    return amount.quantize(CENTI_CENT, rounding=ROUND_HALF_UP)


def charge(
    model_id: str,
    *,
    input_size: tuple[int, int],
    input_seconds: float,
    output: models.Geometry,
    params: dict[str, object],
    skew: Decimal = Decimal(0),
) -> Charge:
    """The charge for one generation of ``model_id``.

    ``input_size`` is the clip's (width, height) in pixels and ``input_seconds`` its duration;
    ``output`` is the geometry of what was (or will be) made; ``params`` the request with
    defaults filled. Raises ``KeyError`` for a model or tier without a price.
    """
    factors: tuple[Price, ...] = ()
    if model_id == models.LTX_DIRECT:
        tier_info = models.ltx_tier(*input_size)
        tier = tier_info.name if tier_info else "4k"
        units = seconds(input_seconds)
        what = f"{units} input s"
    elif model_id == models.LTX_OXEN:
        tier = "any"
        units = Decimal(megapixels(output.width, output.height, output.frame_count))
        what = f"{units} MP ({output.width}×{output.height} × {output.frame_count} frames)"
    elif model_id == models.HYPERION:
        tier = hyperion_tier(*input_size)
        units = seconds(output.duration_s)
        what = f"{units} s"
    elif model_id in (models.STARLIGHT, models.RHEA):
        tier = str(params["resolution"])
        units = seconds(output.duration_s)
        what = f"{units} output s"
        if model_id == models.RHEA and params.get("interpolate_frames") is True:
            factors = (price(model_id, "interpolate_frames"),)
    elif model_id in _EXTRA:
        tier, units, what = _extra_units(_EXTRA[model_id], input_seconds, output, params)
    else:
        raise KeyError(model_id)
    p = price(model_id, tier)
    list_usd = units * p.usd
    for f in factors:
        list_usd *= f.usd
    amount = skewed(list_usd, skew)
    basis = f"{what} × ${p.usd}" + "".join(f" × {f.usd}" for f in factors)
    if skew:
        basis += f" ÷ (1 − {skew})"
    return Charge(model_id, amount, list_usd, units, tier, p, factors, f"{basis} = ${amount}")


def _extra_units(billing: Billing, input_seconds: float, output: models.Geometry,
                 params: dict[str, object]) -> tuple[str, Decimal, str]:
    """(tier, units, what the units are) of a model file's billing rule."""
    tier = str(params[billing.tier_param]) if billing.tier_param else billing.prices[0].tier
    if billing.unit == "input_second":
        units = seconds(input_seconds)
        return tier, units, f"{units} input s"
    if billing.unit == "output_megapixel":
        units = Decimal(megapixels(output.width, output.height, output.frame_count))
        return tier, units, (f"{units} MP ({output.width}×{output.height} × "
                             f"{output.frame_count} frames)")
    units = seconds(output.duration_s)
    return tier, units, f"{units} output s"


def pricing_object(model_id: str) -> dict[str, object]:
    """The model object's ``pricing`` (oxen.md §11.2) from the list prices: per-second rates as
    JSON numbers, ``cost_per_second`` = the 1080p rate, ``cost_per_second_high_res`` = the 4k
    rate, ``cost_per_second_by_resolution`` = every per-second tier. A per-megapixel price
    cannot be expressed there, so those fields are null for LTX 2.3."""
    extra = _EXTRA[model_id].prices if model_id in _EXTRA else ()
    per_second = {p.tier: float(p.usd) for p in (*PRICES, *extra)
                  if p.model_id == model_id and p.unit == "output_second"}
    return {
        "method": "per_video_output_second",
        "cost_per_second": per_second.get("1080p"),
        "cost_per_second_high_res": per_second.get("4k"),
        "cost_per_second_with_audio": None,
        "cost_per_second_by_resolution": per_second or None,
    }
