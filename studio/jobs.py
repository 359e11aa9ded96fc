"""Compatibility shim: the job store moved to :mod:`studio.store` (one database for every
piece of team state). ``from studio.jobs import Job, JobStore`` keeps working until every
caller imports from :mod:`studio.store`."""

from studio.store import *  # noqa: F403
from studio.store import __all__ as _store_all
from studio.store.generations import _resolve  # noqa: F401  (tests of the URL rules)
from studio.store.schema import MIGRATIONS as _MIGRATIONS  # noqa: F401
from studio.store.schema import apply_migrations as _apply_migrations  # noqa: F401

__all__ = list(_store_all)
