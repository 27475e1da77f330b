"""Parked workers and execution slots, against in-process moto: a parked worker is READY, a message wakes
it once through the wake queue and exactly one host takes it; a worker parking after a message was sent
(and read past by the API) wakes itself; a host's slots bound executions, a ``sync`` warm worker pins one,
and the autoscaler and the scaling metric count pinned slots."""
from __future__ import annotations

import threading
import time

import pytest

from chalicelib.adapters.queues import Received
from chalicelib.domain.models import Actor, Execution, Host, HostStatus, Worker, WorkerStatus
from chalicelib.domain.queue_messages import InboxMessage, StartWorkerCommand
from chalicelib.services import backlog
from chalicelib.services import workers as worker_service
from chalicelib.wiring.backend import Backend
from runners.duties import autoscaler
from runners.fence import Fence
from runners.host.parking import ParkedWorkers, look_once_more
from runners.host.prefetched import Prefetched
from runners.host.slots import HostSlots, SlotHold
from runners.host.worker import WorkerThread
from runners.metrics import standard_registry
from tests.unit.test_protocol import (
    backend,  # noqa: F401 (fixture)
    registered_actor,
)


def _ready(backend: Backend, actor: Actor, host: str = "h1") -> Worker:  # noqa: F811
    """The actor's worker as a host leaves it after set-up: READY on ``host``."""
    requested = worker_service.ensure_worker(backend, actor)
    assert requested is not None
    ready = backend.workers.update(requested, {"status": WorkerStatus.READY.value, "host_id": host})
    assert ready is not None
    return ready


def _wakes(backend: Backend) -> list[StartWorkerCommand]:  # noqa: F811
    url = backend.queues.wake_url("default")
    return [StartWorkerCommand.decode(r.body) for r in backend.queues.receive(url, wait_seconds=0, max_messages=10)]


def _drain_commands(backend: Backend) -> None:  # noqa: F811
    url = backend.queues.command_url("default")
    while received := backend.queues.receive(url, wait_seconds=0, max_messages=10):
        backend.queues.delete_many(url, [r.receipt for r in received])


def test_a_message_wakes_a_parked_worker_once_and_one_host_takes_it(backend: Backend) -> None:  # noqa: F811
    actor = registered_actor(backend)
    parked = backend.workers.park(_ready(backend, actor))
    assert parked is not None and parked.parked and parked.status == WorkerStatus.READY
    assert backend.workers.park(parked) is None  # once
    _drain_commands(backend)
    for _ in range(3):  # three messages: one wake request
        assert worker_service.ensure_worker(backend, actor, wake=True) is None
    [command] = _wakes(backend)
    assert command.worker_id == parked.id
    [record] = backend.workers.list(actor.dbid)
    assert record.woken and not record.parked and record.status == WorkerStatus.READY
    taken = backend.workers.activate(record, "h2")  # any host of the pool, not only the one that parked it
    assert taken is not None and taken.host_id == "h2" and not taken.woken
    assert backend.workers.activate(record, "h3") is None  # a second copy, or a second host, finds it taken
    assert worker_service.ensure_worker(backend, actor, wake=True) is None and _wakes(backend) == []


def test_a_worker_parking_after_the_apis_read_wakes_itself(backend: Backend) -> None:  # noqa: F811
    """The API sent a message and read the worker before the park mark (so it woke nothing): the worker's
    last look after the mark finds the message, hands it back and sends the wake request itself."""
    actor = registered_actor(backend)
    ready = _ready(backend, actor)
    _drain_commands(backend)
    backend.queues.send_inbox(InboxMessage(tenant=actor.tenant, actor_id=actor.id, execution_id="E1", body="m",
                                           size=1))
    assert worker_service.ensure_worker(backend, actor, wake=True) is None and _wakes(backend) == []
    parked = backend.workers.park(ready)
    assert parked is not None
    inbox = backend.queues.inbox_url(actor.tenant, actor.id)
    assert look_once_more(backend, parked, inbox, actor)
    assert [c.worker_id for c in _wakes(backend)] == [parked.id]
    assert backend.queues.depth(inbox)[0] == 1  # handed back: visible for the woken poller
    assert not look_once_more(backend, parked, inbox, actor)  # woken already: no second request


def test_a_parked_worker_with_an_empty_inbox_stays_parked(backend: Backend) -> None:  # noqa: F811
    actor = registered_actor(backend)
    parked = backend.workers.park(_ready(backend, actor))
    assert parked is not None
    _drain_commands(backend)
    assert not look_once_more(backend, parked, backend.queues.inbox_url(actor.tenant, actor.id), actor)
    assert _wakes(backend) == [] and backend.workers.list(actor.dbid)[0].parked


def test_stopping_a_parked_worker_removes_it_at_once(backend: Backend) -> None:  # noqa: F811
    actor = registered_actor(backend)
    parked = backend.workers.park(_ready(backend, actor))
    assert parked is not None
    worker_service.stop_worker(backend, actor, parked.id)
    assert backend.workers.list(actor.dbid) == []  # no poller would ever see a SHUTDOWN_REQUESTED mark


def test_parked_workers_leave_after_their_time_to_live_unless_woken(backend: Backend) -> None:  # noqa: F811
    idle, woken = registered_actor(backend), registered_actor(backend)
    host = ParkedWorkers(backend)
    for actor in (idle, woken):
        parked = backend.workers.park(_ready(backend, actor))
        assert parked is not None
        host.add(parked, time.monotonic() - 700)
    assert worker_service.ensure_worker(backend, woken, wake=True) is None  # woken before the sweep
    assert host.expire(600) == 1 and host.count() == 0
    assert backend.workers.list(idle.dbid) == []
    assert [w.status for w in backend.workers.list(woken.dbid)] == [WorkerStatus.READY]


def test_the_autoscaler_wakes_a_backlogged_actors_parked_worker(backend: Backend) -> None:  # noqa: F811
    actor = registered_actor(backend)
    backend.hosts.put(Host(id="h1", pools=["default"], slots=2))
    assert backend.workers.park(_ready(backend, actor)) is not None
    _drain_commands(backend)
    backend.executions.create(Execution(tenant=actor.tenant, actor_id=actor.id, id=f"E{time.time_ns()}",
                                        executor="u", open_pool="default", phases={"queued": time.time()}))
    autoscaler.run_once(backend, time.time())
    assert len(_wakes(backend)) == 1 and len(backend.workers.list(actor.dbid)) == 1


def test_slots_bound_executions_and_a_pin_keeps_one(backend: Backend) -> None:  # noqa: F811
    slots = HostSlots(2)
    warm, other, third = SlotHold(slots), SlotHold(slots), SlotHold(slots)
    warm.keep(True)
    assert warm.pinned and slots.pinned == 1 and slots.free == 1
    assert warm.take(0) and slots.free == 1  # the warm worker runs on its pin
    assert other.take(0) and slots.free == 0
    assert not third.take(0.05)  # every slot runs a container (or is pinned)
    freed = threading.Timer(0.1, other.give_back)
    freed.start()
    assert third.take(5)  # the next free slot goes to the waiting worker
    warm.give_back()
    assert slots.pinned == 1 and slots.busy == 1
    warm.leave()
    third.leave()
    assert slots.free == 2


def test_pinned_slots_count_for_the_autoscaler_and_the_scaling_metric(backend: Backend) -> None:  # noqa: F811
    registered_actor(backend)
    now = time.time()
    backend.hosts.put(Host(id="h1", pools=["default"], slots=4, used_slots=1, pinned_slots=2))
    backend.hosts.put(Host(id="h2", pools=["default"], slots=4, pinned_slots=4, status=HostStatus.DRAINING))
    assert backlog.measure(backend, now)["default"] == 2  # the draining host's pins are not demand
    assert backlog.measure(backend, now + 3600)["default"] == 0  # nor a silent host's
    view = autoscaler._View.read(backend, now)
    assert view.capacity("default") == 1  # 4 slots, one running, two pinned


def test_a_new_revision_removes_the_older_parked_workers(backend: Backend) -> None:  # noqa: F811
    actor = registered_actor(backend)
    parked = backend.workers.park(_ready(backend, actor))
    assert parked is not None
    updated = backend.actors.replace(actor.model_copy(update={"revision": 2}), expected_version=actor.version)
    started = worker_service.ensure_worker(backend, updated, stop_existing=True)
    assert started is not None and [w.id for w in backend.workers.list(actor.dbid)] == [started.id]


def test_a_worker_polls_only_while_a_slot_is_free_and_holds_one_per_message(backend: Backend) -> None:  # noqa: F811
    actor = registered_actor(backend)
    inbox = backend.queues.inbox_url(actor.tenant, actor.id)
    backend.queues.send_inbox(InboxMessage(tenant=actor.tenant, actor_id=actor.id, execution_id="E1", body="m",
                                           size=1))
    slots = HostSlots(1)
    other = SlotHold(slots)
    assert other.take(0)  # the host's one slot runs another actor's container
    worker = WorkerThread(backend, "r1", "127.0.0.1", actor.tenant, actor.id, f"{actor.id}-r1-0",
                          threading.Event(), threading.Event(), Fence(lambda _cid: None), standard_registry(),
                          slots=slots)
    worker.prefetched = Prefetched(backend.queues, inbox)
    worker._idle()
    assert worker._receive(inbox) is None  # no poll while every slot is busy...
    assert backend.queues.depth(inbox) == (1, 0)  # ... so the message was not even received
    other.give_back()
    received = worker._receive(inbox)
    assert received is not None and worker.busy and slots.free == 0  # its execution holds the slot
    worker._idle()
    assert slots.free == 1


def test_pins_take_at_most_half_of_the_slots(backend: Backend) -> None:  # noqa: F811
    slots = HostSlots(4)
    holds = [SlotHold(slots) for _ in range(3)]
    for hold in holds:
        hold.keep(True)
    assert [h.pinned for h in holds] == [True, True, False] and slots.free == 2


def test_a_worker_its_host_parks_looks_at_its_inbox_once_the_mark_is_written(backend: Backend) -> None:  # noqa: F811
    """The host parks an idle worker (``RunnerHost._make_room``) from its own thread: the worker leaves its loop
    as soon as it is retiring, which may be before the park mark's write has answered. Its last look at the
    inbox must wait for that answer, or a message sent before the mark strands in a parked worker's inbox."""
    actor = registered_actor(backend)
    ready = _ready(backend, actor, host="r1")
    _drain_commands(backend)
    inbox = backend.queues.inbox_url(actor.tenant, actor.id)
    backend.queues.send_inbox(InboxMessage(tenant=actor.tenant, actor_id=actor.id, execution_id="E1", body="m",
                                           size=1))
    worker = WorkerThread(backend, "r1", "127.0.0.1", actor.tenant, actor.id, ready.id, threading.Event(),
                          threading.Event(), Fence(lambda _cid: None), standard_registry())
    worker._record, worker.idle_since = ready, time.monotonic() - 60
    writing, go = threading.Event(), threading.Event()
    park = backend.workers.park

    def slow_park(record: Worker) -> Worker | None:
        writing.set()
        go.wait(30)
        return park(record)

    backend.workers.park = slow_park  # type: ignore[method-assign]
    host = threading.Thread(target=worker.park, args=(time.monotonic(), 5.0))
    host.start()
    assert writing.wait(30) and worker.retiring  # the worker's loop would end here
    leaving = threading.Thread(target=worker._leave, args=(inbox,))
    leaving.start()
    leaving.join(0.5)  # without the lock it leaves now, having seen no park mark, and never looks
    go.set()
    host.join(30)
    leaving.join(30)
    [command] = _wakes(backend)  # it looked, found the message and woke itself
    assert command.worker_id == ready.id
    [record] = backend.workers.list(actor.dbid)
    assert record.woken and not record.parked


def test_a_message_waiting_for_a_slot_is_renewed_only_a_second_before_its_visibility_ends(
        backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """A worker holding a message while every slot runs a container used to renew it at once: under a burst
    most pollers did, about 3 requests per execution (the scale run). A slot that frees before the receive's
    visibility is a second from its end costs no request; later, one renewal, and the message says so."""
    actor = registered_actor(backend)
    inbox = backend.queues.inbox_url(actor.tenant, actor.id)
    renewals: list[int] = []
    monkeypatch.setattr(backend.queues, "set_visibility_many", lambda _u, receipts, _s: renewals.append(len(receipts)))
    slots = HostSlots(1)
    worker = WorkerThread(backend, "r1", "127.0.0.1", actor.tenant, actor.id, f"{actor.id}-r1-0",
                          threading.Event(), threading.Event(), Fence(lambda _cid: None), standard_registry(),
                          slots=slots)
    for visible_for, expected in ((100.0, []), (0.5, [1]), (None, [1])):
        other = SlotHold(slots)
        assert other.take(0)  # another actor's container runs in the host's one slot
        until = None if visible_for is None else time.monotonic() + visible_for
        received = [Received("m", "receipt", 1, "m1", visible_until=until)]
        freed = threading.Timer(0.2, other.give_back)  # that container ends
        freed.start()
        assert worker._slot_for(inbox, received)
        freed.join()
        assert renewals == expected, visible_for
        if expected:
            assert received[0].visible_until is not None and received[0].visible_until > time.monotonic() + 30
        else:
            assert received[0].visible_until == until
        worker.hold.give_back()
        renewals.clear()


def test_a_worker_that_could_take_nothing_defers_its_health_check(backend: Backend) -> None:  # noqa: F811
    """While every slot of its host runs a container a poller receives nothing (``_receive``), so its health
    check waits for a free slot: in a burst most pollers wait so, and their checks were half of the runners'
    requests (the scale run)."""
    actor = registered_actor(backend)
    ready = _ready(backend, actor, host="r1")
    slots = HostSlots(1)
    worker = WorkerThread(backend, "r1", "127.0.0.1", actor.tenant, actor.id, ready.id, threading.Event(),
                          threading.Event(), Fence(lambda _cid: None), standard_registry(), slots=slots)
    reads: list[str] = []
    find = backend.workers.find
    backend.workers.find = lambda *a, **k: (reads.append(a[1]), find(*a, **k))[1]  # type: ignore[method-assign]
    other = SlotHold(slots)
    assert other.take(0)  # the host's one slot runs another actor's container
    assert worker._still_wanted(ready) and reads == []  # due, deferred
    other.give_back()
    assert worker._still_wanted(ready) and reads == [ready.id]  # room: checked
