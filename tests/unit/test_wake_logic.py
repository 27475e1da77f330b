"""Wake queues, against in-process moto: a message's start request goes to its pool's wake queue (an
untaken registration request is copied there once), a host serves the wake queue before the command queue,
and a request is never declined: idle workers hold no slot, so a registration's worker goes READY and
parks (runners/host/parking.py)."""
from __future__ import annotations

import threading
import time
from dataclasses import replace
from types import SimpleNamespace

import pytest

from chalicelib.domain.models import Actor, Execution, Host, Worker, WorkerStatus
from chalicelib.domain.queue_messages import StartWorkerCommand
from chalicelib.services import workers as worker_service
from chalicelib.wiring.backend import Backend
from runners.duties import autoscaler
from runners.fence import Fence
from runners.host.daemon import RunnerHost
from runners.host.worker import WorkerThread
from runners.metrics import standard_registry
from runners.pipeline import image_gate
from tests.unit.test_protocol import (
    backend,  # noqa: F401 (fixture)
    registered_actor,
)
from tests.unit.test_scaling_races import HookedWorkers

TENANT = "T"


def _depths(backend: Backend) -> tuple[int, int]:  # noqa: F811
    """(wake, command) requests waiting in the default pool."""
    queues = backend.queues
    return queues.depth(queues.wake_url("default"))[0], queues.depth(queues.command_url("default"))[0]


def _records(backend: Backend, actor: Actor) -> list[Worker]:  # noqa: F811
    return backend.workers.list(actor.dbid)


def _command(worker: Worker) -> StartWorkerCommand:
    return StartWorkerCommand(tenant=worker.tenant, actor_id=worker.actor_id, worker_id=worker.id,
                              image=worker.image, revision=worker.revision)


def _decline(backend: Backend, worker: Worker) -> bool:  # noqa: F811
    """Removing an untaken request unless a message woke it (the store keeps this condition; hosts no
    longer decline requests, see runners/host/parking.py)."""
    return backend.workers.delete(worker.actor_dbid, worker.id, create_time=worker.create_time,
                                  only_from=WorkerStatus.REQUESTED, unless_woken=True)


def test_a_registration_request_goes_to_the_command_queue_and_a_message_copies_it_to_the_wake_queue_once(
        backend: Backend) -> None:  # noqa: F811
    actor = registered_actor(backend)
    registered = worker_service.ensure_worker(backend, actor)
    assert registered is not None and not registered.woken
    assert _depths(backend) == (0, 1)
    for _ in range(3):  # three messages while the registration's request waits: one copy
        assert worker_service.ensure_worker(backend, actor, wake=True) is None
    assert _depths(backend) == (1, 1)
    [record] = _records(backend, actor)
    assert record.id == registered.id and record.woken and record.status == WorkerStatus.REQUESTED
    assert not _decline(backend, record)  # a woken request is never declined
    assert len(_records(backend, actor)) == 1


def test_a_message_to_a_worker_less_actor_requests_on_the_wake_queue_only(backend: Backend) -> None:  # noqa: F811
    actor = registered_actor(backend)
    worker = worker_service.ensure_worker(backend, actor, wake=True)
    assert worker is not None and worker.woken
    assert _depths(backend) == (1, 0)


def test_a_taken_worker_is_not_woken(backend: Backend) -> None:  # noqa: F811
    actor = registered_actor(backend)
    registered = worker_service.ensure_worker(backend, actor)
    assert registered is not None
    backend.workers.update(registered, {"status": WorkerStatus.READY.value, "host_id": "h1"})
    assert worker_service.ensure_worker(backend, actor, wake=True) is None
    assert _depths(backend) == (0, 1)
    assert not backend.workers.wake(registered)


def test_a_decline_between_the_messages_read_and_its_wake_gives_one_new_woken_request(
        backend: Backend) -> None:  # noqa: F811
    actor = registered_actor(backend)
    registered = worker_service.ensure_worker(backend, actor)
    assert registered is not None
    # The host declines the registration's request right after the message's read of the workers.
    hooked = replace(backend, workers=HookedWorkers(backend.settings, "list",
                                                    lambda: _decline(backend, registered)))
    worker = worker_service.ensure_worker(hooked, actor, wake=True)
    assert worker is not None and worker.woken
    [record] = _records(backend, actor)
    assert record.woken and record.create_time != registered.create_time  # a new incarnation of the slot
    assert _depths(backend) == (1, 1)  # the stale registration copy is dropped when a host reads it


def test_the_autoscaler_wakes_a_backlogged_actors_untaken_request(backend: Backend) -> None:  # noqa: F811
    actor = registered_actor(backend)
    backend.hosts.put(Host(id="h1", pools=["default"], slots=2))
    registered = worker_service.ensure_worker(backend, actor)  # e.g. an update's request, messages waiting
    assert registered is not None
    backend.executions.create(Execution(tenant=TENANT, actor_id=actor.id, id=f"E{time.time_ns()}", executor="u",
                                        open_pool="default", phases={"queued": time.time()}))
    autoscaler.run_once(backend, time.time())
    [record] = _records(backend, actor)
    assert record.id == registered.id and record.woken
    assert _depths(backend) == (1, 1)


class _Recording(RunnerHost):
    """A host that records which queue each start request came from instead of starting workers."""

    def __init__(self, backend: Backend) -> None:  # noqa: F811
        super().__init__(backend, runner_id="r1")
        self.handled: list[str] = []

    def _handle_command(self, url: str, receipt: str, body: str) -> bool:
        self.handled.append(url)
        return True  # done with: deleted in one batch after the round


def test_a_host_serves_the_wake_queue_before_the_command_queue(backend: Backend) -> None:  # noqa: F811
    actor = registered_actor(backend)
    for _ in range(3):
        backend.queues.send_command("default", _command(Worker(tenant=TENANT, actor_id=actor.id, id="w")))
    woken = Worker(tenant=TENANT, actor_id=actor.id, id="x")
    backend.queues.send_command("default", _command(woken), wake=True)
    host = _Recording(backend)
    queues = [(backend.queues.wake_url("default"), backend.queues.command_url("default"))]
    assert host._serve_round(queues, 10, 0)  # a wake came: the command queue waits for the next round
    assert host.handled == [queues[0][0]]
    assert host._serve_round(queues, 10, 0)  # no wake left: the registrations' requests are read
    assert host.handled[1:] == [queues[0][1]] * 3
    assert not host._serve_round(queues, 10, 0)
    assert _depths(backend) == (0, 0)


def test_a_host_at_its_poller_bound_keeps_every_request_for_later(backend: Backend) -> None:  # noqa: F811
    """Registrations are never declined any more (idle workers hold no slot; they park): with no idle poller
    to park, a request waits for a later round, its record untouched."""
    host = RunnerHost(backend, runner_id="r1")
    idle, woken = registered_actor(backend), registered_actor(backend)
    registered = worker_service.ensure_worker(backend, idle)
    requested = worker_service.ensure_worker(backend, woken, wake=True)
    assert registered is not None and requested is not None
    assert host._make_room(_command(registered)) is False
    assert host._make_room(_command(requested)) is False
    assert [w.id for w in _records(backend, idle)] == [registered.id]
    assert [w.id for w in _records(backend, woken)] == [requested.id]


def test_the_second_copy_of_a_woken_request_leaves_the_worker_alone(backend: Backend) -> None:  # noqa: F811
    """Two hosts: one took the wake copy (claimed the record); the other reads the registration's copy and
    starts nothing. A copy whose request the reconciler removed is dropped."""
    other = RunnerHost(backend, runner_id="r2")
    actor = registered_actor(backend)
    registered = worker_service.ensure_worker(backend, actor)
    assert registered is not None and worker_service.ensure_worker(backend, actor, wake=True) is None
    backend.workers.update(registered, {"status": WorkerStatus.SPAWNER_SETUP.value, "host_id": "r1"},
                           only_from={WorkerStatus.REQUESTED})
    assert other._start_worker(_command(registered)) is True  # done with: deleted from the queue
    assert other.workers == {}
    [record] = _records(backend, actor)
    assert record.status == WorkerStatus.SPAWNER_SETUP and record.host_id == "r1"
    backend.workers.delete(actor.dbid, registered.id)  # as the reconciler removes an untaken request
    assert other._start_worker(_command(registered)) is True
    assert other.workers == {} and _records(backend, actor) == []


def test_the_registration_copy_read_after_the_woken_worker_is_ready_leaves_it_alone(
        backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """Host r1 took the wake copy and set the worker up; host r2 reads the registration's copy only once the
    worker is READY and polling on r1. A READY worker keeping ``woken`` looked like a parked worker a message
    had woken: r2 activated it (a second thread of one worker), r1's park was then refused and r1 deleted the
    record under r2's thread, and the actor's next request waited for the reconciler (found by the scale run)."""
    monkeypatch.setattr(image_gate, "problem", lambda *_a: None)
    actor = registered_actor(backend)
    registered = worker_service.ensure_worker(backend, actor)
    assert registered is not None and worker_service.ensure_worker(backend, actor, wake=True) is None
    [woken] = _records(backend, actor)
    thread = WorkerThread(backend, "r1", "127.0.0.1", actor.tenant, actor.id, woken.id, threading.Event(),
                          threading.Event(), Fence(lambda _cid: None), standard_registry(), requested=woken)
    setup = thread._setup()
    assert setup is not None
    ready = thread._pull(setup, SimpleNamespace(location="r1"))  # type: ignore[arg-type]
    assert ready is not None and ready.status == WorkerStatus.READY and not ready.woken and not ready.parked
    other = RunnerHost(backend, runner_id="r2")
    assert other._start_worker(_command(registered)) is True  # done with: deleted from the queue
    assert other.workers == {}
    [record] = _records(backend, actor)
    assert record.host_id == "r1" and record.status == WorkerStatus.READY


def test_a_new_request_reusing_a_live_threads_worker_id_starts(
        backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """Worker ids are slot names, so a request made after a record was removed under a live thread (its
    health check has not noticed yet) carries that thread's id: it is a new worker, not a repeated command."""
    started: list[WorkerThread] = []
    monkeypatch.setattr(WorkerThread, "start", lambda self: started.append(self))  # noqa: PLW0108 (a method)
    host = RunnerHost(backend, runner_id="r1")
    actor = registered_actor(backend)
    first = worker_service.ensure_worker(backend, actor)
    assert first is not None and host._start_worker(_command(first)) is True
    [old] = started
    monkeypatch.setattr(WorkerThread, "is_alive", lambda self: True)
    assert host._start_worker(_command(first)) is True and len(started) == 1  # a repeated command
    backend.workers.delete(actor.dbid, first.id)  # removed under the live thread
    second = worker_service.ensure_worker(backend, actor, wake=True)
    assert second is not None and second.id == first.id and second.create_time != first.create_time
    assert host._start_worker(_command(second)) is True
    assert len(started) == 2 and started[1].incarnation == second.create_time
    assert host.workers[f"{actor.dbid}/{first.id}"] is started[1] and old in host.leaving


def test_a_write_for_one_incarnation_never_lands_on_a_later_record_of_its_id(backend: Backend) -> None:  # noqa: F811
    """Worker ids are slot names: a thread still holding the record of a removed worker must not set the
    status of the request that reused its id."""
    actor = registered_actor(backend)
    first = worker_service.ensure_worker(backend, actor)
    assert first is not None
    backend.workers.delete(actor.dbid, first.id)
    second = worker_service.ensure_worker(backend, actor, wake=True)
    assert second is not None and second.id == first.id and second.create_time != first.create_time
    assert backend.workers.update(first, {"status": WorkerStatus.READY.value}) is None
    [record] = _records(backend, actor)
    assert record.status == WorkerStatus.REQUESTED and record.create_time == second.create_time
    assert backend.workers.update(second, {"status": WorkerStatus.SPAWNER_SETUP.value}) is not None
