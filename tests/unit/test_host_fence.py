"""Host-wide fencing: a host that cannot reach the store kills every container and takes no work until a
call gets through again (runners.fence, runners.contact)."""
from __future__ import annotations

import pytest

from chalicelib.errors import Unavailable
from runners.contact import StoreContact, heartbeat_period
from runners.fence import Fence


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _fence(verdicts: list[bool], killed: list[str], clock: Clock | None = None) -> Fence:
    return Fence(killed.append, lease_seconds=10.0, on_cut_off=verdicts.append, clock=clock or Clock())


def test_a_host_out_of_contact_fences_every_container_at_once() -> None:
    killed: list[str] = []
    verdicts: list[bool] = []
    fence = _fence(verdicts, killed)
    fence.watch("e1", "c1", deadline=5000.0)  # its own lease is far from over
    fence.watch("e2", "c2", deadline=5000.0)
    fence.watch("e3", None, deadline=5000.0)  # claimed, no container yet
    assert fence.check(now=1007.9) == [] and not fence.cut_off.is_set()
    assert sorted(fence.check(now=1008.0)) == ["e1", "e2", "e3"]  # lease 10 s minus the 2 s margin
    assert sorted(killed) == ["c1", "c2"] and verdicts == [True] and fence.cut_off.is_set()
    assert fence.attach("e3", "c3") is False and killed[-1] == "c3"  # its container dies on arrival
    assert fence.check(now=1100.0) == [] and verdicts == [True]  # fenced once


def test_while_cut_off_new_attempts_start_fenced_and_contact_restores_the_host() -> None:
    killed: list[str] = []
    verdicts: list[bool] = []
    clock = Clock()
    fence = _fence(verdicts, killed, clock)
    fence.watch("old", "c1", deadline=5000.0)
    fence.check(now=1009.0)
    fence.watch("new", None, deadline=5000.0)
    assert fence.fenced("new")
    clock.now = 1020.0
    fence.contact()
    assert verdicts == [True, False] and not fence.cut_off.is_set()
    assert fence.fenced("old") and fence.fenced("new")  # attempts fenced stay fenced: they write nothing
    fence.watch("later", "c9", deadline=5000.0)
    assert not fence.fenced("later") and fence.check(now=1027.0) == []
    assert fence.check(now=1028.0) == ["later"]  # silence again: fenced again


def test_lease_renewals_count_as_contact() -> None:
    clock = Clock()
    fence = _fence([], [], clock)
    fence.watch("e1", "c1", deadline=5000.0)
    clock.now = 1100.0
    fence.renewed("e1", 5000.0)  # no heartbeat for 100 s, but this renewal went through
    assert fence.check() == [] and not fence.cut_off.is_set()


def test_a_fence_without_a_lease_never_fences_the_host() -> None:
    fence = Fence(lambda _c: None)
    fence.watch("e1", "c1", deadline=5000.0)
    assert fence.check(now=4000.0) == [] and not fence.cut_off.is_set()


def test_store_contact_re_registers_after_a_cut() -> None:
    beats: list[str] = []
    failing = [True]

    def beat() -> None:
        if failing[0]:
            raise Unavailable("no answer")
        beats.append("RUNNING")

    clock = Clock()
    fence = Fence(lambda _c: None, lease_seconds=10.0, clock=clock)
    contact = StoreContact(beat, fence, period=1.0)
    clock.now = 1050.0
    assert contact.beat_once() is False
    fence.check()  # 50 s without an answer
    assert fence.cut_off.is_set()
    failing[0] = False
    assert contact.beat_once() is True and not fence.cut_off.is_set()
    assert beats == ["RUNNING", "RUNNING"]  # the write that restored contact, then the re-registration


@pytest.mark.parametrize(("host", "lease", "period"), [(5.0, 60.0, 5.0), (1.0, 6.0, 1.0), (5.0, 6.0, 1.2)])
def test_the_heartbeat_proves_contact_several_times_per_deadline(host: float, lease: float, period: float) -> None:
    assert heartbeat_period(host, lease) == pytest.approx(period)
