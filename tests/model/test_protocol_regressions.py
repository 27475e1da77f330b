"""Regression tests for what the execution state machine found, one scenario each, on in-process moto."""
from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from chalicelib.adapters.queues import Received
from chalicelib.adapters.storage.logs import execution_key
from chalicelib.domain import clock
from chalicelib.domain.errors import Conflict
from chalicelib.domain.models import Actor, AttemptReason, ExecutionStatus, utcnow
from chalicelib.domain.queue_messages import InboxMessage
from chalicelib.services import actors as actor_service
from chalicelib.services import cleanup
from chalicelib.services import messages as message_service
from runners.duties import reconciler
from runners.pipeline.claim import Outcome
from runners.pipeline.execution import Context
from tests.model.world import World


class Clock:
    def __init__(self) -> None:
        self.now = float(int(time.time()))


@pytest.fixture
def fake_clock() -> Iterator[Clock]:
    fake = Clock()
    with clock.replaced(lambda: fake.now):
        yield fake


def _actor(world: World) -> Actor:
    return actor_service.register(world.backend, world.caller, {"image": "abacosamples/test"})


def _submit(world: World, actor: Actor) -> str:
    parsed = message_service.ParsedMessage("str", "hello")
    return message_service.submit(world.backend, actor, "modeller", parsed, {}).id


def _receive(world: World, actor: Actor) -> Received:
    url = world.backend.queues.inbox_url(actor.tenant, actor.id)
    return world.backend.queues.receive(url, wait_seconds=0, visibility=600)[0]


def _take(world: World, runner: str, actor: Actor, received: Received) -> Context | Outcome:
    return world.runner(runner, actor).take(received, actor)


def _commit(world: World, runner: str, ctx: Context, text: str) -> bool:
    fields = {"status": ExecutionStatus.COMPLETE.value, "exit_code": 0, "finish_time": utcnow()}
    return world.runner(runner, ctx.actor).commit(ctx, fields, AttemptReason.EXITED.value, text)


def _taken_over(world: World, fake_clock: Clock, actor: Actor) -> tuple[Context, Context]:
    """r1 takes attempt 1 and pauses past its lease; the message comes back and r2 takes attempt 2."""
    received = _receive(world, actor)
    first = _take(world, "r1", actor, received)
    assert isinstance(first, Context)
    fake_clock.now += 11
    world.backend.queues.set_visibility(world.backend.queues.inbox_url(actor.tenant, actor.id), received.receipt, 0)
    second = _take(world, "r2", actor, _receive(world, actor))
    assert isinstance(second, Context) and second.execution.attempt == 2
    return first, second


def test_a_stale_attempt_cannot_replace_the_logs_of_the_result(world: World, fake_clock: Clock) -> None:
    actor = _actor(world)
    eid = _submit(world, actor)
    first, second = _taken_over(world, fake_clock, actor)
    assert _commit(world, "r2", second, "attempt 2 output")
    assert not _commit(world, "r1", first, "attempt 1 output")  # r1 wakes up: its result is refused...
    assert world.backend.logs.read(execution_key(actor.dbid, eid)) == "attempt 2 output"  # ...and its logs


def test_a_copy_of_the_message_at_the_lease_end_is_dropped_not_kept(world: World, fake_clock: Clock) -> None:
    """At the lease's last second the lease is live for the claim; the refusal must agree and drop the
    copy (another message runs the attempt), not hide it again as if it were the holder's own."""
    actor = _actor(world)
    eid = _submit(world, actor)
    assert isinstance(_take(world, "r1", actor, _receive(world, actor)), Context)
    world.backend.queues.send_inbox(InboxMessage.decode(world.backend.executions.get(actor.dbid, eid).inbox_message
                                                        or ""))
    fake_clock.now += world.backend.settings.visibility_timeout
    outcome = _take(world, "r2", actor, _receive(world, actor))
    assert isinstance(outcome, Outcome) and outcome.kind == "duplicate"


def test_deleting_an_actor_ends_its_waiting_executions_then_removes_them(world: World, fake_clock: Clock) -> None:
    actor = _actor(world)
    eid = _submit(world, actor)
    actor_service.delete(world.backend, world.caller, actor.id)
    assert _clean(world, actor).executions_ended == [eid]  # the duty's first pass ends it...
    record = world.backend.executions.get(actor.dbid, eid)
    assert record.status == ExecutionStatus.ERROR and record.status_message == cleanup.EXECUTION_ORPHANED
    _clean(world, actor)  # ...the next removes it, the one after the actor
    assert world.backend.executions.find(actor.dbid, eid) is None
    assert actor.id in _clean(world, actor).actors_removed
    assert world.backend.actors.find(actor.tenant, actor.id) is None


def _clean(world: World, actor: Actor) -> cleanup.Report:
    """One pass of the cleanup duty over this actor (other tests' deleted actors share the tables)."""
    report = cleanup.Report()
    cleanup.clean(world.backend, actor, world.backend.settings.cleanup_batch, report)
    return report


def _held_by_r1_then_deleted(world: World) -> tuple[Actor, str, Context]:
    """A message taken by runner r1 (attempt 1), then its actor deleted while r1 holds it."""
    actor = _actor(world)
    eid = _submit(world, actor)
    ctx = _take(world, "r1", actor, _receive(world, actor))
    assert isinstance(ctx, Context)
    actor_service.delete(world.backend, world.caller, actor.id)
    _clean(world, actor)  # the cleanup's first pass removes the inbox; r1's execution stays RUNNING
    return actor, eid, ctx


def test_the_reconciler_ends_a_lost_execution_of_a_deleted_actor(world: World, fake_clock: Clock) -> None:
    actor, eid, _ctx = _held_by_r1_then_deleted(world)  # and runner r1 dies
    fake_clock.now += 400
    report = reconciler.run_once(world.backend, fake_clock.now)
    assert eid in report.expired
    record = world.backend.executions.get(actor.dbid, eid)
    assert record.status == ExecutionStatus.ERROR and record.status_message == reconciler.ACTOR_DELETED
    assert [a.reason for a in record.attempts] == [AttemptReason.RUNNER_LOST.value]


def test_a_result_is_recorded_when_the_actor_was_deleted_while_it_ran(world: World, fake_clock: Clock) -> None:
    actor, eid, ctx = _held_by_r1_then_deleted(world)
    assert _commit(world, "r1", ctx, "done")  # the message went with the inbox: nothing left to delete
    assert world.backend.executions.get(actor.dbid, eid).status == ExecutionStatus.COMPLETE


def test_a_hand_back_after_the_actor_was_deleted_ends_the_execution(world: World, fake_clock: Clock) -> None:
    """Shutdown hands back a message whose actor was deleted while its container ran: the inbox is gone, so
    there is nothing to make visible; the runner must not fail on it, and the execution still ends."""
    actor, eid, ctx = _held_by_r1_then_deleted(world)
    world.runner("r1", actor).hand_back(ctx)
    fake_clock.now += 400
    reconciler.run_once(world.backend, fake_clock.now)
    record = world.backend.executions.get(actor.dbid, eid)
    assert record.status == ExecutionStatus.ERROR, record.status


def test_a_start_failure_after_the_actor_was_deleted_is_not_an_error(world: World, fake_clock: Clock) -> None:
    actor, eid, ctx = _held_by_r1_then_deleted(world)
    assert world.runner("r1", actor).start_failed(ctx, "no such image").kind == "start_failed"
    fake_clock.now += 400
    reconciler.run_once(world.backend, fake_clock.now)
    assert world.backend.executions.get(actor.dbid, eid).status == ExecutionStatus.ERROR


def test_a_start_failure_of_a_taken_over_attempt_counts_nothing(world: World, fake_clock: Clock) -> None:
    """r1 paused past its lease and r2 took attempt 2; r1's container then fails to start. r1 must neither
    count a start failure against the actor nor touch r2's execution or the message."""
    actor = _actor(world)
    eid = _submit(world, actor)
    first, _second = _taken_over(world, fake_clock, actor)
    assert world.runner("r1", actor).start_failed(first, "no such image").kind == "fenced"
    assert world.backend.actors.get(actor.tenant, actor.id).start_failures == 0
    record = world.backend.executions.get(actor.dbid, eid)
    assert record.status == ExecutionStatus.RUNNING and record.runner_id == "r2" and record.attempt == 2


def test_a_failure_of_a_taken_over_attempt_leaves_the_execution_and_message_alone(world: World,
                                                                                  fake_clock: Clock) -> None:
    actor = _actor(world)
    eid = _submit(world, actor)
    first, second = _taken_over(world, fake_clock, actor)
    world.runner("r1", actor).fail(first, "could not deliver the message")
    inbox = world.backend.queues.inbox_url(actor.tenant, actor.id)
    assert world.backend.queues.depth(inbox) == (0, 1)  # r2's copy is still in flight, not deleted by r1
    record = world.backend.executions.get(actor.dbid, eid)
    assert record.status == ExecutionStatus.RUNNING and record.runner_id == "r2"
    assert _commit(world, "r2", second, "done")
    assert world.backend.executions.get(actor.dbid, eid).status == ExecutionStatus.COMPLETE


def test_a_put_from_a_read_before_a_start_failure_count_is_refused(world: World) -> None:
    """The count does not bump the version; a full write over an older read used to undo it."""
    actor = actor_service.register(world.backend, world.caller, {"image": "abacosamples/test"})
    seen = actor_service.get(world.backend, world.caller, actor.id)
    assert world.backend.actors.count_start_failure(actor.tenant, actor.id) == 1
    with pytest.raises(Conflict):
        actor_service.apply_update(world.backend, world.caller, seen, {"image": "abacosamples/test"})
    assert world.backend.actors.get(actor.tenant, actor.id).start_failures == 1
    world.forget(actor)


def test_a_new_revision_counts_its_start_failures_afresh(world: World) -> None:
    actor = actor_service.register(world.backend, world.caller, {"image": "abacosamples/test"})
    for _ in range(3):
        world.backend.actors.count_start_failure(actor.tenant, actor.id)
    same = actor_service.update(world.backend, world.caller, actor.id, {"image": "abacosamples/test"})
    assert same.start_failures == 3  # the same image: still the same streak
    fixed = actor_service.update(world.backend, world.caller, actor.id, {"image": "abacosamples/py3_func"})
    assert fixed.revision == 2 and world.backend.actors.get(actor.tenant, actor.id).start_failures == 0
    world.forget(actor)


def test_a_put_reapplies_over_a_runner_write_that_landed_between_its_read_and_write(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Seen in CI: the runner recorded a start failure (or READY) during a PUT, which answered 409 although
    the client sent no version. The PUT now re-reads and re-applies, keeping the runner's write."""
    actor = actor_service.register(world.backend, world.caller, {"image": "abacosamples/test"})
    real_get, interleaved = actor_service.get, []

    def get_then_runner_writes(*args: object) -> Actor:
        seen = real_get(*args)  # type: ignore[arg-type]
        if not interleaved:
            interleaved.append(world.backend.actors.count_start_failure(actor.tenant, actor.id))
        return seen

    monkeypatch.setattr(actor_service, "get", get_then_runner_writes)
    updated = actor_service.update(world.backend, world.caller, actor.id,
                                   {"image": "abacosamples/test", "description": "by PUT"})
    assert interleaved == [1] and updated.description == "by PUT"
    stored = world.backend.actors.get(actor.tenant, actor.id)
    assert stored.description == "by PUT" and stored.start_failures == 1  # neither write lost
    world.forget(actor)
