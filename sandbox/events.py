"""Per-user Server-Sent Events: the ``GET /api/events`` stream (oxen.md §10).

Owns subscriptions and the wire framing. Semantics copied from the real service: broadcast
only to subscribers connected at that moment, no buffering or replay, one
``media_generation_completed`` event per generation that reaches ``succeeded`` or ``failed``
(nothing for ``cancelled``), and a ``: keep-alive`` comment when idle (every 15 s on Oxen).

Job workers publish from pool threads; each subscriber's queue lives on the event loop that
serves its response, so :meth:`EventBroker.publish` hops threads with
``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

COMPLETED = "media_generation_completed"
# A subscriber this far behind is not reading (e.g. its response never started); drop it
# rather than let its queue grow for the life of the process.
MAX_PENDING = 1000

Item = tuple[str, dict[str, Any]] | None


@dataclass(eq=False)
class Subscription:
    user_id: str
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Item] = field(default_factory=lambda: asyncio.Queue(MAX_PENDING))


class EventBroker:
    """Thread-safe fan-out of events to the current subscribers of each user."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: dict[str, list[Subscription]] = {}
        self._closed = False

    def subscribe(self, user_id: str) -> Subscription:
        """Register a subscriber; call from the event loop that will read its queue."""
        sub = Subscription(user_id=user_id, loop=asyncio.get_running_loop())
        with self._lock:
            self._subs.setdefault(user_id, []).append(sub)
            if self._closed:
                sub.queue.put_nowait(None)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            subs = self._subs.get(sub.user_id, [])
            if sub in subs:
                subs.remove(sub)
            if not subs:
                self._subs.pop(sub.user_id, None)

    def publish(self, user_id: str, event: str, data: dict[str, Any]) -> int:
        """Send ``event`` with JSON ``data`` to ``user_id``'s subscribers; returns how many.

        Safe to call from any thread. Events for users with no open stream are dropped, as on
        Oxen (no replay).
        """
        with self._lock:
            subs = list(self._subs.get(user_id, ()))
        for sub in subs:
            self._put(sub, (event, data))
        return len(subs)

    def close(self) -> None:
        """End every open stream (used at shutdown so connections can drain)."""
        with self._lock:
            self._closed = True
            subs = [s for group in self._subs.values() for s in group]
        for sub in subs:
            self._put(sub, None)

    def _put(self, sub: Subscription, item: Item) -> None:
        try:
            sub.loop.call_soon_threadsafe(self._offer, sub, item)
        except RuntimeError:  # the subscriber's loop is closed: nobody is listening any more
            self.unsubscribe(sub)

    def _offer(self, sub: Subscription, item: Item) -> None:
        """Runs on the subscriber's loop."""
        if item is None:  # end of stream must get through even to a full queue
            while sub.queue.full():
                sub.queue.get_nowait()
            sub.queue.put_nowait(None)
            return
        try:
            sub.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.unsubscribe(sub)

    def subscriber_count(self, user_id: str) -> int:
        with self._lock:
            return len(self._subs.get(user_id, ()))


def format_event(event: str, data: dict[str, Any]) -> str:
    """One SSE frame: ``event:`` line, single-line JSON ``data:`` line, blank line."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def stream(
    broker: EventBroker, sub: Subscription, *, keepalive_s: float
) -> AsyncIterator[str]:
    """The body of one ``text/event-stream`` response for an existing subscription.

    Yields frames as events arrive and ``: keep-alive`` after ``keepalive_s`` idle seconds;
    ends when the broker closes. Unsubscribes when the client goes away (Starlette cancels the
    generator on disconnect).
    """
    try:
        while True:
            try:
                item = await asyncio.wait_for(sub.queue.get(), timeout=keepalive_s)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if item is None:
                return
            yield format_event(*item)
    finally:
        broker.unsubscribe(sub)
