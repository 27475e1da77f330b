"""Scaling races, one interleaving at a time, against in-process moto: a message to an actor without a
worker starts exactly one, whichever of the API (``ensure_worker``) and the autoscaler gets there first and
wherever the other one's reads and writes fall in between (the bench saw woken actors get two); and a worker
its host retires for another actor's work never claims a message after that."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

import pytest

from chalicelib.adapters.storage.workers import WorkerStore
from chalicelib.domain.models import Actor, Execution, Host, Worker
from chalicelib.domain.queue_messages import InboxMessage
from chalicelib.services import workers as worker_service
from chalicelib.wiring.backend import Backend
from chalicelib.wiring.settings import Settings
from local import bootstrap
from runners.duties import autoscaler
from runners.fence import Fence
from runners.host.worker import Prefetched, WorkerThread
from runners.metrics import standard_registry
from tests.unit.test_protocol import backend  # noqa: F401 (fixture)

TENANT = "T"


class HookedWorkers(WorkerStore):
    """The real workers table, running ``hook`` once: right after the first ``all``/``list`` read, or
    right before the first ``create``, as ``at`` says."""

    def __init__(self, settings: Settings, at: str, hook: Callable[[], object]) -> None:
        super().__init__(settings)
        self._at = at
        self._hook: Callable[[], object] | None = hook

    def _fire(self, point: str) -> None:
        if point == self._at and self._hook is not None:
            hook, self._hook = self._hook, None
            hook()

    def all(self) -> list[Worker]:
        found = super().all()
        self._fire("all")
        return found

    def list(self, actor_dbid: str) -> list[Worker]:
        found = super().list(actor_dbid)
        self._fire("list")
        return found

    def create(self, worker: Worker) -> None:
        self._fire("create")
        super().create(worker)


def _woken_actor(backend: Backend) -> Actor:  # noqa: F811
    """A stateless actor (three slots) with no worker and one message just recorded for it."""
    bootstrap.create_queues(backend.settings)
    actor = Actor(tenant=TENANT, id=f"A{time.time_ns()}", image="abacosamples/noop", owner="u", max_workers=3)
    backend.actors.create(actor)
    backend.hosts.put(Host(id="h1", pools=["default"], slots=4))
    backend.executions.create(Execution(tenant=TENANT, actor_id=actor.id, id=f"E{time.time_ns()}", executor="u",
                                        open_pool="default", phases={"queued": time.time()}))
    return actor


def _workers(backend: Backend, actor: Actor) -> list[str]:  # noqa: F811
    return [w.id for w in backend.workers.list(actor.dbid)]


@pytest.mark.parametrize("at", ["all", "list", "create"])
def test_the_api_starting_a_worker_during_an_autoscaler_pass_leaves_one_worker(backend: Backend, at: str) -> None:  # noqa: F811
    actor = _woken_actor(backend)
    hooked = replace(backend, workers=HookedWorkers(backend.settings, at,
                                                    lambda: worker_service.ensure_worker(backend, actor, wake=True)))
    autoscaler.run_once(hooked, time.time())
    assert len(_workers(backend, actor)) == 1


@pytest.mark.parametrize("at", ["list", "create"])
def test_an_autoscaler_pass_during_the_apis_start_leaves_one_worker(backend: Backend, at: str) -> None:  # noqa: F811
    actor = _woken_actor(backend)
    hooked = replace(backend, workers=HookedWorkers(backend.settings, at,
                                                    lambda: autoscaler.run_once(backend, time.time())))
    worker_service.ensure_worker(hooked, actor, wake=True)
    assert len(_workers(backend, actor)) == 1


def test_a_retiring_worker_in_the_lowest_slot_does_not_stop_a_new_one(backend: Backend) -> None:  # noqa: F811
    actor = _woken_actor(backend)
    first = worker_service.ensure_worker(backend, actor, wake=True)
    assert first is not None
    backend.workers.update(first, {"status": "SHUTTING_DOWN"})  # leaving after its time to live
    second = worker_service.ensure_worker(backend, actor, wake=True)
    assert second is not None and second.slot == 1


def _idle_worker(backend: Backend, inbox: str) -> WorkerThread:  # noqa: F811
    """A worker thread (not started) of an actor with an inbox, idle for a minute."""
    worker = WorkerThread(backend, "r1", "127.0.0.1", TENANT, "A", "A-r1-0", threading.Event(), threading.Event(),
                          Fence(lambda _cid: None), standard_registry())
    worker.prefetched = Prefetched(backend.queues, inbox)
    worker.idle_since = time.monotonic() - 60
    return worker


def test_a_retired_worker_takes_no_message_and_hands_back_what_its_poll_brings(backend: Backend) -> None:  # noqa: F811
    bootstrap.create_queues(backend.settings)
    inbox = backend.queues.create_inbox(TENANT, "A")
    backend.queues.send_inbox(InboxMessage(tenant=TENANT, actor_id="A", execution_id="E1", body="m", size=1))
    worker = _idle_worker(backend, inbox)
    now = time.monotonic()
    assert not worker.retire(now, 120)  # not idle long enough
    assert worker.retire(now, 5) and not worker.retire(now, 5)  # once
    assert worker._receive(inbox) is None  # the long poll that was under way returns a message...
    assert backend.queues.depth(inbox) == (1, 0)  # ... which is visible again at once, never claimed
    assert not worker.busy


def test_a_busy_or_warm_or_holding_worker_is_not_retired(backend: Backend) -> None:  # noqa: F811
    bootstrap.create_queues(backend.settings)
    inbox = backend.queues.create_inbox(TENANT, "A")
    busy = _idle_worker(backend, inbox)
    assert busy._take() and busy.busy and busy.idle_since is None
    assert not busy.retire(time.monotonic(), 5)
    busy._idle()
    assert busy.retire(time.monotonic() + 10, 5)  # idle again for long enough
    warm = _idle_worker(backend, inbox)
    warm.keeps_warm = True  # the ``sync`` hint's warm worker
    assert not warm.retire(time.monotonic(), 5)
    holding = _idle_worker(backend, inbox)
    backend.queues.send_inbox(InboxMessage(tenant=TENANT, actor_id="A", execution_id="E2", body="m", size=1))
    holding.prefetched.add(backend.queues.receive(inbox, wait_seconds=0))
    assert not holding.retire(time.monotonic(), 5)
