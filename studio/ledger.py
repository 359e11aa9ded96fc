"""The ledger: quotes against charges, spend over time and turnaround, read from job rows.

Owns the accounting views of the job store: per generation what was quoted and what was
charged, the quote error by day, model and owner, spend per day, and how long generations of
a kind took (the turnaround forecast). Everything is a pure function over a list of
:class:`~studio.jobs.Job` (``JobStore.list()``); tables are pandas DataFrames whose columns
are documented on each function. Money stays :class:`~decimal.Decimal` (object columns);
ratios and durations are floats.

Quote error of one generation (defined here, used everywhere below)::

    abs_pct_error = |charge − quote| / charge × 100

i.e. the absolute error *relative to what was actually charged*, in percent. It is defined
only when both are known, the charge is above zero and the charge was *reported by the
provider*: LTX reports no charge, so its charge is computed from the same input-tier rule as
its quote (``charge_source == "computed"``) and holding the two against each other would
measure nothing. A "mean absolute % error" (MAPE) is the mean over the measured pairs only.

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

GENERATION_COLUMNS = ["job_id", "model_id", "owner", "owner_name", "created_at", "day", "status",
                      "quote_usd", "quote_provenance", "charge_usd", "charge_source",
                      "error_usd", "abs_pct_error"]
ERROR_COLUMNS = ["generations", "pairs", "quoted_usd", "charged_usd", "mean_abs_pct_error"]
GROUPINGS = ("day", "model_id", "owner")
# Duration buckets of the source clip for the turnaround forecast: (upper bound s, label).
DURATION_BUCKETS: tuple[tuple[float, str], ...] = (
    (10, "≤10 s"), (30, "≤30 s"), (60, "≤60 s"), (300, "≤300 s"), (math.inf, ">300 s"),
)
MIN_SAMPLES = 3  # fewer finished generations than this give no forecast




def abs_pct_error(quote: Decimal | None, charge: Decimal | None) -> float | None:
    """``|charge − quote| / charge × 100`` (percent), ``None`` unless both are known and the
    charge is above zero."""
    if quote is None or charge is None or charge <= 0:
        return None
    return float(abs(charge - quote) / charge * 100)


# -- quote vs charge ----------------------------------------------------------------------
def generation_rows(jobs: Iterable[Job]) -> pd.DataFrame:
    """One row per generation that has a quote or a charge, oldest first.

    Columns: ``job_id``, ``model_id``, ``owner`` (key fingerprint), ``owner_name`` (str or
    None), ``created_at`` (aware UTC datetime), ``day`` (UTC ``datetime.date``), ``status``,
    ``quote_usd`` (Decimal or None), ``quote_provenance`` (the quoted rate's ``"live"`` /
    ``"published"`` / ``"proxy"`` / ``"override"``, or None), ``charge_usd`` (Decimal or None),
    ``charge_source`` (``"provider"``: reported by Oxen; ``"computed"``: LTX, from its tier
    rule; None while unknown), ``error_usd`` (charge − quote, Decimal or None),
    ``abs_pct_error`` (float percent, NaN when undefined or the charge is computed; see the
    module docstring).
    """
    rows = []
    for job in sorted(jobs, key=lambda j: j.created_at):
        quote, charge = job.quote_amount, job.charge_amount
        if quote is None and charge is None:
            continue
        source = None if charge is None else ("provider" if job.provider == "oxen"
                                              else "computed")
        error = abs_pct_error(quote, charge) if source == "provider" else None
        rows.append({
            "job_id": job.id,
            "model_id": job.model_id,
            "owner": job.owner,
            "owner_name": job.owner_name,
            "created_at": job.created_at,
            "day": job.created_at.date(),
            "status": job.status,
            "quote_usd": quote,
            "quote_provenance": (job.quote or {}).get("provenance"),
            "charge_usd": charge,
            "charge_source": source,
            "error_usd": charge - quote if quote is not None and charge is not None else None,
            "abs_pct_error": math.nan if error is None else error,
        })
    return pd.DataFrame(rows, columns=GENERATION_COLUMNS)


def error_by(jobs: Iterable[Job], by: str) -> pd.DataFrame:
    """Quote vs charge grouped by ``by`` (``"day"``, ``"model_id"`` or ``"owner"``), sorted by
    that key.

    Columns: the key (plus ``owner_name``, the latest name seen, when ``by="owner"``),
    ``generations`` (rows with a quote or a charge), ``pairs`` (rows with both and a charge
    above 0), ``quoted_usd`` and ``charged_usd`` (Decimal sums over the pairs, so they compare
    like for like), ``mean_abs_pct_error`` (float percent over the pairs; NaN when none).
    Raises ``ValueError`` for another ``by``.
    """
    if by not in GROUPINGS:
        raise ValueError(f"group by one of {', '.join(GROUPINGS)}, not {by!r}")
    table = generation_rows(jobs)
    columns = [by, *(["owner_name"] if by == "owner" else []), *ERROR_COLUMNS]
    out = []
    for key, group in table.groupby(by, sort=True):
        pairs = group[group["abs_pct_error"].notna()]
        row: dict[str, Any] = {by: key}
        if by == "owner":
            names = [n for n in group["owner_name"] if isinstance(n, str) and n]
            row["owner_name"] = names[-1] if names else None
        row.update(
            generations=len(group),
            pairs=len(pairs),
            quoted_usd=sum(pairs["quote_usd"], Decimal(0)),
            charged_usd=sum(pairs["charge_usd"], Decimal(0)),
            mean_abs_pct_error=float(pairs["abs_pct_error"].mean()) if len(pairs) else math.nan,
        )
        out.append(row)
    return pd.DataFrame(out, columns=columns)


def spend_per_day(jobs: Iterable[Job]) -> pd.DataFrame:
    """Charges per UTC day of ``created_at``, oldest first (generations with a known charge
    only; quotes are not spend here).

    Columns: ``day`` (``datetime.date``), ``charged_usd`` (Decimal), ``generations`` (int).
    """
    totals: dict[date, tuple[Decimal, int]] = {}
    for job in jobs:
        charge = job.charge_amount
        if charge is None:
            continue
        day = job.created_at.date()
        total, count = totals.get(day, (Decimal(0), 0))
        totals[day] = (total + charge, count + 1)
    rows = [{"day": d, "charged_usd": t, "generations": n} for d, (t, n) in sorted(totals.items())]
    return pd.DataFrame(rows, columns=["day", "charged_usd", "generations"])


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
    if job.status != "succeeded" or job.submitted_at is None or job.completed_at is None:
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
