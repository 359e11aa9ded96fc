"""What the Generations page shows: a :class:`JobQuery` and the pure functions that apply it.

No Streamlit here, so every rule is unit-testable. "Mine" means rows whose ``owner`` is
the fingerprint of this process's API key (:meth:`studio.config.Settings.owner`), never the
key itself; "Team" means every row in the store.

:func:`load_jobs` asks the store: ``JobStore.search`` does the filtering, ordering (cost
included: the charge, else the quote, a SQL expression over typed money columns) and limit
in SQL; :func:`filter_jobs` is the same rule in Python (the fallback for a store without
``search``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from studio.jobs import Job

SCOPES = {"mine": "Mine", "team": "Team"}
SORTS = {"newest": "Newest first", "oldest": "Oldest first",
         "cost_desc": "Highest cost first", "cost_asc": "Lowest cost first"}


@dataclass(frozen=True)
class JobQuery:
    """Filters and order for the generations list.

    ``scope``: ``"mine"`` or ``"team"``; ``statuses``: empty = every status; ``model_id``:
    ``None`` = every model; ``text``: words that must all appear (case-insensitive) in the
    source label, model id, generation id, error, owner name or job id; ``sort``: a key of
    :data:`SORTS`.
    """

    scope: str = "team"
    statuses: tuple[str, ...] = ()
    model_id: str | None = None
    text: str = ""
    sort: str = "newest"

    @property
    def is_default(self) -> bool:
        return self == JobQuery(scope=self.scope)


def job_cost(job: Job) -> Decimal | None:
    """What a generation cost: the provider's charge when known, else its quote (USD)."""
    for raw in (job.charge_usd, job.quote_usd):
        if raw not in (None, ""):
            try:
                return Decimal(str(raw))
            except InvalidOperation:
                continue
    return None


def _haystack(job: Job) -> str:
    # The same fields, lower-cased the same way, as JobStore.search's SQL, so a search
    # gives the same rows whichever path answers it.
    parts = [(job.source or {}).get("label", ""), job.model_id, job.remote_id or "",
             job.error or "", job.owner_name or "", job.id]
    return "\n".join(str(p) for p in parts).lower()


def matches(job: Job, query: JobQuery, *, me: str) -> bool:
    """True when ``job`` passes every filter of ``query`` (``me`` = this key's owner id)."""
    if query.scope == "mine" and job.owner != me:
        return False
    if query.statuses and job.status not in query.statuses:
        return False
    if query.model_id and job.model_id != query.model_id:
        return False
    words = query.text.lower().split()
    if words:
        hay = _haystack(job)
        return all(w in hay for w in words)
    return True


def sort_jobs(jobs: Iterable[Job], sort: str) -> list[Job]:
    """``jobs`` in the order ``sort`` names; rows without a cost go last in both cost orders,
    ties by newest first."""
    newest = sorted(jobs, key=lambda j: j.created_at, reverse=True)
    if sort == "oldest":
        return newest[::-1]
    if sort in ("cost_desc", "cost_asc"):
        priced = [j for j in newest if job_cost(j) is not None]
        unpriced = [j for j in newest if job_cost(j) is None]
        # sorted() is stable: equal costs keep newest-first order
        priced.sort(key=lambda j: job_cost(j) or Decimal(0), reverse=sort == "cost_desc")
        return priced + unpriced
    return newest


def filter_jobs(jobs: Iterable[Job], query: JobQuery, *, me: str) -> list[Job]:
    """The rows of ``jobs`` that match ``query``, in its order."""
    return sort_jobs((j for j in jobs if matches(j, query, me=me)), query.sort)


def load_jobs(store: Any, query: JobQuery, *, me: str, limit: int | None = None,
              scan_limit: int = 5000) -> list[Job]:
    """The rows of ``store`` matching ``query`` (at most ``limit``), in its order.

    ``store`` is a :class:`studio.store.JobStore`. With ``JobStore.search`` everything runs
    in SQL (same text rule as :func:`matches`, cost = charge else quote, ties newest first);
    stores without ``search`` take the ``scan_limit`` newest matching rows and finish here.
    """
    owner = me if query.scope == "mine" else None
    statuses = list(query.statuses) or None
    by_cost = query.sort in ("cost_desc", "cost_asc")
    search = getattr(store, "search", None)
    if callable(search):
        rows = search(owner=owner, text=query.text.strip() or None, statuses=statuses,
                      model_id=query.model_id, sort="cost" if by_cost else "created_at",
                      descending=query.sort not in ("oldest", "cost_asc"), limit=limit)
        return list(rows)
    rows = store.list(owner=owner, statuses=statuses, model_id=query.model_id,
                      limit=scan_limit)
    out = filter_jobs(rows, query, me=me)
    return out[:limit] if limit else out
