"""Budgets: how much the team and each owner may spend per period, and the guard on submits.

Owns the budget rule, the saved caps (in the store's database, shared by every replica:
:class:`BudgetStore`) and the sentences that explain a verdict, a refusal or a warning.

The rule:

- A *period* is a UTC calendar ``"day"``, ``"week"`` (Monday 00:00 to the next Monday) or
  ``"month"``. A generation belongs to the period its row was created in (``created_at``).
- *Spend* of a set of generations = what was charged (``charge_usd`` where known) + the quote
  of each generation that has no charge yet but may cost money: in flight (``submitting``,
  ``waiting``, ``queued``, ``processing``) or ``unknown`` (the paid request may have reached
  the provider), and ``succeeded`` ones whose charge is not known yet. ``failed``,
  ``cancelled`` and ``expired`` generations without a charge cost nothing (failed jobs are not
  billed). A row with neither quote nor charge counts 0. On a store this is one SQL
  aggregate (:meth:`studio.store.JobStore.spend`); :func:`spend` is the same rule over rows.
- *Team* spend covers every owner; *owner* spend only rows with ``job.owner == owner`` (the
  key fingerprint :meth:`studio.config.Settings.owner`).
- A request is refused when spend + request > cap for the team cap or the owner's cap (equal
  to the cap is allowed). ``None`` = no cap. A warning is due from 80 % of a cap, before or
  after the request.

Caps come from :class:`studio.config.Settings` (``STUDIO_BUDGET_*``) unless saved from the app;
saved values win. Money is :class:`~decimal.Decimal` USD throughout; every amount in a
sentence reads to the cent (:func:`studio.money.cents`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection

from studio.config import BUDGET_PERIODS
from studio.errors import ConfigError, ParamError, shown_value
from studio.money import cents, sentence
from studio.store import SPEND_FREE, SPEND_IN_FLIGHT, Job, JobStore, Status

if TYPE_CHECKING:
    from studio.config import Settings

WARN_FRACTION = Decimal("0.8")
# Rows whose quote counts while no charge is known (see the module docstring).
IN_FLIGHT_STATUSES = SPEND_IN_FLIGHT
FREE_STATUSES = SPEND_FREE  # no charge known → cost nothing


# -- money --------------------------------------------------------------------------------
MAX_CAP_USD = Decimal(1_000_000_000)  # the largest cap that can be saved (USD)
CAP_DECIMALS = 2  # caps are whole cents
usd = cents  # the first release's name for the sentence format


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
        return None, (f"{name}: must be at most {cents(MAX_CAP_USD)}, or empty for no cap "
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
    ``"saved"`` (saved in the store from the app).
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
        """The caps as JSON (amounts as decimal strings, ``null`` = no cap), the shape the
        first release kept in ``budget.json``."""
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
    """The caps saved from the app, in the store's database (``budget_settings`` and
    ``budget_owner_caps``): one budget for everyone sharing the store, so a cap saved in
    one app process is in force in every other at once. Saved values win over Settings."""

    def __init__(self, store: JobStore):
        self.store = store

    def load(self, settings: Settings, *, conn: Connection | None = None) -> BudgetConfig:
        """The caps in force: the saved ones when there are any, else ``settings``.

        Raises ``ConfigError`` when a ``budget.json`` of an earlier version could not be
        imported (a guard must not silently drop the caps someone saved) or the saved
        values are not caps. ``conn`` reads inside a transaction (see
        :meth:`studio.store.JobStore.exclusive`).
        """
        problem = self.store.import_problems.get("budget")
        if problem:
            raise ConfigError(problem)
        raw = self.store.budgets.read(conn)
        if raw is None:
            return config_from_settings(settings)
        try:
            return validate_config(period=raw["period"], team_usd=raw["team_usd"],
                                   default_owner_usd=raw["default_owner_usd"],
                                   owner_usd=raw["owner_usd"])
        except ParamError as exc:
            raise ConfigError("The saved budget cannot be used (" + "; ".join(exc.problems)
                              + "). Save the budget again from the app.") from None

    def save(
        self,
        *,
        period: str,
        team_usd: Any = None,
        default_owner_usd: Any = None,
        owner_usd: Mapping[str, Any] | None = None,
        who: str | None = None,
        now: datetime | None = None,
    ) -> BudgetConfig:
        """Validate and store the caps (one transaction); returns the config now in force.
        Raises ``ParamError`` listing every problem (nothing is stored then)."""
        config = validate_config(period=period, team_usd=team_usd,
                                 default_owner_usd=default_owner_usd, owner_usd=owner_usd)
        self.store.budgets.write(period=config.period, team_usd=config.team_usd,
                                 default_owner_usd=config.default_owner_usd,
                                 owner_usd=dict(config.owner_usd),
                                 saved_at=now or datetime.now(UTC), saved_by=who)
        return config

    def clear(self) -> None:
        """Forget the saved caps (the Settings apply again)."""
        self.store.budgets.clear()


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
        return self.breakdown_with(sentence([self.charged, self.pending, self.in_flight],
                                            sums=[(self.parts, self.total)]))

    @property
    def parts(self) -> tuple[Decimal, Decimal, Decimal]:
        return self.charged, self.pending, self.in_flight

    def breakdown_with(self, fmt: Callable[[Any], str]) -> str:
        """:attr:`breakdown` with the amounts formatted by ``fmt`` (a sentence's format)."""
        parts = [f"charged {fmt(self.charged)}"]
        if self.pending:
            parts.append(f"awaiting charge {fmt(self.pending)}")
        parts.append(f"in flight {fmt(self.in_flight)}")
        return " + ".join(parts)


def job_spend(job: Job) -> Spend:
    """What one generation counts against a budget (see the module docstring)."""
    charge = job.charge_amount
    if charge is not None:
        return Spend(charged=charge)
    quoted = job.quote_amount
    if quoted is None or job.status in FREE_STATUSES:
        return Spend()
    if job.status == Status.SUCCEEDED:
        return Spend(pending=quoted)
    return Spend(in_flight=quoted)  # in flight or unknown: may have been charged


def spend(jobs: Iterable[Job], period: Period, *, owner: str | None = None) -> Spend:
    """Spend of the generations created in ``period`` (all owners, or only ``owner``)."""
    total = Spend()
    for job in jobs:
        if period.contains(job.created_at) and (owner is None or job.owner == owner):
            total = total + job_spend(job)
    return total


SpendSource = JobStore | Iterable[Job]


def _spent(source: SpendSource, period: Period, owner: str,
           targets: Mapping[str, str] | None, conn: Connection | None) -> tuple[Spend, Spend]:
    """(team, owner) spend in ``period``: one SQL aggregate on a store, the same rule in
    Python over rows. ``targets`` keeps only rows of each provider's current target."""
    if isinstance(source, JobStore):
        team, mine = source.spend(start=period.start, end=period.end, owner=owner,
                                  targets=targets, conn=conn)
        assert mine is not None
        return (Spend(team.charged, team.pending, team.in_flight),
                Spend(mine.charged, mine.pending, mine.in_flight))
    rows = [j for j in source
            if targets is None or targets.get(j.provider) == j.target]
    return spend(rows, period), spend(rows, period, owner=owner)


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
    def cap_name(self) -> str:
        """``"the team cap"`` or ``"your cap"``."""
        return "the team cap" if self.scope == "team" else "your cap"

    @property
    def after(self) -> Decimal:
        return self.spent.total + self.request

    @property
    def over_by(self) -> Decimal:
        return max(Decimal(0), self.after - self.cap)

    @property
    def left(self) -> Decimal:
        """What may still be spent after the request (0 when over)."""
        return max(Decimal(0), self.cap - self.after)

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

    def fmt(self) -> Callable[[Any], str]:
        """The one money format of this line's sentences: to the cent unless that would
        misstate its arithmetic (:func:`studio.money.sentence`)."""
        s = self.spent
        return sentence(
            [self.cap, *s.parts, s.total, self.request, self.after, self.over_by, self.left],
            sums=[(s.parts, s.total), ((s.total, self.request), self.after),
                  ((self.cap, self.over_by), self.after) if self.exceeded
                  else ((self.after, self.left), self.cap)],
            above_zero=[self.over_by])


def _lines(spent: tuple[Spend, Spend], config: BudgetConfig, owner: str,
           amount: Decimal) -> list[BudgetLine]:
    lines = []
    if config.team_usd is not None:
        lines.append(BudgetLine("team", config.team_usd, spent[0], amount))
    owner_cap = config.owner_cap(owner)
    if owner_cap is not None:
        lines.append(BudgetLine("owner", owner_cap, spent[1], amount))
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

    @property
    def headline(self) -> str:
        """The verdict in a few words, for a quote card and its Submit button, before the
        click: ``"fits the team cap"`` (``"fits the budget"`` with a team and an own cap),
        ``"would cross the team cap by $1.90"`` (each cap it would cross, joined by
        "and"), ``""`` when no cap applies."""
        if not self.lines:
            return ""
        over = [line for line in self.lines if line.exceeded]
        if over:
            return " and ".join(f"would cross {line.cap_name} by {line.fmt()(line.over_by)}"
                                for line in over)
        return "fits the budget" if len(self.lines) > 1 else f"fits {self.lines[0].cap_name}"

    @property
    def detail(self) -> str:
        """One sentence per cap with its arithmetic, to the cent: ``"Team cap for November
        2026: $4.81 spent + this request $2.09 = $6.90 of $10.00, $3.10 left."``; ``""``
        when no cap applies."""
        parts = []
        for line in self.lines:
            f = line.fmt()
            tail = f"{f(line.over_by)} over" if line.exceeded else f"{f(line.left)} left"
            what = "Team cap" if line.scope == "team" else "Your cap"
            parts.append(f"{what} for {self.period.label}: {f(line.spent.total)} spent + this "
                         f"request {f(line.request)} = {f(line.after)} of {f(line.cap)}, "
                         f"{tail}.")
        return " ".join(parts)


def _refusal_sentence(line: BudgetLine, period: Period) -> str:
    f = line.fmt()
    return (f"{line.name} for {period.label} is {f(line.cap)}; spent {f(line.spent.total)} "
            f"({line.spent.breakdown_with(f)}) + this request {f(line.request)} = "
            f"{f(line.after)}, which is {f(line.over_by)} over.")


def _refusal(lines: list[BudgetLine], period: Period, amount_usd: Decimal) -> str:
    sentences = [_refusal_sentence(line, period) for line in lines]
    return ("Refused: " + " Also: ".join(sentences)
            + f" Raise the budget or wait until {period.resets} (UTC).")


def check(
    store: SpendSource,
    config: BudgetConfig,
    owner: str,
    amount_usd: Decimal,
    now: datetime,
    *,
    targets: Mapping[str, str] | None = None,
    conn: Connection | None = None,
) -> BudgetVerdict:
    """Whether a request quoted at ``amount_usd`` (USD, all its generations) fits the caps of
    ``config`` for ``owner`` in the period holding ``now`` (aware). ``store`` is a
    :class:`~studio.store.JobStore` (spend is then one SQL aggregate, run on ``conn`` when
    given) or the rows themselves; ``targets`` counts only rows of each provider's current
    target (``{"oxen": "live", "ltx": "sandbox"}``). Refused when either cap would be
    crossed; the message then spells out cap, spend, request and sum to the cent, e.g.
    "Refused: team budget for November 2026 is $10.00; spent $8.50 (charged $8.50 + in
    flight $0.00) + this request $2.09 = $10.59, which is $0.59 over. Raise the budget or
    wait until 1 December (UTC)."
    """
    period = period_for(config.period, now)
    if not config.any_cap:
        return BudgetVerdict(True, False, "", period, amount_usd, ())
    spent = _spent(store, period, owner, targets, conn)
    lines = _lines(spent, config, owner, amount_usd)
    refused = [line for line in lines if line.exceeded]
    warn = any(line.warn for line in lines)
    if refused:
        return BudgetVerdict(False, True, _refusal(refused, period, amount_usd), period,
                             amount_usd, tuple(lines))
    message = " ".join(
        f"{line.name.capitalize()} for {period.label}: {line.fmt()(line.spent.total)} of "
        f"{line.fmt()(line.cap)} spent + this request {line.fmt()(amount_usd)} = "
        f"{line.fmt()(line.after)} ({line.percent()})." for line in lines if line.warn)
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
    store: SpendSource,
    config: BudgetConfig,
    owner: str,
    now: datetime,
    *,
    targets: Mapping[str, str] | None = None,
    conn: Connection | None = None,
) -> BudgetStatus:
    """Spend so far in the period holding ``now`` against each cap of ``config`` for
    ``owner`` (``store`` and ``targets`` as in :func:`check`). The message reads e.g. "Team
    budget for November 2026: $8.50 of $10.00 spent (85 %), resets 1 December (UTC).", one
    sentence per cap (warned caps first). No cap: no query at all."""
    period = period_for(config.period, now)
    if not config.any_cap:
        return BudgetStatus(period, (), False, "")
    lines = _lines(_spent(store, period, owner, targets, conn), config, owner, Decimal(0))
    ordered = sorted(lines, key=lambda line: not line.warn)
    message = " ".join(
        f"{line.name.capitalize()} for {period.label}: {cents(line.spent.total)} of "
        f"{cents(line.cap)} spent ({line.percent()}), resets {period.resets} (UTC)."
        for line in ordered)
    return BudgetStatus(period, tuple(lines), any(line.warn for line in lines), message)
