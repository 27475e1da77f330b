"""Two requests a warm execution no longer makes: the worker's read of the actor (runners/host/actor_view.py)
and the confirmation of the message's visibility when the attempt ends within its receive visibility
(runners/pipeline/lease.py). The wire counts are in tests/integration/test_execution_cost.py."""
from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

from chalicelib.adapters.queues import Received
from chalicelib.domain.models import Actor, Execution
from chalicelib.domain.queue_messages import InboxMessage
from runners.fence import Fence
from runners.host.actor_view import ActorView
from runners.metrics import standard_registry
from runners.pipeline.consumer import InboxConsumer
from runners.pipeline.lease import Lease
from runners.pipeline.outcomes import Kind, Outcome
from tests.unit.test_protocol import backend  # noqa: F401 (fixture)


def _received(version: int | None, visible_until: float | None = None) -> Received:
    body = InboxMessage(tenant="T", actor_id="A", execution_id="E1").encode()
    return Received(body, "receipt", 1, "m1", visible_until=visible_until, actor_version=version)


class Actors:
    def __init__(self, actor: Actor) -> None:
        self.actor, self.reads = actor, 0

    def get(self, _tenant: str, _actor_id: str) -> Actor:
        self.reads += 1
        return self.actor


def _view(actor: Actor) -> tuple[ActorView, Actors]:
    actors = Actors(actor)
    return ActorView(SimpleNamespace(actors=actors), "T", "A"), actors  # type: ignore[arg-type]


def test_a_message_naming_the_version_read_last_runs_without_a_read() -> None:
    view, actors = _view(Actor(tenant="T", id="A", image="i", owner="u", version=4))
    assert view.for_message(_received(4)).version == 4 and actors.reads == 1
    assert view.for_message(_received(4)).version == 4 and actors.reads == 1
    actors.actor = actors.actor.model_copy(update={"version": 5, "image": "j"})
    assert view.for_message(_received(5)).image == "j" and actors.reads == 2  # the API saw a newer actor
    assert view.for_message(_received(None)).image == "j" and actors.reads == 3  # no version: always read


def test_a_reading_with_start_failures_or_after_a_failed_attempt_is_not_reused() -> None:
    view, actors = _view(Actor(tenant="T", id="A", image="i", owner="u", version=2, start_failures=1))
    view.for_message(_received(2))
    view.for_message(_received(2))
    assert actors.reads == 2  # their count does not move the version, and their reset is due
    actors.actor = actors.actor.model_copy(update={"start_failures": 0})
    view.for_message(_received(2))
    view.after(Outcome(Kind.RAN, "E1"))
    view.for_message(_received(2))
    assert actors.reads == 3
    for kind in (Kind.START_FAILED, Kind.FENCED, Kind.FAILED):
        view.after(Outcome(kind, "E1"))
        view.for_message(_received(2))
    view.after(None)  # the attempt raised
    view.for_message(_received(2))
    assert actors.reads == 7


# The body's fields as the previous release knew them: its runners refuse unknown ones (extra="forbid"), so
# during a rolling upgrade the version travels as a message attribute, never in the body.
V1_FIELDS = {"v", "tenant", "actor_id", "execution_id", "content_type", "body", "s3_key", "size", "sha256", "env",
             "executor", "sent_at"}


def test_the_version_travels_beside_the_body_which_earlier_runners_still_decode() -> None:
    assert set(InboxMessage.model_fields) == V1_FIELDS
    assert Received("not json", "r", 1, "m").actor_version is None
    assert _received(3).actor_version == 3


def test_the_inbox_carries_the_version_as_a_message_attribute(backend: Any) -> None:  # noqa: F811
    from local import bootstrap

    bootstrap.create_queues(backend.settings)
    url = backend.queues.create_inbox("T", "A")
    backend.queues.send_inbox(InboxMessage(tenant="T", actor_id="A", execution_id="E1"), actor_version=7)
    backend.queues.send_inbox(InboxMessage(tenant="T", actor_id="A", execution_id="E2"))
    got = backend.queues.receive(url, wait_seconds=0, max_messages=10, visibility=30)
    assert sorted((InboxMessage.decode(r.body).execution_id, r.actor_version) for r in got) == [("E1", 7),
                                                                                                 ("E2", None)]
    assert all(r.visible_until is not None and r.visible_until > time.monotonic() + 25 for r in got)


class Queues:
    def __init__(self) -> None:
        self.extended: list[tuple[str, int]] = []
        self.called = threading.Event()

    def set_visibility(self, _url: str, receipt: str, seconds: int) -> None:
        self.extended.append((receipt, seconds))
        self.called.set()


def _lease(received: Received) -> tuple[Lease, Queues, Any]:
    queues = Queues()
    renewed: list[str] = []
    store = SimpleNamespace(settings=SimpleNamespace(visibility_timeout=60, heartbeat_seconds=20), queues=queues,
                            executions=SimpleNamespace(renew=lambda execution, _s: renewed.append(execution.id)))
    execution = Execution(tenant="T", actor_id="A", id="E1", executor="u", phases={"claimed": time.time()})
    lease = Lease(store, Fence(lambda _cid: None), "k", execution, InboxConsumer(queues, "inbox"),  # type: ignore[arg-type]
                  received, standard_registry())
    return lease, queues, renewed


def test_an_attempt_over_before_its_receive_visibility_ends_confirms_nothing() -> None:
    lease, queues, renewed = _lease(_received(1, visible_until=time.monotonic() + 2.0))
    lease.start()
    lease.stop()
    lease._thread.join(5)
    assert not lease._thread.is_alive() and queues.extended == [] and renewed == []


def test_an_attempt_still_running_confirms_its_message_a_second_before_the_receive_visibility_ends() -> None:
    lease, queues, renewed = _lease(_received(1, visible_until=time.monotonic() + 1.2))
    lease.start()
    try:
        assert queues.called.wait(10)
        assert queues.extended == [("receipt", 60)] and renewed == []  # the claim's lease still runs
    finally:
        lease.stop()
        lease._thread.join(5)


def test_a_message_received_with_the_queues_visibility_waits_for_the_first_heartbeat() -> None:
    lease, queues, _ = _lease(_received(1, visible_until=None))
    assert lease._confirm() and queues.extended == []


def test_a_worker_confirms_prefetched_messages_at_once_and_leaves_the_first_to_its_lease(
        backend: Any, monkeypatch: Any) -> None:  # noqa: F811
    import dataclasses
    import threading

    from local import bootstrap
    from runners.host.prefetched import Prefetched
    from runners.host.worker import WorkerThread

    bootstrap.create_queues(backend.settings)
    inbox = backend.queues.create_inbox("T", "A")
    for eid in ("E1", "E2", "E3"):
        backend.queues.send_inbox(InboxMessage(tenant="T", actor_id="A", execution_id=eid, body="m", size=1))
    three = dataclasses.replace(backend, settings=backend.settings.model_copy(update={"prefetch": 3}))
    worker = WorkerThread(three, "r1", "127.0.0.1", "T", "A", "A-r1-0", threading.Event(), threading.Event(),
                          Fence(lambda _cid: None, lease_seconds=10.0), standard_registry())
    worker.prefetched = Prefetched(backend.queues, inbox)
    extended: list[list[str]] = []
    original = backend.queues.set_visibility_many
    monkeypatch.setattr(backend.queues, "set_visibility_many",
                        lambda url, receipts, seconds: (extended.append(receipts), original(url, receipts, seconds)))
    first = worker._receive(inbox)
    assert first is not None and first.visible_until is not None  # its lease confirms it if it runs long
    held = [worker.prefetched.pop(), worker.prefetched.pop()]
    assert all(r is not None and r.visible_until is None for r in held)  # confirmed: their lease need not
    assert extended == [[r.receipt for r in held if r is not None]]


def test_a_health_check_reuses_a_reading_a_message_sent_since_the_last_check_confirmed(
        backend: Any, monkeypatch: Any) -> None:  # noqa: F811
    """The health check (every ABACO_WORKER_HEALTH_CHECK_SECONDS) reads the worker's record (eventually
    consistent); it reads the actor only when no message sent since the previous check named the version in
    hand, and writes nothing (the API shows the host's heartbeat as the last health check)."""
    import threading

    from chalicelib.domain.models import ActorStatus, WorkerStatus
    from chalicelib.services import workers as worker_service
    from runners.host.worker import WorkerThread
    from tests.unit.test_protocol import registered_actor

    actor = registered_actor(backend)
    requested = worker_service.ensure_worker(backend, actor)
    assert requested is not None
    ready = backend.workers.update(requested, {"status": WorkerStatus.READY.value, "host_id": "r1"})
    assert ready is not None
    thread = WorkerThread(backend, "r1", "127.0.0.1", actor.tenant, actor.id, ready.id, threading.Event(),
                          threading.Event(), Fence(lambda _cid: None), standard_registry(), requested=ready)
    reads, writes = [], []
    get, update = backend.actors.get, backend.workers.update
    monkeypatch.setattr(backend.actors, "get", lambda *a: (reads.append(1), get(*a))[1])
    monkeypatch.setattr(backend.workers, "update", lambda *a, **k: (writes.append(a[1]), update(*a, **k))[1])
    assert thread._still_wanted(ready) and len(reads) == 1 and writes == []  # the first: reads; wrote at set-up
    thread._checked_at -= 60  # the next check is due
    sent = thread._checked_wall + 0.0005  # SQS accepted it after that check
    held = thread.actor_view.for_message(Received("b", "r", 1, "m", sent_at=sent, actor_version=actor.version))
    assert held.version == actor.version and len(reads) == 1  # the message named the reading's version
    assert thread._still_wanted(ready) and len(reads) == 1  # confirmed since the last check: no read
    thread._checked_at -= 60
    assert thread._still_wanted(ready) and len(reads) == 2  # no message since: read
    assert writes == []
    backend.workers.update(ready, {"status": WorkerStatus.SHUTDOWN_REQUESTED.value})
    thread._checked_at -= 60
    assert not thread._still_wanted(ready)  # a stop request
    backend.workers.update(ready, {"status": WorkerStatus.READY.value})
    writes.clear()
    backend.actors.set_status(actor.tenant, actor.id, ActorStatus.ERROR, "broken")
    thread._checked_at -= 60
    assert not thread._still_wanted(ready)  # read (no message since), and an actor in ERROR runs nothing


def test_a_health_check_confirms_a_verdict_to_leave_with_a_consistent_read(backend: Any, monkeypatch: Any) -> None:  # noqa: F811
    """The check's eventually consistent read may return the record as it was before the worker's activation
    here (parked, another host): leaving on it would strand a READY record with no thread. Such a verdict is
    read again, consistently; a real one (a stop request) still ends the worker."""
    import threading

    from chalicelib.domain.models import WorkerStatus
    from chalicelib.services import workers as worker_service
    from runners.host.worker import WorkerThread
    from tests.unit.test_protocol import registered_actor

    actor = registered_actor(backend)
    requested = worker_service.ensure_worker(backend, actor)
    assert requested is not None
    ready = backend.workers.update(requested, {"status": WorkerStatus.READY.value, "host_id": "r1"})
    assert ready is not None
    stale = ready.model_copy(update={"parked": True, "host_id": "r0"})
    find, reads = backend.workers.find, []

    def lagging(dbid: str, wid: str, consistent: bool = True) -> Any:  # an eventual read still shows the past
        reads.append(consistent)
        return find(dbid, wid) if consistent else stale

    monkeypatch.setattr(backend.workers, "find", lagging)
    thread = WorkerThread(backend, "r1", "127.0.0.1", actor.tenant, actor.id, ready.id, threading.Event(),
                          threading.Event(), Fence(lambda _cid: None), standard_registry(), requested=ready)
    thread._record = ready
    assert thread._still_wanted(ready) and reads == [False, True] and thread._record is ready
    backend.workers.update(ready, {"status": WorkerStatus.SHUTDOWN_REQUESTED.value})
    thread._checked_at -= 60
    assert not thread._still_wanted(ready)
