"""Concurrent AWS calls: per-actor reads for the tenant-wide views, and one call beside another.

Workers and executions are keyed by actor, so a tenant-wide view issues one query per actor. They are
independent reads; running a few at once turns N round trips into about N / FANOUT_THREADS (boto3
clients are thread-safe). Results keep the order of the inputs.

``beside`` runs one call on a process-wide pool while the request's thread makes another, when neither
depends on the other (sending a message: recording the enqueue while the worker check runs). The caller
always waits for the result before answering, so nothing outlives the request (no background work a
Lambda freeze could lose).
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

FANOUT_THREADS = 8  # concurrent queries per request; DynamoDB and moto both serve these in parallel
SIDE_THREADS = 16  # process-wide threads for ``beside`` (gunicorn serves 16 requests per process at once)
_side: ThreadPoolExecutor | None = None
_side_lock = threading.Lock()


def beside(fn: Callable[..., R], *args: Any) -> Future[R]:
    """Start ``fn(*args)`` on the shared pool; the caller must wait for ``result()`` before answering.
    A task never waits for another pool task, so a full pool only queues, never deadlocks."""
    global _side
    with _side_lock:
        if _side is None:
            _side = ThreadPoolExecutor(max_workers=SIDE_THREADS, thread_name_prefix="beside")
        return _side.submit(fn, *args)


def _forget_pool() -> None:
    """A forked child starts without the parent's threads: it makes its own pool on first use."""
    global _side, _side_lock
    _side, _side_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


def each(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``[fn(item) for item in items]``, several at a time; the first exception propagates."""
    if len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(FANOUT_THREADS, len(items))) as pool:
        return list(pool.map(fn, items))
