"""How long the start requests that messages wait for sat in their pool's wake queue.

A message to an actor without a live worker sends a start request to the pool's wake queue
(``chalicelib/services/workers.py``); a host reads that queue before its command queue
(``runners/host/daemon.py``). The time a request spent there, from SQS's ``SentTimestamp`` to the host's
receive, is time the message's sender waits on top of the container start: the operator's dashboard shows
it per pool (``chalicelib/services/insights.py``). SQS itself tells a queue's age only through CloudWatch
(``ApproximateAgeOfOldestMessage``, which the emulator does not keep), so each host reports what it saw:
the longest wait among the requests it received in the last minute, carried by its heartbeat record.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

WINDOW_SECONDS = 60.0


class WakeWaits:
    def __init__(self, window: float = WINDOW_SECONDS, clock: Callable[[], float] = time.time) -> None:
        self._window = window
        self._clock = clock
        self._seen: list[tuple[float, str, float]] = []  # (received at, pool, seconds waited)
        self._lock = threading.Lock()
        self.queues: dict[str, str] = {}  # wake queue URL -> its pool (the host sets it)

    def note(self, url: str, sent_at: float | None) -> None:
        """A start request received from ``url``: counted when that is a wake queue."""
        pool = self.queues.get(url)
        if pool is None or sent_at is None:
            return
        now = self._clock()
        with self._lock:
            self._seen.append((now, pool, max(0.0, now - sent_at)))

    def longest(self) -> dict[str, float]:
        """Per pool, the longest wait among the requests received within the window."""
        cutoff = self._clock() - self._window
        out: dict[str, float] = {}
        with self._lock:
            self._seen = [entry for entry in self._seen if entry[0] >= cutoff]
            for _, pool, waited in self._seen:
                out[pool] = round(max(out.get(pool, 0.0), waited), 3)
        return out
