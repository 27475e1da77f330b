"""The duty scheduler runs each duty in its own thread and renews the lease of a pass still running
(issue 16: a long reconciler pass neither delays the other duties nor loses its lease halfway)."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from moto import mock_aws

from chalicelib.wiring.backend import Backend
from chalicelib.wiring.settings import Settings
from local import bootstrap
from runners.duties.scheduler import Duty, DutyScheduler


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[Backend]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        import boto3

        from chalicelib.adapters import aws

        monkeypatch.setattr(aws, "client", lambda service, _s: boto3.client(service, region_name="us-east-1"))
        settings = Settings(resource_prefix=f"unit{time.time_ns()}")
        bootstrap.create_tables(settings)
        yield Backend.from_settings(settings)


def _wait(check: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_long_pass_neither_blocks_the_other_duties_nor_loses_its_lease(backend: Backend) -> None:
    clock = [1000.0]
    release, started = threading.Event(), threading.Event()
    quick_runs: list[float] = []

    def long_pass(_b: Backend, _now: float) -> None:
        started.set()
        release.wait(30)

    scheduler = DutyScheduler(backend, "h1", clock=lambda: clock[0])
    scheduler.register(Duty("slow", 1.0, long_pass))
    scheduler.register(Duty("quick", 1.0, lambda _b, now: quick_runs.append(now)))
    scheduler.start()
    try:
        _wait(started.is_set, "the long pass to start")
        for step in range(1, 4):  # the clock moves on while the long pass runs: the other duty keeps going
            seen = len(quick_runs)
            clock[0] = 1000.0 + step
            _wait(lambda seen=seen: len(quick_runs) > seen, "the quick duty's next pass")
        lease = Duty("slow", 1.0, long_pass).lease_seconds(backend.settings.duty_lease_seconds)
        clock[0] = 1000.0 + lease * 0.9  # most of the lease gone, the pass still running
        # The keeper thread renews it while the pass runs (_held_until: the lease's end as last written).
        _wait(lambda: scheduler._held_until.get("slow", 0.0) > 1000.0 + lease, "the keeper to renew the lease")
        assert not backend.duties.acquire("slow", "h2", 1000.0 + lease * 1.5, lease)  # still ours
    finally:
        release.set()
        scheduler.stop()
