"""Messages a worker received but has not claimed yet (prefetch), handed back at once when asked."""
from __future__ import annotations

import logging
import threading
from collections import deque

from chalicelib.adapters.queues import Queues, Received
from chalicelib.domain.errors import AbacoError

LOG = logging.getLogger("abaco.runner")


class Prefetched:
    """Messages received but not yet claimed. Thread-safe: the host hands them back (visibility 0) the
    moment it is asked to stop, even while the worker thread is busy with a container."""

    def __init__(self, queues: Queues, inbox: str) -> None:
        self._queues = queues
        self._inbox = inbox
        self._items: deque[Received] = deque()
        self._lock = threading.Lock()

    def add(self, items: list[Received]) -> None:
        with self._lock:
            self._items.extend(items)

    def pop(self) -> Received | None:
        with self._lock:
            return self._items.popleft() if self._items else None

    def holding(self) -> bool:
        with self._lock:
            return bool(self._items)

    def extend(self, seconds: int) -> None:
        with self._lock:
            receipts = [r.receipt for r in self._items]
        if receipts:
            self._queues.set_visibility_many(self._inbox, receipts, seconds)

    def release_all(self) -> int:
        with self._lock:
            receipts = [r.receipt for r in self._items]
            self._items.clear()
        if receipts:
            try:
                self._queues.set_visibility_many(self._inbox, receipts, 0)
            except AbacoError as exc:  # they come back after their visibility timeout anyway
                LOG.warning("could not hand back %d message(s): %s", len(receipts), exc)
        return len(receipts)
