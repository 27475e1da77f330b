"""Concurrent per-actor reads for the tenant-wide views (search, utilization, admin).

Workers and executions are keyed by actor, so a tenant-wide view issues one query per actor. They are
independent reads; running a few at once turns N round trips into about N / FANOUT_THREADS (boto3
clients are thread-safe). Results keep the order of the inputs.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

FANOUT_THREADS = 8  # concurrent queries per request; DynamoDB and moto both serve these in parallel


def each(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``[fn(item) for item in items]``, several at a time; the first exception propagates."""
    if len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(FANOUT_THREADS, len(items))) as pool:
        return list(pool.map(fn, items))
