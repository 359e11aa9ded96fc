"""The store's vocabulary: statuses, charge sources and the column types of the database.

- :class:`Status` — a generation's status, one ``StrEnum`` used everywhere (it compares equal
  to its plain text, so ``job.status == "succeeded"`` and ``Status.SUCCEEDED`` agree).
- :class:`ChargeSource` — where a stored charge came from: ``reported`` by the live
  provider (Oxen's ``cost``, oxen.md §6), ``computed`` by our own billing rule (LTX reports
  none, ltx.md §8), or reported by the local ``sandbox`` (no real money).
- :class:`Money` — USD as :class:`~decimal.Decimal`. PostgreSQL: ``NUMERIC(30, 9)``.
  SQLite has no exact decimal type (a ``NUMERIC`` column there is a float), so the amount
  is kept as an ``INTEGER`` count of nano-dollars (10⁻⁹ USD): sums in SQL stay exact on both.
  Amounts are rounded half-up to 10⁻⁹ USD on the way in (quotes have 4 decimals, rates
  at most 7).
- :class:`UtcDateTime` — timezone-aware UTC datetimes. PostgreSQL: ``TIMESTAMP WITH TIME
  ZONE``; SQLite: fixed-width ISO 8601 text (so text order is time order). A naive
  datetime raises ``ValueError``.
- :data:`JSON_TYPE` — JSON values: ``JSONB`` on PostgreSQL, JSON text on SQLite; Python
  ``None`` is SQL ``NULL``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Numeric, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class Status(StrEnum):
    """A generation's status (ours; provider statuses map onto these in
    :mod:`studio.tracker`): ``submitting`` → ``queued`` → ``processing`` → ``succeeded`` |
    ``failed`` | ``cancelled``; ``waiting`` for a client-side provider slot; ``expired`` when
    the provider no longer keeps the outcome; ``unknown`` when a paid request may or may not
    have reached the provider."""

    SUBMITTING = "submitting"
    QUEUED = "queued"
    PROCESSING = "processing"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


ACTIVE_STATUSES: tuple[Status, ...] = (Status.SUBMITTING, Status.QUEUED, Status.PROCESSING,
                                       Status.WAITING)
TERMINAL_STATUSES: tuple[Status, ...] = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED,
                                         Status.EXPIRED)
ALL_STATUSES: tuple[Status, ...] = (*ACTIVE_STATUSES, *TERMINAL_STATUSES, Status.UNKNOWN)
POLLED_STATUSES: tuple[Status, ...] = (Status.QUEUED, Status.PROCESSING)  # what due() returns
# The budget rule (studio.budget): a quote counts while no charge is known for these ...
SPEND_IN_FLIGHT: tuple[Status, ...] = (Status.SUBMITTING, Status.WAITING, Status.QUEUED,
                                       Status.PROCESSING, Status.UNKNOWN)
# ... and these end without cost when no charge was reported.
SPEND_FREE: tuple[Status, ...] = (Status.FAILED, Status.CANCELLED, Status.EXPIRED)


class ChargeSource(StrEnum):
    """Where a generation's stored charge came from."""

    REPORTED = "reported"  # the live provider's own figure (Oxen history ``cost``)
    COMPUTED = "computed"  # our billing rule (LTX reports no charge)
    SANDBOX = "sandbox"  # the local sandbox's figure: no real money


def reported_charge_source(target: str) -> ChargeSource:
    """The source of a charge a service reported: the sandbox's own figure when the
    generation ran there (``target == "sandbox"``), else the live provider's."""
    return ChargeSource.SANDBOX if target == "sandbox" else ChargeSource.REPORTED


NANO_USD = Decimal("1e-9")
_NANO_EXP = 9
MONEY_MAX = Decimal(10) ** 12  # |amount| at or above this is not a real charge or cap


def usd_amount(value: Any) -> Decimal | None:
    """A stored or reported amount as a finite ``Decimal`` (USD); ``None`` for ``None``,
    empty, unparseable or non-finite values, which count as unknown rather than as $0."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        amount = value
    else:
        try:
            amount = Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            return None
    return amount if amount.is_finite() else None


def plain(amount: Decimal) -> Decimal:
    """``amount`` without trailing zeros and never in exponent form (``2.091600000`` →
    ``2.0916``, ``1E+1`` → ``10``)."""
    if not amount:
        return Decimal(0)
    normal = amount.normalize()
    exponent = normal.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        return normal.quantize(Decimal(1))
    return normal


class Money(TypeDecorator[Decimal]):
    """USD amounts (see the module docstring). Binds ``Decimal``, ``int`` or decimal text;
    a value that is not a finite amount, or is a trillion dollars or more (no charge, quote
    or cap is; a provider that says so is wrong), is stored as ``NULL`` (unknown), the rule
    of :func:`usd_amount`. Reads back a ``Decimal`` in plain digits."""

    impl = Numeric(30, 9)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(30, 9, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        amount = usd_amount(value)
        if amount is None or abs(amount) >= MONEY_MAX:
            return None
        amount = amount.quantize(NANO_USD, rounding=ROUND_HALF_UP)
        if dialect.name == "sqlite":
            return int(amount.scaleb(_NANO_EXP))
        return amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            if isinstance(value, float):  # a SUM over no integer rows, or a hand-edited row
                value = Decimal(repr(value)).quantize(Decimal(1))
            return plain(Decimal(int(value)).scaleb(-_NANO_EXP))
        return plain(Decimal(value))


def iso_utc(value: datetime) -> str:
    """Fixed-width ISO 8601 in UTC (microseconds), so text order is time order. Raises
    ``ValueError`` for a naive datetime."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: the store keeps aware UTC times")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def parse_utc(value: str) -> datetime:
    """ISO 8601 text → an aware UTC datetime (text without an offset is read as UTC, the
    only zone the store ever wrote)."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes (see the module docstring)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected an aware datetime, got {type(value).__name__}")
        if dialect.name == "sqlite":
            return iso_utc(value)
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store keeps aware UTC times")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return parse_utc(value)
        return value if value.tzinfo is UTC else value.astimezone(UTC)


JSON_TYPE = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


__all__ = [
    "ACTIVE_STATUSES",
    "ALL_STATUSES",
    "JSON_TYPE",
    "POLLED_STATUSES",
    "SPEND_FREE",
    "SPEND_IN_FLIGHT",
    "TERMINAL_STATUSES",
    "ChargeSource",
    "Money",
    "Status",
    "UtcDateTime",
    "iso_utc",
    "parse_utc",
    "plain",
    "reported_charge_source",
    "usd_amount",
]
