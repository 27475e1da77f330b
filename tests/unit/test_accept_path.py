"""The message accept path's pieces, against in-process moto: ``submit`` still records, sends, marks and
asks for a worker (the mark now beside the worker check), a mark that finds the execution finished is not
an error, the owner test that spares the grants read, and ``fanout.beside``."""
from __future__ import annotations

import pytest

from chalicelib.domain.models import Actor, ExecutionStatus
from chalicelib.identity.auth import Caller
from chalicelib.services import fanout, messages
from chalicelib.services import permissions as perms
from chalicelib.wiring.backend import Backend
from tests.unit.test_protocol import (
    backend,  # noqa: F401 (fixture)
    registered_actor,
)

TENANT = "T"


def test_submit_records_enqueues_marks_and_requests_a_worker(backend: Backend) -> None:  # noqa: F811
    actor = registered_actor(backend)
    execution = messages.submit(backend, actor, "u", messages.ParsedMessage("str", "hello"), {})
    stored = backend.executions.get(actor.dbid, execution.id)
    assert stored.enqueued and stored.status == ExecutionStatus.SUBMITTED
    assert backend.queues.inbox_depth(TENANT, actor.id) == 1
    assert len(backend.workers.list(actor.dbid)) == 1  # the message asked for a worker


def test_a_late_mark_on_a_finished_execution_is_not_an_error(backend: Backend) -> None:  # noqa: F811
    actor = registered_actor(backend)
    execution, _ = messages.record(backend, actor, "u", messages.ParsedMessage("str", "hello"), {})
    assert backend.executions.fail(execution, "finished before the mark") is not None
    assert messages.mark_sent(backend, execution).id == execution.id
    assert backend.executions.get(actor.dbid, execution.id).status == ExecutionStatus.ERROR


def test_only_the_owner_in_the_actors_tenant_owns_it() -> None:
    actor = Actor(tenant=TENANT, id="A1", image="abacosamples/noop", owner="u")
    assert perms.owns(Caller(username="u", tenant=TENANT), actor)
    assert not perms.owns(Caller(username="v", tenant=TENANT), actor)
    assert not perms.owns(Caller(username="u", tenant="OTHER"), actor)


def test_beside_returns_results_and_raises_errors() -> None:
    assert fanout.beside(lambda a, b: a + b, 2, 3).result(timeout=10) == 5

    def boom() -> None:
        raise ValueError("from the side")

    with pytest.raises(ValueError, match="from the side"):
        fanout.beside(boom).result(timeout=10)
