"""Host-wide fencing: a host that cannot reach the store kills every container and takes no work until a
call gets through again (runners.fence, runners.host.contact)."""
from __future__ import annotations

import threading
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest

from chalicelib.adapters.queues import Received
from chalicelib.adapters.storage.executions import ClaimRefused, ExecutionStore
from chalicelib.adapters.storage.workers import WorkerStore
from chalicelib.domain.errors import Unavailable
from chalicelib.domain.models import Actor, Execution, Worker, WorkerStatus
from chalicelib.domain.queue_messages import InboxMessage, StartWorkerCommand
from chalicelib.wiring.backend import Backend
from local import bootstrap
from runners.fence import Fence
from runners.host.contact import StoreContact, heartbeat_period
from runners.host.daemon import RunnerHost
from runners.host.worker import Prefetched, WorkerThread
from runners.metrics import standard_registry
from runners.pipeline import lease as lease_module
from runners.pipeline.claim import Claims, Outcome
from runners.pipeline.consumer import InboxConsumer
from runners.pipeline.lease import Lease
from tests.unit.test_protocol import backend  # noqa: F401 (fixture)


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


# --- a host cut off from the store while the queues still answer it (the fault proxy's DynamoDB-only cut) ---

class UnreachableWorkers(WorkerStore):
    """The workers table of a store that does not answer."""

    def find(self, actor_dbid: str, worker_id: str) -> Worker | None:
        raise Unavailable("DynamoDB get_item: read timeout")


def _command_host(backend: Backend) -> tuple[RunnerHost, str]:  # noqa: F811
    """A runner host (not started) with one start request waiting in its pool's command queue."""
    bootstrap.create_queues(backend.settings)
    host = RunnerHost(backend, runner_id="r1")
    url = backend.queues.command_url("default")
    backend.workers.create(Worker(tenant="T", actor_id="A", id="A-w1", image="abacosamples/noop"))
    backend.queues.send_command("default", StartWorkerCommand(tenant="T", actor_id="A", worker_id="A-w1",
                                                              image="abacosamples/noop", revision=1))
    return host, url


def test_a_fenced_host_hands_back_the_start_requests_its_poll_brings(backend: Backend) -> None:  # noqa: F811
    host, url = _command_host(backend)
    host.fence.cut_off.set()  # the fence went up during the long poll
    host._take_commands(url, 10)
    assert backend.queues.depth(url) == (1, 0)  # visible again at once, for another host
    assert host.workers == {} and backend.workers.find("T_A", "A-w1").status == WorkerStatus.REQUESTED


def test_a_host_that_cannot_read_the_request_leaves_it_to_another_host(backend: Backend) -> None:  # noqa: F811
    host, url = _command_host(backend)
    host.backend = replace(backend, workers=UnreachableWorkers(backend.settings))
    host._take_commands(url, 10)  # not yet fenced, but the store does not answer
    assert backend.queues.depth(url) == (1, 0)  # not deleted for a worker that could not set itself up
    assert host.workers == {}


def test_a_start_request_no_longer_requested_is_dropped_without_a_worker(backend: Backend) -> None:  # noqa: F811
    host, url = _command_host(backend)
    backend.workers.delete("T_A", "A-w1")  # stopped (or reconciled) before a host took it
    host._take_commands(url, 10)
    assert backend.queues.depth(url) == (0, 0) and host.workers == {}


def test_a_worker_of_a_fenced_host_hands_back_what_its_long_poll_brings(backend: Backend) -> None:  # noqa: F811
    bootstrap.create_queues(backend.settings)
    inbox = backend.queues.create_inbox("T", "A")
    backend.queues.send_inbox(InboxMessage(tenant="T", actor_id="A", execution_id="E1", body="m", size=1))
    fence = Fence(lambda _cid: None, lease_seconds=10.0)
    worker = WorkerThread(backend, "r1", "127.0.0.1", "T", "A", "A-r1-0", threading.Event(), threading.Event(),
                          fence, standard_registry())
    worker.prefetched = Prefetched(backend.queues, inbox)
    fence.cut_off.set()
    assert worker._receive(inbox) is None  # received while the queue still answers, but not taken
    assert backend.queues.depth(inbox) == (1, 0) and not worker.busy
    fence.contact()
    assert worker._receive(inbox) is not None and worker.busy  # in contact again: taken


# --- a slow store: the fence counts a renewal from when it was sent ---

def test_a_slow_renewal_extends_the_fence_from_when_it_was_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(lease_module.time, "time", clock)

    def slow_renew(_execution: object, _seconds: float) -> None:
        clock.now += 5.0  # the store applies the lease as sent, then answers 5 s later

    store = SimpleNamespace(settings=SimpleNamespace(visibility_timeout=10, heartbeat_seconds=3),
                            executions=SimpleNamespace(renew=slow_renew),
                            queues=SimpleNamespace(set_visibility=lambda *_a: None))
    fence = Fence(lambda _cid: None)
    execution = Execution(tenant="T", actor_id="A", id="E1", executor="u", phases={"claimed": 990.0})
    inbox = InboxConsumer(store.queues, "inbox")  # type: ignore[arg-type]
    received = Received("m", "receipt", 1, "m1")
    lease = Lease(store, fence, "k", execution, inbox, received, standard_registry())  # type: ignore[arg-type]
    fence.watch("k", "c1", Fence.deadline(990.0, 10.0))
    assert lease.beat() and clock.now == 1005.0
    # Sent at 1000: the store's lease ends at 1010, so the container must die by 1008 (the 2 s margin),
    # not by 1013 as counted from the answer.
    assert fence.check(now=1007.9) == [] and fence.check(now=1008.0) == ["k"]


def _claims(backend: Backend, runner: str, worker: str, inbox: str) -> Claims:  # noqa: F811
    return Claims(backend, runner, worker, InboxConsumer(backend.queues, inbox), standard_registry())


class AnswerLostExecutions(ExecutionStore):
    """The executions table of a store that applies a claim but whose answer is lost: the SDK times out and
    its retry finds the condition failed (the store then reports the claim refused, with the record)."""

    def claim(self, execution: Execution, *args: Any, **kwargs: Any) -> Execution:
        super().claim(execution, *args, **kwargs)
        raise ClaimRefused(self.find(execution.actor_dbid, execution.id))


def test_a_claim_applied_whose_answer_was_lost_is_ours(backend: Backend) -> None:  # noqa: F811
    bootstrap.create_queues(backend.settings)
    inbox = backend.queues.create_inbox("T", "A")
    actor = Actor(tenant="T", id="A", image="abacosamples/noop", owner="u")
    execution = Execution(tenant="T", actor_id="A", id="E1", executor="u")
    backend.executions.create(execution)
    slow = replace(backend, executions=AnswerLostExecutions(backend.settings))
    backend.queues.send_inbox(InboxMessage(tenant="T", actor_id="A", execution_id="E1", body="m", size=1))
    received = backend.queues.receive(inbox, wait_seconds=0)[0]
    claimed = _claims(slow, "r1", "w1", inbox).claim(received, actor, execution)
    assert isinstance(claimed, Execution) and claimed.attempt == 1 and claimed.runner_id == "r1"
    # Another worker's claim that landed first is still refused: the message is hidden, not run.
    other = Execution(tenant="T", actor_id="A", id="E2", executor="u")
    backend.executions.create(other)
    backend.executions.claim(other, "r2", "w9", 60, 2, "m2")
    backend.queues.send_inbox(InboxMessage(tenant="T", actor_id="A", execution_id="E2", body="m", size=1))
    delivered = backend.queues.receive(inbox, wait_seconds=0)[0]
    stranger = replace(delivered, message_id="m2")  # the copy the other worker runs
    refused = _claims(slow, "r1", "w1", inbox).claim(stranger, actor, other)
    assert refused == Outcome("leased", "E2")


class UnreadAnswerLostExecutions(ExecutionStore):
    """The same lost answer for the claim without a read: the write applied, the retry found it refused."""

    def claim_unread(self, *args: Any, **kwargs: Any) -> Execution | None:
        super().claim_unread(*args, **kwargs)
        return None


def test_a_first_delivery_claim_applied_whose_answer_was_lost_is_ours(backend: Backend) -> None:  # noqa: F811
    bootstrap.create_queues(backend.settings)
    inbox = backend.queues.create_inbox("T", "A")
    actor = Actor(tenant="T", id="A", image="abacosamples/noop", owner="u")
    backend.executions.create(Execution(tenant="T", actor_id="A", id="E1", executor="u"))
    slow = replace(backend, executions=UnreadAnswerLostExecutions(backend.settings))
    backend.queues.send_inbox(InboxMessage(tenant="T", actor_id="A", execution_id="E1", body="m", size=1))
    received = backend.queues.receive(inbox, wait_seconds=0)[0]
    assert received.receive_count == 1
    claimed = _claims(slow, "r1", "w1", inbox).claim_message(received, actor, "E1")
    assert isinstance(claimed, Execution) and claimed.attempt == 1 and claimed.runner_id == "r1"
    assert "claimed" in claimed.phases
    # Another worker's first delivery of the same execution finds it held: refused (a duplicate copy).
    stranger = replace(received, message_id="m-other")
    refused = _claims(backend, "r2", "w2", inbox).claim_message(stranger, actor, "E1")
    assert refused == Outcome("duplicate", "E1")
    assert _claims(backend, "r2", "w2", inbox).claim_message(stranger, actor, "E9") is None
