"""Scaling races, one interleaving at a time, against in-process moto: a message to an actor without a
worker starts exactly one, whichever of the API (``ensure_worker``) and the autoscaler gets there first and
wherever the other one's reads and writes fall in between (the bench saw woken actors get two)."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import pytest

from chalicelib.backend import Backend
from chalicelib.models import Actor, Execution, Host, Worker
from chalicelib.services import workers as worker_service
from chalicelib.settings import Settings
from chalicelib.storage.workers import WorkerStore
from localstack import bootstrap
from runners import autoscaler
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
                                                    lambda: worker_service.ensure_worker(backend, actor)))
    autoscaler.run_once(hooked, time.time())
    assert len(_workers(backend, actor)) == 1


@pytest.mark.parametrize("at", ["list", "create"])
def test_an_autoscaler_pass_during_the_apis_start_leaves_one_worker(backend: Backend, at: str) -> None:  # noqa: F811
    actor = _woken_actor(backend)
    hooked = replace(backend, workers=HookedWorkers(backend.settings, at,
                                                    lambda: autoscaler.run_once(backend, time.time())))
    worker_service.ensure_worker(hooked, actor)
    assert len(_workers(backend, actor)) == 1


def test_a_retiring_worker_in_the_lowest_slot_does_not_stop_a_new_one(backend: Backend) -> None:  # noqa: F811
    actor = _woken_actor(backend)
    first = worker_service.ensure_worker(backend, actor)
    assert first is not None
    backend.workers.update(first, {"status": "SHUTTING_DOWN"})  # leaving after its time to live
    second = worker_service.ensure_worker(backend, actor)
    assert second is not None and second.slot == 1
