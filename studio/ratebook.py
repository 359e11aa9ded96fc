"""The rate book: every price point a quote may use, with where it came from.

Owns the :class:`Rate` record and its four provenances, the bundled rates (each model unit's
``RATES``, compiled from ``shared/api/pricing.md``), team overrides with their audit trail
(:class:`OverrideStore`), the live Oxen ``pricing`` objects and their cache
(:class:`LivePricingCache`, oxen.md §11.2), and the precedence between them
(:class:`RateBook`: team override > live > bundled).

Provenances:
- ``"live"``: the model's Oxen ``pricing`` object (``GET /api/ai/models/{id}``, oxen.md §11.2);
  ``as_of`` is ``"live"``.
- ``"published"``: the billing provider's own number (pricing.md §1).
- ``"proxy"``: the closest documented stand-in from another provider or product.
- ``"override"``: a team override, stored in the store's database (``rate_overrides``).

Every rate carries ``source_url``, ``as_of`` (ISO date or ``"live"``), a ``confidence`` note
and a ``derivation``; a quote is never made from an unsourced number. Money is
:class:`decimal.Decimal` USD. Apart from :class:`OverrideStore` (the store's database) and the
``fetch`` callable handed to :class:`LivePricingCache`, nothing here does I/O.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from studio import models
from studio.errors import ConfigError, ParamError, StudioError

if TYPE_CHECKING:
    from studio.store import JobStore

PROVENANCES = ("live", "published", "proxy", "override")
UNIT_LABELS = {
    "output_second": "output second",
    "input_second": "input second",
    "output_megapixel": "output megapixel",
    "factor": "factor",
}
# Limits on a team override (USD per unit, or a bare multiplier for unit "factor").
OVERRIDE_MAX = Decimal("1000")
OVERRIDE_MAX_PLACES = 7


@dataclass(frozen=True)
class Rate:
    """One price point: ``usd`` per ``unit`` for ``model_id`` at ``tier``.

    ``unit`` is ``"output_second"``, ``"input_second"``, ``"output_megapixel"`` or
    ``"factor"`` (a dimensionless multiplier such as Rhea's interpolation surcharge; ``usd``
    then holds the multiplier). ``provenance`` is one of :data:`PROVENANCES`; ``source_url``
    and ``as_of`` (ISO date, or ``"live"``) say where and when it was read; ``confidence``
    says how far to trust it and ``derivation`` how it was computed.
    """

    model_id: str
    tier: str
    unit: str
    usd: Decimal
    provenance: str
    source_url: str
    as_of: str
    confidence: str = ""
    derivation: str = ""

    @property
    def label(self) -> str:
        """E.g. ``"$0.1494 per output second (4k) · published · as of 2026-05-12"``."""
        tail = f" · {self.provenance} · as of {self.as_of}"
        if self.unit == "factor":
            return f"×{self.usd} ({self.tier}){tail}"
        tier = "" if self.tier == "any" else f" ({self.tier})"
        return f"${self.usd} per {UNIT_LABELS.get(self.unit, self.unit)}{tier}{tail}"


def _rate_record(r: Mapping[str, str]) -> Rate:
    return Rate(
        model_id=r["model_id"],
        tier=r["tier"],
        unit=r["unit"],
        usd=Decimal(r["usd"]),
        provenance=r["provenance"],
        source_url=r["source_url"],
        as_of=r["as_of"],
        confidence=r.get("confidence", ""),
        derivation=r.get("derivation", ""),
    )


@cache
def _unit_rates(model_ids: tuple[str, ...]) -> tuple[Rate, ...]:
    return tuple(_rate_record(r) for mid in model_ids for r in models.MODELS[mid].bundled_rates)


def bundled_rates() -> tuple[Rate, ...]:
    """Every bundled rate: the rates each registered model unit carries
    (``ModelUnit.bundled_rates``, e.g. ``studio.models.starlight.RATES``, compiled from
    shared/api/pricing.md), in registry order; read once per set of units."""
    return _unit_rates(tuple(models.MODELS))


def live_rate(model_id: str, tier: str, pricing: Mapping[str, Any]) -> Rate | None:
    """A per-output-second rate from an Oxen ``pricing`` object, or ``None`` if it has none.

    Source: oxen.md §11.2. Precedence: ``cost_per_second_by_resolution[tier]`` (spec
    v0.243.1, newest and most precise), then ``cost_per_second_high_res`` for 2k/4k (Starlight
    bills both at it), then ``cost_per_second``. Values are JSON numbers in USD; they are read
    through ``str`` so 0.1494 stays exactly ``Decimal("0.1494")``.
    """
    value = None
    by_res = pricing.get("cost_per_second_by_resolution") or {}
    if isinstance(by_res, Mapping) and by_res.get(tier) is not None:
        value = by_res[tier]
    elif tier in ("2k", "4k") and pricing.get("cost_per_second_high_res") is not None:
        value = pricing["cost_per_second_high_res"]
    elif pricing.get("cost_per_second") is not None:
        value = pricing["cost_per_second"]
    if value is None or isinstance(value, bool):
        return None
    try:
        usd = Decimal(str(value))
    except InvalidOperation:
        return None
    if not usd.is_finite() or usd <= 0:
        return None
    return Rate(
        model_id=model_id,
        tier=tier,
        unit="output_second",
        usd=usd,
        provenance="live",
        source_url=f"GET /api/ai/models/{model_id} → pricing",
        as_of="live",
        confidence="Oxen's live pricing object for this model (authoritative for Oxen jobs).",
        derivation="oxen.md §11.2: cost_per_second_by_resolution[tier], else "
        "cost_per_second_high_res for 2k/4k, else cost_per_second.",
    )


def stale(rate: Rate, today: date, max_age_days: int) -> bool:
    """True when ``rate.as_of`` is more than ``max_age_days`` days before ``today``.

    ``"live"`` is never stale. An ``as_of`` that is not an ISO date (``YYYY-MM-DD``, or an ISO
    datetime whose date part is used) counts as stale: its age is unknown.
    """
    if rate.as_of == "live":
        return False
    try:
        as_of = date.fromisoformat(rate.as_of[:10])
    except ValueError:
        return True
    return (today - as_of).days > max_age_days


# -- team overrides ------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditEntry:
    """One change to the team overrides: ``who`` changed ``model_id``/``tier`` at ``when`` (UTC)
    from ``old_usd`` to ``new_usd`` because of ``reason``.

    ``old_usd`` is the rate in force before the change and ``old_provenance`` what it was
    (``"override"``, or the ``"live"``/``"published"``/``"proxy"`` rate a first override
    replaced); ``None`` for both on lines of the first release, which recorded only a
    previous override. ``None`` as ``new_usd`` means the override was removed."""

    who: str
    when: datetime
    model_id: str
    tier: str
    old_usd: Decimal | None
    new_usd: Decimal | None
    reason: str
    old_provenance: str | None = None

    @property
    def action(self) -> str:
        """``"added"``, ``"changed"`` or ``"removed"``."""
        if self.new_usd is None:
            return "removed"
        if self.old_provenance is None:
            return "added" if self.old_usd is None else "changed"
        return "changed" if self.old_provenance == "override" else "added"

    def to_json(self) -> dict[str, Any]:
        """The entry as JSON (amounts as decimal strings, ``when`` as UTC ISO 8601)."""
        return {
            "who": self.who,
            "when": self.when.isoformat(),
            "model_id": self.model_id,
            "tier": self.tier,
            "old_usd": None if self.old_usd is None else format(self.old_usd, "f"),
            "new_usd": None if self.new_usd is None else format(self.new_usd, "f"),
            "reason": self.reason,
            "old_provenance": self.old_provenance,
        }


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)


class OverrideStore:
    """Team rate overrides with their append-only audit trail, in the store's database
    (``rate_overrides`` and ``rate_audit``, shared by every replica: an override saved in
    one app process is quoted from in every other at once).

    Each change and its audit line are written in one transaction that one writer at a time
    holds across replicas, so an applied change is never missing from the trail; the
    database itself refuses to update or delete an audit line.

    An override may only replace an existing bundled ``(model_id, tier)`` rate (``bundled``
    defaults to :func:`bundled_rates`). Invalid input raises :class:`ParamError` listing every
    problem; team state of an earlier version that could not be imported raises
    :class:`ConfigError` (no quote uses team overrides until it is fixed).
    """

    def __init__(self, store: JobStore, *, bundled: Iterable[Rate] | None = None,
                 live: Mapping[str, Mapping[str, Any]] | None = None):
        self.store = store
        rates = bundled_rates() if bundled is None else tuple(bundled)
        self._bundled = {(r.model_id, r.tier): r for r in rates}
        self._live = dict(live or {})

    def _check_import(self) -> None:
        problem = self.store.import_problems.get("overrides")
        if problem:
            raise ConfigError(problem)

    @staticmethod
    def _rate(rec: Mapping[str, Any]) -> Rate:
        at = rec["set_at"].astimezone(UTC)
        day = at.date().isoformat()
        who, reason = rec["who"], rec["reason"]
        return Rate(
            model_id=rec["model_id"],
            tier=rec["tier"],
            unit=rec["unit"],
            usd=Decimal(format(Decimal(rec["usd"]).normalize(), "f")),
            provenance="override",
            source_url=f"team override by {who} on {day}: {reason}",
            as_of=day,
            confidence=f"Team override set by {who} on {day}; it replaces the live and "
            "bundled rate until removed.",
            derivation=f"Set by {who} at {at.isoformat()}: {reason}",
        )

    def load(self) -> list[Rate]:
        """Every team override as a :class:`Rate` with provenance ``"override"``.

        ``source_url`` reads ``"team override by <who> on <YYYY-MM-DD>: <reason>"`` and
        ``as_of`` is that date. Raises :class:`ConfigError` when the overrides of an
        earlier version could not be imported.
        """
        self._check_import()
        return [self._rate(rec) for rec in self.store.overrides.records()]

    def audit(self) -> list[AuditEntry]:
        """Every recorded change, newest first."""
        self._check_import()
        entries = [AuditEntry(
            who=r["who"], when=r["at"], model_id=r["model_id"], tier=r["tier"],
            old_usd=r["old_usd"], new_usd=r["new_usd"], reason=r["reason"],
            old_provenance=r["old_provenance"],
        ) for r in self.store.overrides.audit()]
        entries.sort(key=lambda e: e.when, reverse=True)  # stable: same time keeps seq order
        return entries

    # -- writing ---------------------------------------------------------------------------
    def _check_target(self, model_id: str, tier: str) -> list[str]:
        problems: list[str] = []
        if model_id not in {m for m, _ in self._bundled}:
            known = ", ".join(sorted({m for m, _ in self._bundled}))
            problems.append(f"model: unknown model '{model_id}' (known: {known})")
        elif (model_id, tier) not in self._bundled:
            tiers = ", ".join(t for m, t in self._bundled if m == model_id)
            problems.append(f"tier: '{tier}' is not a rate tier of {model_id} (known: {tiers})")
        return problems

    @staticmethod
    def _check_change(reason: str, who: str) -> list[str]:
        problems: list[str] = []
        if not isinstance(reason, str) or not reason.strip():
            problems.append("reason: say why the rate is overridden (it goes in the audit trail)")
        if not isinstance(who, str) or not who.strip():
            problems.append("who: name the person making the change (it goes in the audit trail)")
        return problems

    @staticmethod
    def _amount(usd: Any) -> tuple[Decimal | None, list[str]]:
        """``usd`` as a Decimal, or the problems with it."""
        if isinstance(usd, bool) or not isinstance(usd, Decimal | str | int | float):
            return None, [f"usd: must be a number in USD, e.g. 0.15 (got {usd!r})"]
        try:
            value = Decimal(usd.strip() if isinstance(usd, str) else str(usd))
        except InvalidOperation:
            return None, [f"usd: must be a number in USD, e.g. 0.15 (got {usd!r})"]
        if not value.is_finite():
            return None, [f"usd: must be a number in USD, e.g. 0.15 (got {usd!r})"]
        problems = []
        if value <= 0:
            problems.append(f"usd: must be more than 0 (got {value})")
        elif value > OVERRIDE_MAX:
            problems.append(f"usd: must be at most {OVERRIDE_MAX} (got {value})")
        exponent = value.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > OVERRIDE_MAX_PLACES:
            problems.append(f"usd: at most {OVERRIDE_MAX_PLACES} decimal places (got {value})")
        return value, problems

    def _in_force(self, model_id: str, tier: str,
                  old: Mapping[str, Any] | None) -> tuple[Decimal | None, str | None]:
        """The rate a change replaces: the override, else the live, else the bundled one."""
        if old is not None:
            return Decimal(old["usd"]), "override"
        book = RateBook(self._bundled.values(), (), self._live)
        try:
            rate = book.rate_for(model_id, tier)
        except KeyError:
            return None, None
        return rate.usd, rate.provenance

    def set(
        self,
        model_id: str,
        tier: str,
        usd: Decimal | str,
        *,
        reason: str,
        who: str,
        now: datetime | None = None,
    ) -> Rate:
        """Set (or replace) the team override of ``model_id`` at ``tier`` to ``usd``.

        ``usd`` is USD per the bundled rate's unit (a multiplier for unit ``"factor"``): a
        number > 0 and ≤ 1000 with at most 7 decimal places. ``now`` (timezone-aware, default
        the current time) is recorded in UTC. The audit line records the rate in force
        before (the previous override, or the live or bundled rate a first override
        replaces). Returns the override :class:`Rate`. Raises :class:`ParamError` listing
        every problem (unknown model or tier, bad amount, empty reason or who).
        """
        value, amount_problems = self._amount(usd)
        problems = (self._check_target(model_id, tier) + amount_problems
                    + self._check_change(reason, who))
        if problems or value is None:
            raise ParamError(problems)
        self._check_import()
        at = _utc(now)
        value = Decimal(format(value.normalize(), "f"))  # "100", "0.0000001": no exponents
        rec = {
            "model_id": model_id,
            "tier": tier,
            "unit": self._bundled[(model_id, tier)].unit,
            "usd": value,
            "who": who.strip(),
            "set_at": at,
            "reason": reason.strip(),
        }
        with self.store.overrides.change() as change:
            old = change.get(model_id, tier)
            old_usd, old_provenance = self._in_force(model_id, tier, old)
            change.audit({"at": at, "who": rec["who"], "model_id": model_id, "tier": tier,
                          "old_usd": old_usd, "new_usd": value, "reason": rec["reason"],
                          "old_provenance": old_provenance})
            change.put(rec)
        return self._rate(rec)

    def remove(
        self,
        model_id: str,
        tier: str,
        *,
        reason: str,
        who: str,
        now: datetime | None = None,
    ) -> Rate:
        """Remove the team override of ``model_id`` at ``tier``; returns the removed rate.

        The audit line records ``new_usd`` ``None``. Raises :class:`ParamError` when there is
        no such override or ``reason``/``who`` is empty.
        """
        problems: list[str] = []
        if not isinstance(reason, str) or not reason.strip():
            problems.append("reason: say why the override is removed (it goes in the audit trail)")
        if not isinstance(who, str) or not who.strip():
            problems.append("who: name the person making the change (it goes in the audit trail)")
        self._check_import()
        at = _utc(now)
        with self.store.overrides.change() as change:
            old = change.get(model_id, tier)
            if old is None:
                problems.insert(0, f"override: there is no team override for {model_id} at "
                                   f"tier '{tier}' to remove")
            if problems or old is None:
                raise ParamError(problems)
            change.audit({"at": at, "who": who.strip(), "model_id": model_id, "tier": tier,
                          "old_usd": Decimal(old["usd"]), "new_usd": None,
                          "reason": reason.strip(), "old_provenance": "override"})
            change.remove(model_id, tier)
        return self._rate(old)


# -- the book ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateEntry:
    """One row of the Rates view: a ``(model_id, tier)`` and every rate known for it.

    ``effective`` is what a quote uses (override > live > bundled); ``bundled``, ``override``
    and ``live`` are each ``None`` when absent. ``live_differs`` is True when a live rate
    exists and its unit or amount differs from the bundled one. ``stale`` is
    :func:`stale` of ``effective`` for the ``today``/``max_age_days`` the entry was built with.
    """

    model_id: str
    tier: str
    unit: str
    effective: Rate
    bundled: Rate | None
    override: Rate | None
    live: Rate | None
    live_differs: bool
    stale: bool


class RateBook:
    """Rates by ``(model_id, tier)`` with precedence team override > live > bundled.

    ``live`` maps an Oxen model id to its ``pricing`` object (oxen.md §11.2). Live pricing
    applies only to Oxen models and never to ``"factor"`` tiers (a surcharge multiplier is not
    in Oxen's object). A bundled ``"any"`` tier answers for every tier of that model. Lookups
    are dict hits, so a quote stays in the microseconds.
    """

    def __init__(
        self,
        bundled: Iterable[Rate],
        overrides: Iterable[Rate] = (),
        live: Mapping[str, Mapping[str, Any]] | None = None,
    ):
        self._bundled: dict[tuple[str, str], Rate] = {}
        for r in bundled:
            self._bundled.setdefault((r.model_id, r.tier), r)
        self._overrides = {(r.model_id, r.tier): r for r in overrides}
        self._live: dict[str, Mapping[str, Any]] = dict(live or {})
        self._live_memo: dict[tuple[str, str], Rate | None] = {}

    @property
    def bundled(self) -> tuple[Rate, ...]:
        return tuple(self._bundled.values())

    @property
    def overrides(self) -> tuple[Rate, ...]:
        return tuple(self._overrides.values())

    @property
    def live(self) -> Mapping[str, Mapping[str, Any]]:
        return MappingProxyType(self._live)

    def _live_applies(self, model_id: str, tier: str) -> bool:
        spec = models.MODELS.get(model_id)
        if spec is None or spec.provider != "oxen":
            return False
        base = self._bundled.get((model_id, tier))
        return base is None or base.unit != "factor"

    def _live_for(
        self, model_id: str, tier: str, live_pricing: Mapping[str, Any] | None
    ) -> Rate | None:
        """The live rate from ``live_pricing`` (when given) or the book's own live object."""
        if live_pricing is not None:
            if not live_pricing or not self._live_applies(model_id, tier):
                return None
            return live_rate(model_id, tier, live_pricing)
        key = (model_id, tier)
        if key not in self._live_memo:  # the book's live objects never change: memoise
            pricing = self._live.get(model_id)
            self._live_memo[key] = (
                live_rate(model_id, tier, pricing)
                if pricing and self._live_applies(model_id, tier) else None)
        return self._live_memo[key]

    def rate_for(
        self, model_id: str, tier: str, *, live_pricing: Mapping[str, Any] | None = None
    ) -> Rate:
        """The effective rate for ``model_id`` at ``tier``.

        ``live_pricing``, when given, is used as this model's Oxen ``pricing`` object instead
        of the book's own. Raises ``KeyError`` when no sourced rate exists.
        """
        r = self._overrides.get((model_id, tier)) or self._overrides.get((model_id, "any"))
        if r is not None:
            return r
        r = self._live_for(model_id, tier, live_pricing)
        if r is not None:
            return r
        r = self._bundled.get((model_id, tier)) or self._bundled.get((model_id, "any"))
        if r is None:
            raise KeyError(f"no rate for {model_id} at tier {tier}")
        return r

    def entries(self, *, today: date, max_age_days: int) -> list[RateEntry]:
        """One :class:`RateEntry` per bundled or overridden ``(model_id, tier)``, bundled
        order first, for a Rates view."""
        keys = list(self._bundled) + [k for k in self._overrides if k not in self._bundled]
        out: list[RateEntry] = []
        for model_id, tier in keys:
            base = self._bundled.get((model_id, tier))
            over = self._overrides.get((model_id, tier))
            live = self._live_for(model_id, tier, None)
            effective = self.rate_for(model_id, tier)
            differs = live is not None and (
                base is None or (live.unit, live.usd) != (base.unit, base.usd))
            out.append(RateEntry(
                model_id=model_id, tier=tier, unit=effective.unit, effective=effective,
                bundled=base, override=over, live=live, live_differs=differs,
                stale=stale(effective, today, max_age_days),
            ))
        return out


def bundled_book() -> RateBook:
    """The book of bundled rates only (no overrides, no live pricing); built once per set of
    model units."""
    return _bundled_book(tuple(models.MODELS))


@cache
def _bundled_book(model_ids: tuple[str, ...]) -> RateBook:
    return RateBook(bundled_rates())


# ``bundled_book.cache_clear()`` keeps working for callers (tests that mutate the rates).
bundled_book.cache_clear = _bundled_book.cache_clear  # type: ignore[attr-defined]


def load_book(store: JobStore, live: Mapping[str, Mapping[str, Any]] | None = None) -> RateBook:
    """The book of ``store``: bundled rates, the team overrides saved in its database and
    ``live`` Oxen ``pricing`` objects by model id. Raises :class:`ConfigError` when the
    overrides of an earlier version could not be imported."""
    return RateBook(bundled_rates(), OverrideStore(store).load(), live)


# -- live pricing cache --------------------------------------------------------------------


@dataclass(frozen=True)
class LivePricing:
    """A fetched Oxen ``pricing`` object (oxen.md §11.2: ``cost_per_second``,
    ``cost_per_second_high_res``, ``cost_per_second_by_resolution``,
    ``cost_per_second_with_audio``; JSON numbers in USD).

    ``fetched_at`` is when it was fetched (UTC); ``age_s`` its age in seconds when handed
    out; ``last_error`` the sentence of the latest failed refresh, if the newest attempt
    failed (the value is then older than the TTL).
    """

    model_id: str
    pricing: Mapping[str, Any]
    fetched_at: datetime
    age_s: float
    last_error: str | None = None


@dataclass
class _Slot:
    lock: threading.Lock = field(default_factory=threading.Lock)
    has_value: bool = False
    pricing: Mapping[str, Any] | None = None
    fetched_mono: float = 0.0
    fetched_at: datetime | None = None
    last_attempt: float | None = None
    last_error: str | None = None


class LivePricingCache:
    """Live Oxen ``pricing`` objects per model id, refetched after ``ttl_s`` seconds.

    ``fetch(model_id)`` returns the model's ``pricing`` object, or ``None`` when the model has
    none; it may raise any :class:`StudioError`. A failed refresh keeps the last good value
    and records ``last_error`` instead of raising; after a failure the next attempt waits
    ``retry_s`` seconds (default the smaller of ``ttl_s`` and 30 s) so a dead API is not hit on
    every rerun. ``clock`` is monotonic seconds; ``now`` gives the UTC wall time recorded as
    ``fetched_at``. Thread-safe: one fetch per model at a time, other models are not blocked.
    """

    def __init__(
        self,
        fetch: Callable[[str], Mapping[str, Any] | None],
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        now: Callable[[], datetime] | None = None,
        retry_s: float | None = None,
    ):
        self._fetch = fetch
        self.ttl_s = float(ttl_s)
        self.retry_s = min(self.ttl_s, 30.0) if retry_s is None else float(retry_s)
        self._clock = clock
        self._now = now or (lambda: datetime.now(UTC))
        self._slots: dict[str, _Slot] = {}
        self._lock = threading.Lock()

    def _slot(self, model_id: str) -> _Slot:
        with self._lock:
            return self._slots.setdefault(model_id, _Slot())

    def get(self, model_id: str) -> LivePricing | None:
        """The model's live pricing, fetching when absent or older than the TTL.

        Returns ``None`` when the model has no pricing object or nothing good has been fetched
        yet (see :meth:`last_error`). Never raises a :class:`StudioError` from ``fetch``.
        """
        slot = self._slot(model_id)
        with slot.lock:
            t = self._clock()
            fresh = slot.has_value and t - slot.fetched_mono < self.ttl_s
            backing_off = (slot.last_error is not None and slot.last_attempt is not None
                           and t - slot.last_attempt < self.retry_s)
            if not fresh and not backing_off:
                slot.last_attempt = t
                try:
                    result = self._fetch(model_id)
                    if result is not None and not isinstance(result, Mapping):
                        raise StudioError(f"the pricing answer was not an object "
                                          f"(got {type(result).__name__}).")
                except StudioError as e:
                    slot.last_error = (f"Live pricing for {model_id} could not be refreshed: "
                                       f"{e}")
                else:
                    slot.has_value = True
                    slot.pricing = None if result is None else MappingProxyType(dict(result))
                    slot.fetched_mono = self._clock()
                    slot.fetched_at = self._now()
                    slot.last_error = None
            if not slot.has_value or slot.pricing is None or slot.fetched_at is None:
                return None
            return LivePricing(
                model_id=model_id,
                pricing=slot.pricing,
                fetched_at=slot.fetched_at,
                age_s=max(0.0, self._clock() - slot.fetched_mono),
                last_error=slot.last_error,
            )

    def last_error(self, model_id: str) -> str | None:
        """The sentence of the model's latest failed fetch, or ``None`` if it succeeded."""
        with self._lock:
            slot = self._slots.get(model_id)
        return None if slot is None else slot.last_error

    def pricing_map(self, model_ids: Iterable[str]) -> dict[str, Mapping[str, Any]]:
        """``{model_id: pricing}`` for the models that have live pricing, for
        :func:`load_book`'s ``live`` argument."""
        out: dict[str, Mapping[str, Any]] = {}
        for model_id in model_ids:
            lp = self.get(model_id)
            if lp is not None:
                out[model_id] = lp.pricing
        return out

    def clear(self) -> None:
        """Forget every cached value (the next :meth:`get` fetches)."""
        with self._lock:
            self._slots.clear()
