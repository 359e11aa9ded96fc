"""The store: one database for everything a team shares (SQLite by default, PostgreSQL via
``DATABASE_URL`` for replicas).

- :mod:`studio.store.types` — :class:`Status`, :class:`ChargeSource` and the column types
  (money ``Decimal``/``NUMERIC``, aware UTC times, JSON).
- :mod:`studio.store.schema` — the tables and the ordered migrations.
- :mod:`studio.store.generations` — :class:`Job` and :class:`JobStore` (generations, spend
  as one SQL aggregate, the exclusive transaction the budget check runs in, leases, the
  upload cache).
- :mod:`studio.store.team` — budget caps, rate overrides and their audit, presets, plans.
- :mod:`studio.store.legacy` — the one-time import of the first release's data-dir files.
"""

from studio.store.generations import (
    SEARCH_SORTS,
    Exclusive,
    Job,
    JobStore,
    SpendSums,
    job_to_dict,
    utcnow,
    with_changes,
)
from studio.store.schema import SCHEMA_VERSION, jobs_table, uploads_table
from studio.store.types import (
    ACTIVE_STATUSES,
    ALL_STATUSES,
    POLLED_STATUSES,
    SPEND_FREE,
    SPEND_IN_FLIGHT,
    TERMINAL_STATUSES,
    ChargeSource,
    Status,
    usd_amount,
)

Store = JobStore  # the name DESIGN.md uses; JobStore stays for the first release's callers

__all__ = [
    "ACTIVE_STATUSES",
    "ALL_STATUSES",
    "POLLED_STATUSES",
    "SCHEMA_VERSION",
    "SEARCH_SORTS",
    "SPEND_FREE",
    "SPEND_IN_FLIGHT",
    "TERMINAL_STATUSES",
    "ChargeSource",
    "Exclusive",
    "Job",
    "JobStore",
    "SpendSums",
    "Status",
    "Store",
    "job_to_dict",
    "jobs_table",
    "uploads_table",
    "usd_amount",
    "utcnow",
    "with_changes",
]
