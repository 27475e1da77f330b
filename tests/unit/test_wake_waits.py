"""The wake-queue waits a runner host reports (runners/host/wake_waits.py): per pool, the longest of the last
minute, only for the wake queues it was told about."""
from __future__ import annotations

from runners.host.wake_waits import WakeWaits


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_longest_wait_per_pool_within_the_window() -> None:
    clock = Clock()
    waits = WakeWaits(window=60, clock=clock)
    waits.queues = {"wake-default": "default", "wake-gpu": "gpu"}
    waits.note("wake-default", 999.5)
    waits.note("wake-default", 997.0)
    waits.note("wake-gpu", 1000.25)
    waits.note("commands-default", 900.0)  # not a wake queue: not counted
    waits.note("wake-default", None)  # no SentTimestamp: nothing to count
    assert waits.longest() == {"default": 3.0, "gpu": 0.0}
    clock.now += 61
    waits.note("wake-gpu", clock.now - 1.5)
    assert waits.longest() == {"gpu": 1.5}  # the default pool's waits left the window


def test_a_clock_skew_never_reports_a_negative_wait() -> None:
    clock = Clock()
    waits = WakeWaits(clock=clock)
    waits.queues = {"wake-default": "default"}
    waits.note("wake-default", clock.now + 2)  # SQS's clock a little ahead of the host's
    assert waits.longest() == {"default": 0.0}
