"""Money as people read it: the one place that turns a USD amount into text.

Every figure the product shows goes through one of two formats (issue 10 item 14):

- :func:`cents` — *headline* figures and totals, and every amount inside a sentence: a quote
  on a card or a button, a plan total, a budget line, "Charged", a refusal's arithmetic.
  Rounded half-up to the cent: ``$4.81``, ``$1,234.50``, ``-$0.50``. A sentence uses this
  format for all of its amounts, so "$6.90" never sits beside "$4.8094".
- :func:`exact` — arithmetic shown *as arithmetic*: a quote's basis line, rate tables, the
  override audit trail, one generation's stored quote and charge. Every digit the amount
  has, at least two decimals, never an exponent: ``$0.1494``, ``$2.0916``, ``$4.00``,
  ``$0.0000001``.

Both take a :class:`~decimal.Decimal` (ints and decimal strings are accepted; a float is
converted through ``str`` so ``0.1`` stays ``0.1``), never raise, and read very large or
non-finite amounts as words rather than a wall of digits. Money stays ``Decimal`` in Python;
only the shown text is rounded (:func:`round_cents` gives the rounded amount itself).

This module imports nothing from the package, so every other module (errors, budget,
config, the UI) can use it without an import cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any

CENT = Decimal("0.01")
SHOWN_MAX = Decimal(10) ** 15  # amounts at or above this read "more than $1,000,000,000,000,000"


def _decimal(amount: Any) -> Decimal | None:
    if isinstance(amount, Decimal):
        return amount
    if isinstance(amount, bool) or amount is None:
        return None
    try:
        return Decimal(str(amount).strip().removeprefix("$"))
    except (InvalidOperation, ValueError, TypeError):
        return None


def _special(amount: Decimal) -> str | None:
    """The words for NaN, infinities and amounts too large to spell out; ``None`` otherwise."""
    if amount.is_nan():
        return "$NaN"
    if amount.is_infinite():
        return "-$Infinity" if amount.is_signed() else "$Infinity"
    if amount and amount.adjusted() >= 15:  # |amount| ≥ 10¹⁵, checked without arithmetic
        return f"{'less than -' if amount.is_signed() else 'more than '}${SHOWN_MAX:,f}"
    return None


def _quantize(amount: Decimal, step: Decimal) -> Decimal:
    """``amount`` rounded half-up to ``step``, with precision enough for any size (the
    default 28 digits cannot quantize 1e30 to the cent)."""
    if not amount.is_finite():
        return amount
    with localcontext() as ctx:
        ctx.prec = max(28, amount.adjusted() - step.as_tuple().exponent + 3)  # type: ignore[operator]
        return amount.quantize(step, rounding=ROUND_HALF_UP)


def round_cents(amount: Decimal) -> Decimal:
    """``amount`` rounded half-up to whole cents (``2.0916`` → ``2.09``, ``0.005`` → ``0.01``)."""
    return _quantize(amount, CENT)


def cents(amount: Any) -> str:
    """A headline amount: ``$4.81``, ``$1,234.50``, ``-$0.50``, ``$0.00`` (half-up to the cent,
    thousands separated). Text that is not an amount comes back as ``$<text>``."""
    value = _decimal(amount)
    if value is None:
        return f"${amount}"
    special = _special(value)
    if special:
        return special
    rounded = round_cents(value)
    sign = "-" if rounded < 0 else ""  # -0.001 rounds to $0.00, not -$0.00
    return f"{sign}${abs(rounded):,.2f}"


def exact(amount: Any) -> str:
    """An amount with every digit it has, at least two decimals, in plain digits:
    ``$0.1494``, ``$2.0916``, ``$4.00``, ``$1,000.00``, ``$0.0000001``, ``-$0.50``."""
    value = _decimal(amount)
    if value is None:
        return f"${amount}"
    special = _special(value)
    if special:
        return special
    sign = "-" if value.is_signed() and value != 0 else ""
    text = format(abs(value), ",f")
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0").ljust(2, "0")
    return f"{sign}${whole}.{frac}"


def fixed(amount: Any, places: int) -> str:
    """``amount`` with exactly ``places`` decimals (half-up), thousands separated:
    ``fixed(Decimal("0.02"), 4)`` → ``"$0.0200"``."""
    value = _decimal(amount)
    if value is None:
        return f"${amount}"
    special = _special(value)
    if special:
        return special
    rounded = _quantize(value, Decimal(1).scaleb(-places))
    sign = "-" if rounded < 0 else ""
    return f"{sign}${abs(rounded):,.{places}f}"


def _places(amount: Decimal) -> int:
    exponent = amount.normalize().as_tuple().exponent
    return max(2, -exponent) if isinstance(exponent, int) else 2


def sentence(amounts: Iterable[Decimal], *, sums: Iterable[tuple[Sequence[Decimal], Decimal]]
             = (), above_zero: Iterable[Decimal] = ()) -> Callable[[Any], str]:
    """One format for every amount of a sentence (issue 10 item 14): :func:`cents` when the
    sentence's arithmetic still reads true at the cent — every ``(parts, total)`` in ``sums``
    adds up after rounding, and every amount in ``above_zero`` still shows above $0.00 — else
    :func:`fixed` with the decimals the most precise amount needs, for all of them.

    E.g. $8.50 + $2.0916 = $10.5916 reads "$8.50 + $2.09 = $10.59"; but $0.00 + $0.0204 over a
    $0.02 cap must not read "$0.00 over", so it reads "$0.0000 + $0.0204 = $0.0204, $0.0004
    over"."""
    values = [a for a in (_decimal(x) for x in amounts) if a is not None and a.is_finite()]
    honest = all(sum((round_cents(p) for p in parts), Decimal(0)) == round_cents(total)
                 for parts, total in sums)
    honest = honest and all(round_cents(a) != 0 for a in above_zero if a)
    if honest:
        return cents
    places = min(9, max((_places(a) for a in values), default=2))
    return lambda amount: fixed(amount, places)


def per_unit(amount: Any, unit: str) -> str:
    """A rate at full precision: ``$0.1494 per output second``."""
    return f"{exact(amount)} per {unit}"


__all__ = ["CENT", "cents", "exact", "fixed", "per_unit", "round_cents", "sentence"]
