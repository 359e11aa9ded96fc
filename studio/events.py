"""The Oxen completion stream (``GET /api/events``, oxen.md §10) as a fast path for tracking.

One connection per process and key. ``media_generation_completed`` events mark the matching
job due at once, so the tracker's next pass reads the full row (result URLs, cost); while the
stream is healthy, polling drops to a slow safety net. Events are not replayed after a
disconnect, so every (re)connect makes all in-flight Oxen jobs due once. Cancellations emit
no event and are found by polling. Reconnects back off 1 s → 30 s with jitter; the read
timeout (45 s) is three keep-alive intervals (Oxen sends ``: keep-alive`` every ~15 s).
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable
from typing import Any

import requests
import sseclient

from studio.errors import StudioError
from studio.jobs import JobStore
from studio.store import Status

log = logging.getLogger(__name__)

EVENT = "media_generation_completed"
READ_TIMEOUT_S = 45.0


def backoff_s(failures: int, rng: random.Random | None = None) -> float:
    """Seconds before reconnect number ``failures``: 1, 2, 4 … capped at 30, plus ≤ 50 % jitter."""
    base = min(30.0, 2.0 ** max(0, failures - 1))
    return base + (rng or random).uniform(0, base / 2)


class CompletionStream:
    """Listens to ``/api/events`` for the Oxen client that ``open_client()`` returns.

    ``on_completion(generation_id, payload)`` runs for every completion event;
    ``on_connect()`` after every successful (re)connect. ``healthy`` is True while connected.
    """

    def __init__(self, open_client: Callable[[], Any],
                 on_completion: Callable[[str, dict[str, Any]], None],
                 on_connect: Callable[[], None]):
        self.open_client = open_client
        self.on_completion = on_completion
        self.on_connect = on_connect
        self.healthy = False
        self.connects = 0
        self.events = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._response: requests.Response | None = None

    def start(self) -> CompletionStream:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="oxen-events", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 1.0) -> None:
        """Stop listening: the stream's socket is shut (a read blocked on it returns at once;
        closing it from here would wait for the reading thread) and the thread joined for up
        to ``timeout`` seconds."""
        from studio.tracking.downloads import abort

        self._stop.set()
        abort(self._response)
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                client = self.open_client()
                self._response = client._request(
                    "GET", "/api/events", stream=True, headers={"Accept": "text/event-stream"},
                    timeout=(client.timeout[0], READ_TIMEOUT_S), what="the event stream")
                self.healthy, failures = True, 0
                self.connects += 1
                self.on_connect()
                # chunk_size=None hands bytes over as they arrive (no 128-byte buffering)
                chunks = self._response.iter_content(chunk_size=None)
                for event in sseclient.SSEClient(chunks).events():
                    if self._stop.is_set():
                        break
                    if event.event != EVENT:
                        continue  # other event types share the stream (oxen.md §10)
                    try:
                        payload = json.loads(event.data)
                    except ValueError:
                        continue
                    if payload.get("generation_id"):
                        self.events += 1
                        self.on_completion(str(payload["generation_id"]), payload)
            except (StudioError, requests.RequestException, OSError) as exc:
                log.info("event stream interrupted: %s", exc)
            except Exception as exc:  # never let the listener die; stop() closes mid-read
                if not self._stop.is_set():
                    log.warning("event stream failed: %s: %s", type(exc).__name__, exc)
            finally:
                self.healthy = False
                if self._response is not None:
                    self._response.close()
            if not self._stop.is_set():
                failures += 1
                self._stop.wait(backoff_s(failures))


def mark_due(store: JobStore, generation_id: str) -> bool:
    """Make the in-flight job with ``generation_id`` due now; False when none matches."""
    for job in store.list(statuses=[Status.QUEUED, Status.PROCESSING]):
        if job.remote_id == generation_id:
            store.update(job.id, next_poll_at=0.0)
            return True
    return False


def mark_all_oxen_due(store: JobStore) -> int:
    """After a (re)connect: events sent while disconnected are lost, so poll everything once."""
    jobs = [j for j in store.list(statuses=[Status.QUEUED, Status.PROCESSING])
            if j.provider == "oxen"]
    for job in jobs:
        store.update(job.id, next_poll_at=0.0)
    return len(jobs)
