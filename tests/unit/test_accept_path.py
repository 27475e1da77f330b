"""The message accept path's pieces, against in-process moto: ``submit`` records, sends and asks for a
worker, and writes the execution once (the send is not recorded on it: the reconciler asks SQS), the
owner test that spares the grants read, and ``fanout.beside``."""
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


def test_submit_records_enqueues_and_requests_a_worker_with_one_write_of_the_execution(
        backend: Backend) -> None:  # noqa: F811
    actor = registered_actor(backend)
    execution = messages.submit(backend, actor, "u", messages.ParsedMessage("str", "hello"), {})
    stored = backend.executions.get(actor.dbid, execution.id)
    assert stored.status == ExecutionStatus.SUBMITTED and stored.inbox_message
    assert not stored.enqueued and stored.last_sent_at is None  # written once, by the create
    assert backend.queues.inbox_depth(TENANT, actor.id) == 1
    assert len(backend.workers.list(actor.dbid)) == 1  # the message asked for a worker


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
