"""The runner's steps end to end on the in-memory engine (tests/fake_engine.py) and in-process moto: each
way a message can end (ran, start failed, handed back, poison), what the engine saw, and the inbox
consumer's four operations, including on an inbox deleted while its message was held."""
from __future__ import annotations

import threading

import pytest

from chalicelib.adapters.queues import Received
from chalicelib.adapters.storage.logs import execution_key
from chalicelib.domain.models import Actor, AttemptReason, ExecutionStatus
from chalicelib.services import messages as message_service
from chalicelib.wiring.backend import Backend
from runners.fence import Fence
from runners.metrics import standard_registry
from runners.pipeline.consumer import InboxConsumer
from runners.pipeline.engine import ContainerSpec
from runners.pipeline.execution import ExecutionRunner
from runners.pipeline.outcomes import Kind
from tests.fake_engine import FakeEngine, Program
from tests.unit.test_protocol import backend, registered_actor  # noqa: F401 (fixture)


def _runner(backend: Backend, actor: Actor, engine: FakeEngine,  # noqa: F811
            kill: threading.Event | None = None) -> ExecutionRunner:
    inbox = backend.queues.inbox_url(actor.tenant, actor.id)
    return ExecutionRunner(backend, engine, "r1", "w1", InboxConsumer(backend.queues, inbox), kill or threading.Event(),
                           Fence(lambda _cid: None), standard_registry())


def _sent(backend: Backend, actor: Actor) -> tuple[str, Received]:  # noqa: F811
    execution = message_service.submit(backend, actor, "u", message_service.ParsedMessage("str", "hi"), {})
    inbox = backend.queues.inbox_url(actor.tenant, actor.id)
    return execution.id, backend.queues.receive(inbox, wait_seconds=0)[0]


def test_a_message_runs_to_complete_with_its_logs_and_is_acknowledged(backend: Backend) -> None:  # noqa: F811
    actor = registered_actor(backend)
    engine = FakeEngine(lambda spec: Program(output=f"MSG={spec.environment['MSG']}".encode(), exit_code=3))
    eid, received = _sent(backend, actor)
    outcome = _runner(backend, actor, engine).handle(received, actor)
    assert outcome.kind is Kind.RAN and outcome.execution_id == eid
    record = backend.executions.get(actor.dbid, eid)
    assert record.status == ExecutionStatus.COMPLETE and record.exit_code == 3
    assert [a.reason for a in record.attempts] == [AttemptReason.EXITED.value]
    assert backend.logs.read(execution_key(actor.dbid, eid)) == "MSG=hi"
    assert engine.containers == {} and len(engine.removed) == 1  # the container went with the execution
    assert backend.queues.depth(backend.queues.inbox_url(actor.tenant, actor.id)) == (0, 0)


def test_a_container_that_cannot_start_is_retried_and_the_actor_counts_it(backend: Backend) -> None:  # noqa: F811
    actor = registered_actor(backend)
    engine = FakeEngine(unstartable_images=(actor.image,))
    eid, received = _sent(backend, actor)
    assert _runner(backend, actor, engine).handle(received, actor).kind is Kind.START_FAILED
    record = backend.executions.get(actor.dbid, eid)
    assert record.status == ExecutionStatus.SUBMITTED and record.charged == 0
    assert backend.actors.get(actor.tenant, actor.id).start_failures == 1
    assert engine.containers == {}  # created, never started, removed


def test_a_stopping_runner_hands_the_attempt_back_and_kills_its_container(backend: Backend) -> None:  # noqa: F811
    actor = registered_actor(backend)
    engine = FakeEngine(lambda _spec: Program(until_signalled=True))
    eid, received = _sent(backend, actor)
    kill = threading.Event()
    kill.set()  # the second signal arrived: running work goes back at once
    assert _runner(backend, actor, engine, kill).handle(received, actor).kind is Kind.HANDED_BACK
    record = backend.executions.get(actor.dbid, eid)
    assert record.status == ExecutionStatus.SUBMITTED
    assert [a.reason for a in record.attempts] == [AttemptReason.RUNNER_SHUTDOWN.value]
    assert backend.queues.depth(backend.queues.inbox_url(actor.tenant, actor.id)) == (1, 0)  # visible again


def test_a_message_that_is_not_an_inbox_message_is_dead_lettered_without_a_container(
        backend: Backend) -> None:  # noqa: F811
    actor = registered_actor(backend)
    engine = FakeEngine()
    inbox = backend.queues.inbox_url(actor.tenant, actor.id)
    backend.queues._call("send_message", QueueUrl=inbox, MessageBody='{"v": 99}')
    received = backend.queues.receive(inbox, wait_seconds=0)[0]
    assert _runner(backend, actor, engine).handle(received, actor).kind is Kind.POISON
    assert engine.containers == {} and engine.removed == []
    assert backend.queues.depth(inbox) == (0, 0) and backend.queues.depth(backend.queues.dead_letter_url())[0] == 1


def test_the_fake_engine_stops_a_signalled_container_with_dockers_exit_codes() -> None:
    engine = FakeEngine(lambda _spec: Program(until_signalled=True), broken_images=("missing",))
    spec = ContainerSpec(image="img", environment={}, labels={})
    cid = engine.create(spec)
    engine.start(cid)
    assert not engine.wait(cid, timeout=0) and engine.running() == [cid]
    engine.signal(cid, "SIGTERM")
    assert engine.wait(cid, timeout=0) and engine.inspect_state(cid).exit_code == 143
    with pytest.raises(Exception, match="no such image"):
        engine.create(ContainerSpec(image="missing", environment={}, labels={}))


def test_the_consumer_acks_requeues_extends_and_dead_letters(backend: Backend) -> None:  # noqa: F811
    actor = registered_actor(backend)
    url = backend.queues.inbox_url(actor.tenant, actor.id)
    consumer = InboxConsumer(backend.queues, url)
    for body in ("a", "b", "c"):
        backend.queues._call("send_message", QueueUrl=url, MessageBody=body)
    first, second, third = backend.queues.receive(url, wait_seconds=0, max_messages=3, visibility=600)
    consumer.ack(first)
    consumer.requeue_after(second, 0)
    consumer.extend(third, 900)
    assert backend.queues.depth(url) == (1, 1)  # first gone, second visible, third still hidden
    again = backend.queues.receive(url, wait_seconds=0, visibility=600)[0]
    assert again.body == "b"
    consumer.dead_letter(again, "because")
    assert backend.queues.depth(url) == (0, 1) and backend.queues.depth(backend.queues.dead_letter_url())[0] == 1


def test_the_consumer_treats_a_deleted_inbox_as_done(backend: Backend) -> None:  # noqa: F811
    actor = registered_actor(backend)
    url = backend.queues.inbox_url(actor.tenant, actor.id)
    backend.queues._call("send_message", QueueUrl=url, MessageBody="x")
    received = backend.queues.receive(url, wait_seconds=0)[0]
    backend.queues.delete_inbox(actor.tenant, actor.id)
    consumer = InboxConsumer(backend.queues, url)
    for operation in (lambda: consumer.ack(received), lambda: consumer.requeue_after(received, 0),
                      lambda: consumer.extend(received, 30), lambda: consumer.dead_letter(received, "r")):
        operation()  # no NotFound: the message went with its queue
