"""The ledger: quotes against charges, spend over time and turnaround, read from job rows.

Owns the accounting views of the job store: per generation what was quoted and what was
charged, quote against charge by day, model and owner, spend per day, and how long
generations of a kind took (the turnaround forecast). Everything is a pure function over a
list of :class:`~studio.store.Job`; tables are pandas DataFrames whose columns are
documented on each function. Money stays :class:`~decimal.Decimal` (object columns);
ratios and durations are floats.

Every figure covers a named set, and the sets nest so totals reconcile (issue 10 item 3):

- *generations*: rows with a quote or a charge;
- *charged*: those with a known charge — the spend per day, and the ``charged_usd`` and
  ``quoted_usd`` of :func:`error_by`, cover exactly this set, so a day's bar equals that
  day's row and the headline totals equal the tables' column sums;
- *measured pairs*: charged generations whose charge was *reported* (by the live provider or
  the sandbox, :class:`~studio.store.ChargeSource`), with a quote and a charge above zero.
  A *computed* charge (LTX reports none, so ours comes from the quote's own rule) is shown,
  labelled as computed, and left out of the error: holding a rule against itself measures
  nothing.

Quote error of one measured pair::

    abs_pct_error = |charge − quote| / charge × 100

i.e. the absolute error *relative to what was actually charged*, in percent; the mean
absolute % error (MAPE) is the mean over the measured pairs only.

Days are UTC calendar days of ``created_at`` (the same instant budgets use).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd

from studio.jobs import Job
from studio.store import ChargeSource, Status
from studio.store.schema import charge_source_for

GENERATION_COLUMNS = ["job_id", "display_id", "model_id", "owner", "owner_name", "created_at",
                      "day", "status", "quote_usd", "quote_provenance", "charge_usd", "charge_source",
                      "error_usd", "abs_pct_error"]
ERROR_COLUMNS = ["generations", "charged", "quoted_usd", "charged_usd", "computed_usd",
                 "pairs", "mean_abs_pct_error"]
GROUPINGS = ("day", "model_id", "owner")
MEASURED_SOURCES = (ChargeSource.REPORTED.value, ChargeSource.SANDBOX.value)
# Duration buckets of the source clip for the turnaround forecast: (upper bound s, label).
DURATION_BUCKETS: tuple[tuple[float, str], ...] = (
    (10, "≤10 s"), (30, "≤30 s"), (60, "≤60 s"), (300, "≤300 s"), (math.inf, ">300 s"),
)
MIN_SAMPLES = 3  # fewer finished generations than this give no forecast
PROVIDER_NAMES = {"oxen": "Oxen", "ltx": "LTX"}


def abs_pct_error(quote: Decimal | None, charge: Decimal | None) -> float | None:
    """``|charge − quote| / charge × 100`` (percent), ``None`` unless both are known and the
    charge is above zero."""
    if quote is None or charge is None or charge <= 0:
        return None
    return float(abs(charge - quote) / charge * 100)


def charge_source(job: Job) -> str | None:
    """``"reported"``, ``"computed"`` or ``"sandbox"`` for a generation with a charge (rows
    stored before the source was recorded are classified as the migration does), ``None``
    while its charge is unknown."""
    if job.charge_usd is None:
        return None
    if job.charge_source is not None:
        return str(job.charge_source)
    return charge_source_for(job.provider, job.target, True)


def charge_source_label(job: Job) -> str:
    """Where a generation's charge came from, as the screen says it: the provider's name
    (``"Oxen"``) for a live reported charge, ``"sandbox"`` for the sandbox's figure,
    ``"computed (billing rule)"`` for ours (``"computed (billing rule) · sandbox"`` for a
    sandbox run), ``""`` while no charge is known."""
    source = charge_source(job)
    if source is None:
        return ""
    if source == ChargeSource.SANDBOX:
        return "sandbox"
    if source == ChargeSource.COMPUTED:
        return "computed (billing rule)" + (" · sandbox" if job.target == "sandbox" else "")
    return PROVIDER_NAMES.get(job.provider, job.provider)


def duration_text(seconds: float | None) -> str:
    """A duration as people say it: ``"36 s"``, ``"1 min 36 s"``, ``"2 h 05 min"``; ``""`` for
    ``None`` or NaN. Rounded to the second."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return ""
    total = max(0, round(float(seconds)))
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


# -- quote vs charge ----------------------------------------------------------------------
def generation_rows(jobs: Iterable[Job]) -> pd.DataFrame:
    """One row per generation that has a quote or a charge, oldest first.

    Columns: ``job_id``, ``display_id`` (the id the screen shows,
    :attr:`~studio.store.Job.display_id`), ``model_id``, ``owner`` (key fingerprint),
    ``owner_name`` (str or None), ``created_at`` (aware UTC datetime), ``day`` (UTC ``datetime.date``), ``status``,
    ``quote_usd`` (Decimal or None), ``quote_provenance`` (the quoted rate's ``"live"`` /
    ``"published"`` / ``"proxy"`` / ``"override"``, or None), ``charge_usd`` (Decimal or None),
    ``charge_source`` (``"reported"``, ``"sandbox"`` or ``"computed"``; None while unknown),
    ``error_usd`` (charge − quote, Decimal or None), ``abs_pct_error`` (float percent, NaN
    unless the row is a measured pair; see the module docstring).
    """
    rows = []
    for job in sorted(jobs, key=lambda j: j.created_at):
        quote, charge = job.quote_amount, job.charge_amount
        if quote is None and charge is None:
            continue
        source = charge_source(job)
        error = abs_pct_error(quote, charge) if source in MEASURED_SOURCES else None
        rows.append({
            "job_id": job.id,
            "display_id": job.display_id,
            "model_id": job.model_id,
            "owner": job.owner,
            "owner_name": job.owner_name,
            "created_at": job.created_at,
            "day": job.created_at.date(),
            "status": str(job.status),
            "quote_usd": quote,
            "quote_provenance": (job.quote or {}).get("provenance"),
            "charge_usd": charge,
            "charge_source": source,
            "error_usd": charge - quote if quote is not None and charge is not None else None,
            "abs_pct_error": math.nan if error is None else error,
        })
    return pd.DataFrame(rows, columns=GENERATION_COLUMNS)


def _dsum(values: Iterable[Any]) -> Decimal:
    return sum((v for v in values if isinstance(v, Decimal)), Decimal(0))


def _summary(group: pd.DataFrame) -> dict[str, Any]:
    charged = group[group["charge_usd"].notna()]
    pairs = group[group["abs_pct_error"].notna()]
    computed = charged[charged["charge_source"] == ChargeSource.COMPUTED.value]
    return {
        "generations": len(group),
        "charged": len(charged),
        "quoted_usd": _dsum(charged["quote_usd"]),
        "charged_usd": _dsum(charged["charge_usd"]),
        "computed_usd": _dsum(computed["charge_usd"]),
        "pairs": len(pairs),
        "mean_abs_pct_error": float(pairs["abs_pct_error"].mean()) if len(pairs) else math.nan,
    }


def error_by(jobs: Iterable[Job], by: str) -> pd.DataFrame:
    """Quote against charge grouped by ``by`` (``"day"``, ``"model_id"`` or ``"owner"``),
    sorted by that key.

    Columns: the key (plus ``owner_name``, the latest name seen, when ``by="owner"``),
    ``generations`` (rows with a quote or a charge), ``charged`` (those with a known
    charge), ``quoted_usd`` and ``charged_usd`` (Decimal sums over the *charged* rows, so
    they compare like for like and ``charged_usd`` per day equals :func:`spend_per_day`),
    ``computed_usd`` (the part of ``charged_usd`` that was computed, not reported),
    ``pairs`` (measured pairs) and ``mean_abs_pct_error`` (float percent over the measured
    pairs; NaN when none). Raises ``ValueError`` for another ``by``.
    """
    if by not in GROUPINGS:
        raise ValueError(f"group by one of {', '.join(GROUPINGS)}, not {by!r}")
    table = generation_rows(jobs)
    columns = [by, *(["owner_name"] if by == "owner" else []), *ERROR_COLUMNS]
    out = []
    for key, group in table.groupby(by, sort=True):
        row: dict[str, Any] = {by: key}
        if by == "owner":
            names = [n for n in group["owner_name"] if isinstance(n, str) and n]
            row["owner_name"] = names[-1] if names else None
        row.update(_summary(group))
        out.append(row)
    return pd.DataFrame(out, columns=columns)


@dataclass(frozen=True)
class LedgerTotals:
    """The headline figures of a set of generations (see the module docstring for the
    sets): ``generations``, ``charged`` (how many have a charge), ``quoted_usd`` and
    ``charged_usd`` over the charged ones, ``computed_usd`` (of ``charged_usd``), ``pairs``
    (measured) and ``mean_abs_pct_error`` over them (NaN when none)."""

    generations: int
    charged: int
    quoted_usd: Decimal
    charged_usd: Decimal
    computed_usd: Decimal
    pairs: int
    mean_abs_pct_error: float

    @property
    def reported_usd(self) -> Decimal:
        return self.charged_usd - self.computed_usd


def totals(jobs: Iterable[Job]) -> LedgerTotals:
    """:class:`LedgerTotals` of ``jobs``: the column sums of :func:`error_by` for any
    grouping (the mean error is over every measured pair, not a mean of means)."""
    return LedgerTotals(**_summary(generation_rows(jobs)))


def spend_per_day(jobs: Iterable[Job]) -> pd.DataFrame:
    """Charges per UTC day of ``created_at``, oldest first (generations with a known charge
    only; quotes are not spend here). The same set as :func:`error_by`'s ``charged_usd``.

    Columns: ``day`` (``datetime.date``), ``charged_usd`` (Decimal), ``computed_usd``
    (Decimal, the computed part), ``generations`` (int).
    """
    totals_: dict[date, tuple[Decimal, Decimal, int]] = {}
    for job in jobs:
        charge = job.charge_amount
        if charge is None:
            continue
        day = job.created_at.date()
        total, computed, count = totals_.get(day, (Decimal(0), Decimal(0), 0))
        if charge_source(job) == ChargeSource.COMPUTED:
            computed += charge
        totals_[day] = (total + charge, computed, count + 1)
    rows = [{"day": d, "charged_usd": t, "computed_usd": c, "generations": n}
            for d, (t, c, n) in sorted(totals_.items())]
    return pd.DataFrame(rows, columns=["day", "charged_usd", "computed_usd", "generations"])


# -- turnaround ---------------------------------------------------------------------------
def duration_bucket(duration_s: float) -> str:
    """The label of the clip-duration bucket of ``duration_s`` seconds (``"≤10 s"`` …
    ``">300 s"``)."""
    for upper, label in DURATION_BUCKETS:
        if duration_s <= upper:
            return label
    return DURATION_BUCKETS[-1][1]  # NaN


def wall_time_s(job: Job) -> float | None:
    """Seconds from submit (our clock) to completion (the provider's), for a succeeded
    generation with both times; ``None`` otherwise. Clamped at 0: the two clocks differ a
    little, and Oxen reports whole seconds."""
    if job.status != Status.SUCCEEDED or job.submitted_at is None or job.completed_at is None:
        return None
    return max(0.0, (job.completed_at - job.submitted_at).total_seconds())


def _turnaround_key(job: Job) -> tuple[str, str, str] | None:
    tier = (job.quote or {}).get("tier")
    duration = (job.clip or {}).get("duration_s")
    if tier is None or duration is None:
        return None
    return job.model_id, str(tier), duration_bucket(float(duration))


def turnaround_table(jobs: Iterable[Job]) -> pd.DataFrame:
    """Median wall time of succeeded generations per model × resolution tier × duration
    bucket, sorted by those.

    Columns: ``model_id``, ``tier`` (the quote's resolution tier), ``duration_bucket``
    (clip duration, :data:`DURATION_BUCKETS`), ``samples`` (int), ``median_s`` (float
    seconds, submit → completion).
    """
    samples: dict[tuple[str, str, str], list[float]] = {}
    for job in jobs:
        key, wall = _turnaround_key(job), wall_time_s(job)
        if key is not None and wall is not None:
            samples.setdefault(key, []).append(wall)
    rows = [{"model_id": m, "tier": t, "duration_bucket": b, "samples": len(v),
             "median_s": float(statistics.median(v))} for (m, t, b), v in sorted(samples.items())]
    return pd.DataFrame(rows, columns=["model_id", "tier", "duration_bucket", "samples",
                                       "median_s"])


@dataclass(frozen=True)
class Estimate:
    """A turnaround forecast: ``minutes`` (median rounded up, at least 1), ``samples`` (how
    many finished generations it is the median of) and ``median_s`` (seconds)."""

    minutes: int
    samples: int
    median_s: float

    @property
    def label(self) -> str:
        """E.g. ``"about 3 min (median of 5)"``."""
        return f"about {self.minutes} min (median of {self.samples})"


TurnaroundIndex = dict[tuple[str, str, str], tuple[int, float]]


def turnaround_index(table: pd.DataFrame) -> TurnaroundIndex:
    """A :func:`turnaround_table` as ``{(model_id, tier, duration_bucket): (samples,
    median_s)}``, for looking up many rows (a 1,000-row forecast plan) at dict speed."""
    return {(str(m), str(t), str(b)): (int(n), float(med)) for m, t, b, n, med in
            table[["model_id", "tier", "duration_bucket", "samples", "median_s"]].itertuples(
                index=False)}


def estimate_from_index(
    index: TurnaroundIndex, model_id: str, tier: str, duration_s: float
) -> Estimate | None:
    """:func:`turnaround_estimate` read from a :func:`turnaround_index` built once."""
    hit = index.get((model_id, str(tier), duration_bucket(duration_s)))
    if hit is None or hit[0] < MIN_SAMPLES:
        return None
    samples, median = hit
    return Estimate(max(1, math.ceil(median / 60)), samples, median)


def turnaround_estimate(
    jobs: Iterable[Job], model_id: str, tier: str, duration_s: float
) -> Estimate | None:
    """How long a generation of ``model_id`` at resolution tier ``tier`` on a clip of
    ``duration_s`` seconds is likely to take: the median wall time of earlier succeeded ones
    in the same duration bucket. ``None`` with fewer than :data:`MIN_SAMPLES` samples."""
    return estimate_from_index(turnaround_index(turnaround_table(jobs)), model_id, tier,
                               duration_s)
