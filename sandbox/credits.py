"""Prepaid credit balances (``--credits USD``): when a paid request is refused with 402.

Owns the balance rule. Without ``--credits`` there is no limit. With it, every user starts the
process with that many US dollars (``Decimal``), and

    balance = credits − Σ cost of the user's succeeded generations − Σ holds

where a *hold* is the expected charge (:func:`sandbox.runner.estimate`, the rule that later sets
``cost``) of a generation that was admitted and is not terminal yet. Holding the quote while
a job runs is what makes two quick submits against a small balance refuse the second one,
as prepaid billing does (ltx.md §8: 402 "when the estimated cost exceeds the balance"). A hold
ends by itself when its row reaches a terminal state: a success is then counted through its
``cost``, a failure or cancel costs nothing (failed jobs are not billed, ltx.md §8).

Costs are read from the store, so generations charged by an earlier run over the same data dir
count too; holds live in memory (a restart fails every active row anyway).

When the quote is taken: LTX fetches and probes the input at submit time anyway, so its
quote is exact and a short balance is a 402 up front. Oxen accepts a queue request before
reading the input (oxen.md §3.3); the sandbox probes the input at enqueue only when it is a
file this sandbox serves (a local header read, a few ms) and quotes it then (402 up front,
``num_generations`` × the quote). Otherwise — an external URL, or parameters that cannot be
priced yet — the generation is admitted when its worker has fetched and probed the input, and
a short balance fails it with ``error_message`` "Insufficient credits: ..." (the other way
oxen.md §12 says a low balance shows up).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from decimal import Decimal

from sandbox.store import ACTIVE, API_LTX, OXEN_APIS, Filters, GenerationStore

_ALL_APIS = (*OXEN_APIS, API_LTX)
_SUCCEEDED = Filters(statuses=("succeeded",))
# A hold whose row never appeared (the request failed between admit and insert, which run with
# no await in between) stops counting after this many seconds.
ORPHAN_HOLD_S = 60.0


class InsufficientCredits(Exception):
    """The request's quote is more than the user's balance."""

    def __init__(self, required: Decimal, balance: Decimal):
        super().__init__(f"required {required}, balance {balance}")
        self.required = required
        self.balance = balance


def usd(amount: Decimal) -> str:
    """``$0.1234`` style, as the dashboard shows quotes."""
    return f"${format(amount, 'f')}"


class Ledger:
    """Balances for ``credits_usd`` per user (``None``: unlimited). Thread-safe."""

    def __init__(self, store: GenerationStore, credits_usd: Decimal | None):
        self.store = store
        self.credits = credits_usd
        self._lock = threading.Lock()
        # generation_id → (user_id, amount, time.monotonic() of the admit)
        self._holds: dict[str, tuple[str, Decimal, float]] = {}

    @property
    def enabled(self) -> bool:
        return self.credits is not None

    def admit(self, user_id: str, amounts: dict[str, Decimal]) -> None:
        """Hold ``amounts`` (generation id → quote) for ``user_id`` if the balance covers their
        sum; raise :class:`InsufficientCredits` otherwise. Call before the rows are inserted
        (a hold without a row counts until :meth:`release`)."""
        if self.credits is None:
            return
        required = sum(amounts.values(), Decimal(0))
        with self._lock:
            balance = self._balance(user_id)
            if required > balance:
                raise InsufficientCredits(required, balance)
            now = time.monotonic()
            for generation_id, amount in amounts.items():
                self._holds[generation_id] = (user_id, amount, now)

    def release(self, generation_ids: Iterable[str]) -> None:
        """Drop holds whose rows were never created (the request failed after :meth:`admit`)."""
        with self._lock:
            for generation_id in generation_ids:
                self._holds.pop(generation_id, None)

    def held(self, generation_id: str) -> bool:
        with self._lock:
            return generation_id in self._holds

    def balance(self, user_id: str) -> Decimal | None:
        """The user's balance now; ``None`` when there is no credit limit."""
        if self.credits is None:
            return None
        with self._lock:
            return self._balance(user_id)

    def balances(self) -> dict[str, str]:
        """Balance per username that has generations or holds (for ``/_sandbox/stats``)."""
        if self.credits is None:
            return {}
        users = self.store.users()
        with self._lock:
            return {name: format(self._balance(uid), "f") for uid, name in sorted(users.items())}

    def _balance(self, user_id: str) -> Decimal:
        assert self.credits is not None
        # Holds first, then costs: a row that succeeds in between is counted twice (briefly
        # too low a balance), never not at all.
        held = Decimal(0)
        now = time.monotonic()
        for generation_id, (owner, amount, since) in list(self._holds.items()):
            if owner != user_id:
                continue
            gen = self.store.get(generation_id)
            terminal = gen is not None and gen.status not in ACTIVE
            if terminal or (gen is None and now - since > ORPHAN_HOLD_S):
                del self._holds[generation_id]  # terminal: its cost (if any) is in the store
                continue
            held += amount
        costs = self.store.costs(user_id, _ALL_APIS, _SUCCEEDED)
        return self.credits - sum((Decimal(c) for c in costs), Decimal(0)) - held
