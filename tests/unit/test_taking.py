"""A message to an actor whose worker this process saw taking messages within ``taking.SEEN_SECONDS`` skips the
worker check (``chalicelib/services/taking.py``); after the window, for a new revision, after a worker stop
and for an actor whose workers were not taking, the check is made (against in-process moto)."""
from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.models import Actor, WorkerStatus
from chalicelib.services import taking
from chalicelib.services import workers as worker_service
from chalicelib.wiring.backend import Backend
from tests.unit.test_protocol import (
    backend,  # noqa: F401 (fixture)
    registered_actor,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(taking.time, "monotonic", clock)
    return clock


def _counting(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> list[str]:  # noqa: F811
    """Every read of an actor's workers the API makes, by actor."""
    reads: list[str] = []
    original = backend.workers.list

    def listing(actor_dbid: str, *args: Any, **kwargs: Any) -> Any:
        reads.append(actor_dbid)
        return original(actor_dbid, *args, **kwargs)

    monkeypatch.setattr(backend.workers, "list", listing)
    return reads


def _ready(backend: Backend, actor: Actor) -> None:  # noqa: F811
    requested = worker_service.ensure_worker(backend, actor)
    assert requested is not None
    assert backend.workers.update(requested, {"status": WorkerStatus.READY.value, "host_id": "h1"}) is not None


def test_a_taking_worker_seen_spares_the_next_messages_check(backend: Backend, clock: Clock,  # noqa: F811
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    actor = registered_actor(backend)
    _ready(backend, actor)
    reads = _counting(backend, monkeypatch)
    assert worker_service.ensure_worker(backend, actor, wake=True) is None
    assert reads == [actor.dbid]  # the first message of this process checks, and sees it taking
    clock.now += taking.SEEN_SECONDS / 2
    assert worker_service.ensure_worker(backend, actor, wake=True) is None
    assert reads == [actor.dbid]  # within the window: no read
    clock.now += taking.SEEN_SECONDS
    assert worker_service.ensure_worker(backend, actor, wake=True) is None
    assert reads == [actor.dbid] * 2  # the window is counted from the check, not the skipped message
    newer = actor.model_copy(update={"revision": actor.revision + 1})
    worker_service.ensure_worker(backend, newer, wake=True)
    assert reads[-1] == actor.dbid and len(reads) == 3  # another revision: checked (and a worker requested)


def test_a_stopped_worker_is_forgotten_and_a_woken_one_remembered(backend: Backend, clock: Clock,  # noqa: F811
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    actor = registered_actor(backend)
    _ready(backend, actor)
    reads = _counting(backend, monkeypatch)
    worker_service.ensure_worker(backend, actor, wake=True)
    [worker] = backend.workers.list(actor.dbid)
    worker_service.stop_worker(backend, actor, worker.id)
    reads.clear()
    worker_service.ensure_worker(backend, actor, wake=True)
    assert reads == [actor.dbid]  # stopped through this process: forgotten, checked again

    parked_actor = registered_actor(backend)
    _ready(backend, parked_actor)
    [ready] = backend.workers.list(parked_actor.dbid)
    assert backend.workers.park(ready) is not None  # parked: not taking until a message wakes it
    reads.clear()
    worker_service.ensure_worker(backend, parked_actor, wake=True)  # wakes it: taking from now on
    worker_service.ensure_worker(backend, parked_actor, wake=True)
    assert reads == [parked_actor.dbid] and taking.recently(parked_actor)
    [woken] = backend.workers.list(parked_actor.dbid)
    assert worker_service.taking(woken)

    lone = registered_actor(backend)  # no worker: the message requests one (not remembered), the next sees it
    reads.clear()
    assert worker_service.ensure_worker(backend, lone, wake=True) is not None and not taking.recently(lone)
    assert worker_service.ensure_worker(backend, lone, wake=True) is None
    assert reads == [lone.dbid] * 2 and taking.recently(lone)
    erred = lone.model_copy(update={"id": "other", "status": "ERROR"})
    assert worker_service.ensure_worker(backend, erred, wake=True) is None and not taking.recently(erred)


def test_entries_are_per_revision_and_bounded(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(taking, "MAX_ENTRIES", 4)
    monkeypatch.setattr(taking, "_seen", {})
    actors = [Actor(tenant="t", id=f"a{i}", owner="o", image="i", revision=1) for i in range(5)]
    for i, actor in enumerate(actors):
        taking.saw(actor, now=clock.now + i)
    assert taking.recently(actors[-1]) and not taking.recently(actors[0])  # the oldest half went
    assert len(taking._seen) <= 4
    assert not taking.recently(actors[-1].model_copy(update={"revision": 2}))
