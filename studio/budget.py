"""Budgets: how much the team and each owner may spend per period, and the guard on submits.

Owns the budget rule, the saved caps (``budget.json`` in the data dir) and the sentences that
explain a refusal or a warning. Pure functions over the job store's rows; the only I/O is
:class:`BudgetStore` (one small JSON file, written atomically).

The rule:

- A *period* is a UTC calendar ``"day"``, ``"week"`` (Monday 00:00 to the next Monday) or
  ``"month"``. A generation belongs to the period its row was created in (``created_at``).
- *Spend* of a set of generations = what was charged (``charge_usd`` where known) + the quote
  of each generation that has no charge yet but may cost money: in flight (``submitting``,
  ``waiting``, ``queued``, ``processing``) or ``unknown`` (the paid request may have reached
  the provider), and ``succeeded`` ones whose charge is not known yet. ``failed``,
  ``cancelled`` and ``expired`` generations without a charge cost nothing (failed jobs are not
  billed). A row with neither quote nor charge counts 0.
- *Team* spend covers every owner; *owner* spend only rows with ``job.owner == owner`` (the
  key fingerprint :meth:`studio.config.Settings.owner`).
- A request is refused when spend + request > cap for the team cap or the owner's cap (equal
  to the cap is allowed). ``None`` = no cap. A warning is due from 80 % of a cap, before or
  after the request.

Caps come from :class:`studio.config.Settings` (``STUDIO_BUDGET_*``) unless saved from the app;
saved values win. Money is :class:`~decimal.Decimal` USD throughout.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.config import BUDGET_PERIODS
from studio.errors import ConfigError, ParamError, shown_value
from studio.jobs import Job, JobStore

if TYPE_CHECKING:
    from studio.config import Settings

WARN_FRACTION = Decimal("0.8")
# Rows whose quote counts while no charge is known (see the module docstring).
IN_FLIGHT_STATUSES = ("submitting", "waiting", "queued", "processing", "unknown")
FREE_STATUSES = ("failed", "cancelled", "expired")  # no charge known → cost nothing
BUDGET_FILE = "budget.json"


# -- money --------------------------------------------------------------------------------
MAX_CAP_USD = Decimal(1_000_000_000)  # the largest cap that can be saved (USD)
CAP_DECIMALS = 2  # caps are whole cents
USD_SHOWN_MAX = Decimal(10) ** 15  # usd() spells out amounts below this; above, "more than"


def usd(amount: Decimal) -> str:
    """``$10.00``, ``$8.50``, ``$2.0916``, ``$1,234.50``, ``-$0.50``: cents always, up to 4
    decimals (quote precision, rounded half-up), plain digits (never ``1E+3``).

    Never raises: amounts of $10¹⁵ or more read ``"more than $1,000,000,000,000,000"``, NaN
    reads ``"$NaN"`` and infinities ``"$Infinity"`` / ``"-$Infinity"``.
    """
    if not isinstance(amount, Decimal):
        try:
            amount = Decimal(str(amount))
        except (ArithmeticError, ValueError, TypeError):
            return f"${amount}"
    if amount.is_nan():
        return "$NaN"
    sign = "-" if amount.is_signed() else ""
    if amount.is_infinite():
        return f"{sign}$Infinity"
    if amount and amount.adjusted() >= 15:  # |amount| ≥ 10¹⁵, checked without arithmetic
        return f"{'less than -' if sign else 'more than '}${USD_SHOWN_MAX:,f}"
    with localcontext() as ctx:
        ctx.rounding = ROUND_HALF_UP
        text = format(amount.copy_abs(), ",.4f")  # formatting is exact: no precision traps
    whole, frac = text.split(".")
    frac = frac.rstrip("0").ljust(2, "0")
    if whole == "0" and frac == "00":
        sign = ""  # -0.00001 rounds to $0.00, not -$0.00
    return f"{sign}${whole}.{frac}"


def _decimal_places(amount: Decimal) -> int:
    """Decimal places ``amount`` needs (``5.50`` → 1, ``1E+3`` → 0), exactly."""
    _sign, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)  # finite
    trailing = 0
    for d in reversed(digits):
        if d != 0:
            break
        trailing += 1
    if trailing == len(digits):  # zero
        return 0
    return max(0, -(exponent + trailing))




def parse_usd(value: Any, name: str) -> tuple[Decimal | None, str | None]:
    """``(amount, None)`` for a cap given as ``Decimal``/``int``/``str``/``float`` (``$`` allowed
    in front; empty or ``None`` = no cap), or ``(None, problem sentence)`` when it is not an
    amount of USD between 0 and :data:`MAX_CAP_USD` ($1,000,000,000) in whole cents (at most
    2 decimal places). NaN, infinities, negatives and huge values such as ``1e24`` are
    problems. The amount comes back in plain digits (``"1e3"`` → ``Decimal("1000")``)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    got = shown_value(value)
    example = f"{name}: must be an amount in USD such as 25 or 12.50 (got {got})"
    if isinstance(value, bool):
        return None, example
    try:
        if isinstance(value, Decimal):
            amount = value
        elif isinstance(value, int | float):
            amount = Decimal(str(value))
        elif isinstance(value, str):
            amount = Decimal(value.strip().removeprefix("$").strip())
        else:
            return None, example
    except (ArithmeticError, ValueError, TypeError):
        return None, example
    if not amount.is_finite():
        return None, example
    if amount < 0:
        return None, f"{name}: must be zero or more USD, or empty for no cap (got {got})"
    if amount > MAX_CAP_USD:
        return None, (f"{name}: must be at most {usd(MAX_CAP_USD)}, or empty for no cap "
                      f"(got {got})")
    if _decimal_places(amount) > CAP_DECIMALS:
        return None, (f"{name}: must be in whole cents, at most {CAP_DECIMALS} decimal places "
                      f"(got {got})")
    if amount == 0:
        return Decimal(0), None
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:  # 1E+3 → 1000
        amount = amount.quantize(Decimal(1))
    return amount, None


# -- periods ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    """One budget period: ``[start, end)`` in UTC and how a person names it."""

    kind: str  # "day" | "week" | "month"
    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        """``"November 2026"``, ``"the week of 2 November 2026"`` or ``"2 November 2026"``."""
        if self.kind == "month":
            return f"{self.start:%B %Y}"
        day = f"{self.start.day} {self.start:%B %Y}"
        return f"the week of {day}" if self.kind == "week" else day

    @property
    def resets(self) -> str:
        """When the next period starts: ``"1 December"`` (``"1 January 2027"`` across a year)."""
        day = f"{self.end.day} {self.end:%B}"
        if self.kind == "week":
            day = f"Monday {day}"
        return day if self.end.year == self.start.year else f"{day} {self.end.year}"

    def contains(self, when: datetime) -> bool:
        return self.start <= when < self.end


def period_for(kind: str, now: datetime) -> Period:
    """The UTC calendar period of ``kind`` (``"day"``/``"week"``/``"month"``) holding ``now``
    (an aware datetime). Weeks start on Monday. Raises ``ValueError`` for another kind or a
    naive ``now``."""
    if kind not in BUDGET_PERIODS:
        raise ValueError(f"budget period must be one of {', '.join(BUDGET_PERIODS)}, not {kind!r}")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if kind == "day":
        return Period(kind, day, day + timedelta(days=1))
    if kind == "week":
        start = day - timedelta(days=day.weekday())
        return Period(kind, start, start + timedelta(days=7))
    start = day.replace(day=1)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 \
        else start.replace(month=start.month + 1)
    return Period(kind, start, end)


# -- configuration ------------------------------------------------------------------------
@dataclass(frozen=True)
class BudgetConfig:
    """The caps in force (USD; ``None`` = no cap).

    ``owner_usd`` maps an owner fingerprint to its own cap (a ``None`` value lifts the default
    for that owner); everyone else gets ``default_owner_usd``. ``source`` is ``"settings"`` or
    ``"saved"`` (``budget.json``).
    """

    period: str = "month"
    team_usd: Decimal | None = None
    default_owner_usd: Decimal | None = None
    owner_usd: Mapping[str, Decimal | None] = field(default_factory=dict)
    source: str = "settings"

    def owner_cap(self, owner: str) -> Decimal | None:
        """The cap of ``owner`` in USD, or ``None`` when uncapped."""
        if owner in self.owner_usd:
            return self.owner_usd[owner]
        return self.default_owner_usd

    @property
    def any_cap(self) -> bool:
        return self.team_usd is not None or self.default_owner_usd is not None or any(
            v is not None for v in self.owner_usd.values())

    def to_json(self) -> dict[str, Any]:
        """What ``budget.json`` holds (amounts as decimal strings, ``null`` = no cap)."""
        def text(v: Decimal | None) -> str | None:
            return None if v is None else str(v)

        return {"period": self.period, "team_usd": text(self.team_usd),
                "owner_usd": {k: text(v) for k, v in sorted(self.owner_usd.items())},
                "default_owner_usd": text(self.default_owner_usd)}


def config_from_settings(settings: Settings) -> BudgetConfig:
    """Caps from ``STUDIO_BUDGET_PERIOD`` / ``STUDIO_BUDGET_TEAM_USD`` /
    ``STUDIO_BUDGET_OWNER_USD`` (the owner cap is everyone's default)."""
    return BudgetConfig(period=settings.budget_period, team_usd=settings.budget_team_usd,
                        default_owner_usd=settings.budget_owner_usd)


def validate_config(
    *,
    period: str,
    team_usd: Any = None,
    default_owner_usd: Any = None,
    owner_usd: Mapping[str, Any] | None = None,
) -> BudgetConfig:
    """A :class:`BudgetConfig` from form values (amounts as text, numbers or ``Decimal``;
    empty/``None`` = no cap). Raises ``ParamError`` listing every problem at once."""
    problems: list[str] = []
    if period not in BUDGET_PERIODS:
        problems.append(f"period: must be one of {', '.join(BUDGET_PERIODS)} (got {period!r})")
    team, problem = parse_usd(team_usd, "team budget")
    problems += [problem] if problem else []
    default, problem = parse_usd(default_owner_usd, "default owner budget")
    problems += [problem] if problem else []
    owners: dict[str, Decimal | None] = {}
    for owner, value in (owner_usd or {}).items():
        if not isinstance(owner, str) or not owner.strip():
            problems.append(f"owner budget: the owner id must be a key fingerprint (got {owner!r})")
            continue
        amount, problem = parse_usd(value, f"budget of owner {owner}")
        if problem:
            problems.append(problem)
        owners[owner.strip()] = amount
    if problems:
        raise ParamError(problems)
    return BudgetConfig(period=period, team_usd=team, default_owner_usd=default,
                        owner_usd=owners, source="saved")


class BudgetStore:
    """Caps saved from the app: ``<data_dir>/budget.json`` =
    ``{"period", "team_usd", "owner_usd": {fingerprint: usd}, "default_owner_usd"}``
    (amounts as decimal strings or ``null`` = no cap). Saved values win over Settings."""

    def __init__(self, path: Path):
        self.path = Path(path)

    @classmethod
    def in_dir(cls, data_dir: Path) -> BudgetStore:
        return cls(Path(data_dir) / BUDGET_FILE)

    def load(self, settings: Settings) -> BudgetConfig:
        """The caps in force: the saved file when there is one, else ``settings``.

        Raises ``ConfigError`` when the file exists but cannot be read or holds a value that
        is not a cap (not JSON, not an object, an unknown period, an amount that
        :func:`parse_usd` refuses, owner caps that are not an object): a guard must not
        silently drop the caps someone saved.
        """
        if not self.path.exists():
            return config_from_settings(settings)
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(raw, dict):
                raise ValueError("not a JSON object")
            owners = raw.get("owner_usd") or {}
            if not isinstance(owners, Mapping):
                raise ValueError("owner_usd is not an object of fingerprint: amount")
            base = config_from_settings(settings)
            return validate_config(
                period=raw.get("period", base.period),
                team_usd=raw.get("team_usd", base.team_usd),
                default_owner_usd=raw.get("default_owner_usd", base.default_owner_usd),
                owner_usd=owners,
            )
        except (OSError, ValueError, TypeError, AttributeError, ArithmeticError, RecursionError,
                ParamError) as exc:
            raise ConfigError(f"The saved budget in {self.path} cannot be read ({exc}). Save the "
                              "budget again from the app, or delete the file to use the "
                              "STUDIO_BUDGET_* settings.") from None

    def save(
        self,
        *,
        period: str,
        team_usd: Any = None,
        default_owner_usd: Any = None,
        owner_usd: Mapping[str, Any] | None = None,
    ) -> BudgetConfig:
        """Validate and write the caps (atomically: a temporary file renamed over the old
        one); returns the config now in force. Raises ``ParamError`` listing every problem,
        ``OSError`` when the file cannot be written."""
        config = validate_config(period=period, team_usd=team_usd,
                                 default_owner_usd=default_owner_usd, owner_usd=owner_usd)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".budget-", suffix=".json", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(config.to_json(), fh, indent=2)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return config

    def clear(self) -> None:
        """Forget the saved caps (the Settings apply again)."""
        self.path.unlink(missing_ok=True)


# -- spend --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spend:
    """Spend in USD split by how sure it is: ``charged`` (the provider's or computed charge),
    ``pending`` (succeeded, charge not known yet: its quote) and ``in_flight`` (quotes of
    generations that may still cost money)."""

    charged: Decimal = Decimal(0)
    pending: Decimal = Decimal(0)
    in_flight: Decimal = Decimal(0)

    @property
    def total(self) -> Decimal:
        return self.charged + self.pending + self.in_flight

    def __add__(self, other: Spend) -> Spend:
        return Spend(self.charged + other.charged, self.pending + other.pending,
                     self.in_flight + other.in_flight)

    @property
    def breakdown(self) -> str:
        """``"charged $8.50 + in flight $0.00"`` (``+ awaiting charge $x`` when non-zero)."""
        parts = [f"charged {usd(self.charged)}"]
        if self.pending:
            parts.append(f"awaiting charge {usd(self.pending)}")
        parts.append(f"in flight {usd(self.in_flight)}")
        return " + ".join(parts)


def job_spend(job: Job) -> Spend:
    """What one generation counts against a budget (see the module docstring)."""
    charge = job.charge_amount
    if charge is not None:
        return Spend(charged=charge)
    quoted = job.quote_amount
    if quoted is None or job.status in FREE_STATUSES:
        return Spend()
    if job.status == "succeeded":
        return Spend(pending=quoted)
    return Spend(in_flight=quoted)  # in flight or unknown: may have been charged


def spend(jobs: Iterable[Job], period: Period, *, owner: str | None = None) -> Spend:
    """Spend of the generations created in ``period`` (all owners, or only ``owner``)."""
    total = Spend()
    for job in jobs:
        if period.contains(job.created_at) and (owner is None or job.owner == owner):
            total = total + job_spend(job)
    return total


# -- verdicts -----------------------------------------------------------------------------
@dataclass(frozen=True)
class BudgetLine:
    """One cap against its spend: ``scope`` is ``"team"`` or ``"owner"``; amounts in USD.

    ``request`` is the amount being checked (0 for a status); ``fraction`` is spend after the
    request ÷ cap (``None`` for a zero cap).
    """

    scope: str
    cap: Decimal
    spent: Spend
    request: Decimal = Decimal(0)

    @property
    def name(self) -> str:
        return "team budget" if self.scope == "team" else "your budget"

    @property
    def after(self) -> Decimal:
        return self.spent.total + self.request

    @property
    def over_by(self) -> Decimal:
        return max(Decimal(0), self.after - self.cap)

    @property
    def exceeded(self) -> bool:
        return self.after > self.cap

    @property
    def fraction(self) -> float | None:
        return float(self.after / self.cap) if self.cap else None

    @property
    def warn(self) -> bool:
        """At or above 80 % of the cap before or after the request."""
        threshold = self.cap * WARN_FRACTION
        return self.spent.total >= threshold or self.after >= threshold

    def percent(self) -> str:
        return "no allowance" if self.fraction is None else f"{self.fraction:.0%}"


def _lines(store_jobs: list[Job], config: BudgetConfig, owner: str, amount: Decimal,
           period: Period) -> list[BudgetLine]:
    lines = []
    if config.team_usd is not None:
        lines.append(BudgetLine("team", config.team_usd, spend(store_jobs, period), amount))
    owner_cap = config.owner_cap(owner)
    if owner_cap is not None:
        lines.append(BudgetLine("owner", owner_cap, spend(store_jobs, period, owner=owner),
                                amount))
    return lines


@dataclass(frozen=True)
class BudgetVerdict:
    """The answer to "may this request be sent?": ``allowed``, ``warn`` (a cap is at or past
    80 %) and ``message`` (the arithmetic in a sentence; empty when no cap applies)."""

    allowed: bool
    warn: bool
    message: str
    period: Period
    request_usd: Decimal
    lines: tuple[BudgetLine, ...] = ()


def check(
    store: JobStore | Iterable[Job],
    config: BudgetConfig,
    owner: str,
    amount_usd: Decimal,
    now: datetime,
) -> BudgetVerdict:
    """Whether a request quoted at ``amount_usd`` (USD, all its generations) fits the caps of
    ``config`` for ``owner`` in the period holding ``now`` (aware). ``store`` is a
    :class:`~studio.jobs.JobStore` or the rows themselves. Refused when either cap would be
    crossed; the message then spells out cap, spend, request and sum, e.g. "Refused: team
    budget for November 2026 is $10.00; spent $8.50 (charged $8.50 + in flight $0.00) + this
    request $2.0916 = $10.5916, which is $0.5916 over. Raise the budget or wait until 1
    December (UTC)."
    """
    period = period_for(config.period, now)
    jobs = store.list() if isinstance(store, JobStore) else list(store)
    lines = _lines(jobs, config, owner, amount_usd, period)
    refused = [line for line in lines if line.exceeded]
    warn = any(line.warn for line in lines)
    if refused:
        sentences = [
            f"{line.name} for {period.label} is {usd(line.cap)}; spent "
            f"{usd(line.spent.total)} ({line.spent.breakdown}) + this request "
            f"{usd(amount_usd)} = {usd(line.after)}, which is {usd(line.over_by)} over."
            for line in refused
        ]
        message = ("Refused: " + " Also: ".join(sentences)
                   + f" Raise the budget or wait until {period.resets} (UTC).")
        return BudgetVerdict(False, True, message, period, amount_usd, tuple(lines))
    message = " ".join(
        f"{line.name.capitalize()} for {period.label}: {usd(line.spent.total)} of "
        f"{usd(line.cap)} spent + this request {usd(amount_usd)} = {usd(line.after)} "
        f"({line.percent()})." for line in lines if line.warn)
    return BudgetVerdict(True, warn, message, period, amount_usd, tuple(lines))


@dataclass(frozen=True)
class BudgetStatus:
    """Spend against each cap now, for the banner: ``lines`` (team first, then owner),
    ``warn`` (some cap at 80 % or more) and ``message`` (a sentence; empty when no cap)."""

    period: Period
    lines: tuple[BudgetLine, ...]
    warn: bool
    message: str

    @property
    def worst(self) -> BudgetLine | None:
        """The line closest to (or furthest past) its cap."""
        if not self.lines:
            return None
        return max(self.lines, key=lambda line: line.fraction if line.fraction is not None
                   else float("inf"))


def status(
    store: JobStore | Iterable[Job], config: BudgetConfig, owner: str, now: datetime
) -> BudgetStatus:
    """Spend so far in the period holding ``now`` against each cap of ``config`` for
    ``owner``. The message reads e.g. "Team budget for November 2026: $8.50 of $10.00 spent
    (85 %), resets 1 December (UTC).", one sentence per cap (warned caps first)."""
    period = period_for(config.period, now)
    jobs = store.list() if isinstance(store, JobStore) else list(store)
    lines = _lines(jobs, config, owner, Decimal(0), period)
    ordered = sorted(lines, key=lambda line: not line.warn)
    message = " ".join(
        f"{line.name.capitalize()} for {period.label}: {usd(line.spent.total)} of "
        f"{usd(line.cap)} spent ({line.percent()}), resets {period.resets} (UTC)."
        for line in ordered)
    return BudgetStatus(period, tuple(lines), any(line.warn for line in lines), message)
