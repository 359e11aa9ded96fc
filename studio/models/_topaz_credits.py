"""Topaz's own per-duration credit table: the proxy price of the Oxen-hosted Topaz models that
Oxen publishes no price for (Rhea, Hyperion HDR).

Not a unit itself (no ``UNIT``). Source: shared/api/pricing.md — Hyperion ``hyp-1`` (rows
12–14) and the Proteus family, Rhea's (row 15), share one table of credits per clip length at
30 frames/s; for 10 minutes it reads 720p 34, 1080p 76, 4K 302 credits. A credit costs
$0.10 on Topaz's Developer plan (row 11). Topaz rounds credits up per job (minimum 1); Oxen's
rounding is unknown, so the per-second rate is the 10-minute row ÷ 600 s.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

#: USD per credit on Topaz's Developer plan (pricing.md row 11).
CREDIT_USD = Decimal("0.10")
#: Credits for 10 minutes of output at 30 frames/s, by table row (pricing.md rows 12–15).
CREDITS_PER_10_MIN: dict[str, int] = {"720p": 34, "1080p": 76, "4k": 302}
_ROW_LABEL = {"720p": "720p", "1080p": "1080p", "4k": "4K"}
_PLACES = Decimal("0.0000001")  # the bundled rate tables keep USD per second to 7 dp


def usd_per_second(row: str) -> Decimal:
    """USD per output second of the table row ``row`` (``"720p"``, ``"1080p"``, ``"4k"``):
    credits per 10 min × $0.10 ÷ 600 s, rounded half-up to 7 dp. ``KeyError`` for another
    row."""
    seconds = Decimal(600)
    return (CREDITS_PER_10_MIN[row] * CREDIT_USD / seconds).quantize(_PLACES, ROUND_HALF_UP)


def credit_rate(model_id: str, tier: str, *, source_url: str, confidence: str, rows: str,
                priced_as: str | None = None) -> dict[str, str]:
    """One bundled ``output_second`` rate of ``model_id``'s resolution ``tier``, priced from the
    credit table's row ``priced_as`` (default: the tier itself; e.g. Rhea's 2K is priced at the
    4K row, the next one up). ``rows`` names the pricing.md rows it comes from; the rate is a
    ``"proxy"`` (another product's price standing in for Oxen's)."""
    row = priced_as or tier
    return {
        "model_id": model_id,
        "tier": tier,
        "unit": "output_second",
        "usd": str(usd_per_second(row)),
        "provenance": "proxy",
        "source_url": source_url,
        "as_of": "2026-11-20",
        "confidence": confidence,
        "derivation": (f"{CREDITS_PER_10_MIN[row]} credits per 10 min at {_ROW_LABEL[row]} × "
                       f"${CREDIT_USD} ÷ 600 s (pricing.md rows {rows})"),
    }
