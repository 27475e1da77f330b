"""The wall clock of the execution protocol: lease deadlines, claims, re-sends.

One seam instead of ``time.time()`` scattered through the storage and runner code, so that the model-based
tests (tests/model/) can expire a lease by moving the clock forward instead of sleeping through it.
Production code never replaces the source.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_source: Callable[[], float] = time.time


def now() -> float:
    """Epoch seconds, from the current source (the system clock unless a test replaced it)."""
    return _source()


@contextmanager
def replaced(source: Callable[[], float]) -> Iterator[None]:
    """Read the protocol's time from ``source`` for the duration of the block (tests only)."""
    global _source
    previous, _source = _source, source
    try:
        yield
    finally:
        _source = previous
