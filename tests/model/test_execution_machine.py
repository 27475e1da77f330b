"""T27: a Hypothesis state machine over the execution protocol (reliability plan §1.3, §6 D).

The machine drives the real code: the API's services (submit, force-quit, delete), the runner's claim,
heartbeat (``Lease.beat``), commit, hand-back and start-failure steps, and the reconciler, all against
in-process moto, with the protocol's clock (``chalicelib.domain.clock``) moved forward instead of slept through.
``Expected`` is the reference model, a dict of what each execution's record must say; after every step
the store is compared with it and invariants I2 and I3 are checked: one terminal record, absorbing;
attempts monotonic and bounded by ``max_attempts``; a write of attempt k refused once k+1 claimed; a
live lease never claimed by another runner. The ``drain`` rule checks I1: with every runner crashed,
the reconciler and fresh runners bring every acknowledged execution to a terminal state.
"""
from __future__ import annotations

import time

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from chalicelib.adapters.queues import Received
from chalicelib.adapters.storage.logs import execution_key
from chalicelib.domain import clock
from chalicelib.domain.errors import BadRequest, NotFound
from chalicelib.domain.models import AttemptReason, Execution, ExecutionStatus, utcnow
from chalicelib.domain.queue_messages import InboxMessage
from chalicelib.services import actors as actor_service
from chalicelib.services import cleanup
from chalicelib.services import executions as execution_service
from chalicelib.services import messages as message_service
from runners.duties import reconciler
from runners.pipeline.claim import Outcome
from runners.pipeline.execution import MAX_START_FAILURES, Context, ExecutionRunner
from runners.pipeline.lease import Lease
from tests.model.expected import ActorModel, Expected, Held, InFlight, _check, _final
from tests.model.world import World, model_settings

RUNNERS = ("r1", "r2", "r3")
RECEIVE_VISIBILITY = 600  # real seconds: a message comes back only when a rule says so (redeliver)
DRAIN_ROUNDS = 6


class ExecutionMachine(RuleBasedStateMachine):
    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world
        self.backend = world.backend
        self.lease_seconds = self.backend.settings.visibility_timeout
        self.now = float(int(time.time()))
        self._clock = clock.replaced(lambda: self.now)
        self._clock.__enter__()
        self.actors: list[ActorModel] = []
        self.expected: dict[str, Expected] = {}
        self.held: list[Held] = []
        self.inflight: dict[str, InFlight] = {}  # by SQS message id: its latest receipt

    def teardown(self) -> None:
        try:
            for model in self.actors:
                self.world.forget(model.actor)
        finally:
            self._clock.__exit__(None, None, None)

    # --- helpers --------------------------------------------------------------------------------
    def _model(self, actor_id: str) -> ActorModel:
        return next(m for m in self.actors if m.actor.id == actor_id)

    def _inbox(self, actor_id: str) -> str:
        return self.backend.queues.inbox_url(self._model(actor_id).actor.tenant, actor_id)

    def _record(self, eid: str) -> Execution:
        e = self.expected[eid]
        return self.backend.executions.get(self._model(e.actor_id).actor.dbid, eid)

    def _runner(self, name: str, model: ActorModel) -> ExecutionRunner:
        return self.world.runner(name, model.actor)

    def _owns(self, held: Held) -> bool:
        e = self.expected[held.execution_id]
        return (e.status == ExecutionStatus.RUNNING and e.holder == held.runner.runner_id
                and e.attempt == held.ctx.execution.attempt)

    def _live(self, e: Expected) -> bool:
        """The store's rule: a lease is live until its end has passed (the claim needs ``end < now``)."""
        return e.status == ExecutionStatus.RUNNING and e.lease_end is not None and self.now <= e.lease_end

    def _terminated(self, eid: str, status: ExecutionStatus) -> None:
        """The execution just reached ``status``: from now on its record must never change."""
        e = self.expected[eid]
        record = self._record(eid)
        assert record.status == status, (eid, record.status, status)
        e.status, e.holder, e.lease_end = record.status, None, None
        e.final = _final(record)

    def _forget_message(self, received: Received) -> None:
        """The message was deleted, or made visible again (whichever receipt was used)."""
        self.inflight.pop(received.message_id, None)

    def _expect_take(self, e: Expected, message_id: str) -> str:
        if e.terminal:
            return "duplicate"
        if self._live(e):
            return "duplicate" if e.message_id and e.message_id != message_id else "leased"
        return "exhausted" if e.charged >= e.max_attempts else "claimed"

    # --- rules: the API -------------------------------------------------------------------------
    @rule(max_attempts=st.sampled_from([None, 1, 2, 3]))
    @precondition(lambda self: len(self.actors) < 2)
    def register(self, max_attempts: int | None) -> None:
        body = {"image": "abacosamples/test", "max_attempts": max_attempts}
        actor = actor_service.register(self.backend, self.world.caller, body)
        self.actors.append(ActorModel(actor, max_attempts or self.backend.settings.max_attempts))

    @rule(data=st.data(), sent=st.booleans())
    @precondition(lambda self: any(m.alive for m in self.actors))
    def submit(self, data: st.DataObject, sent: bool) -> None:
        """POST /messages; ``sent=False``: the API died between the record and the inbox (T08)."""
        model = data.draw(st.sampled_from([m for m in self.actors if m.alive]))
        parsed = message_service.ParsedMessage("str", f"message {next(self.world.ids)}")
        if sent:
            execution = message_service.submit(self.backend, model.actor, "modeller", parsed, {})
        else:
            execution, _ = message_service.record(self.backend, model.actor, "modeller", parsed, {})
        assert execution.inbox_message
        self.expected[execution.id] = Expected(model.actor.id, execution.inbox_message, model.max_attempts)

    @rule(data=st.data())
    @precondition(lambda self: self.expected)
    def force_quit(self, data: st.DataObject) -> None:
        eid = data.draw(st.sampled_from(list(self.expected)))
        e = self.expected[eid]
        try:
            execution_service.force_quit(self.backend, self._model(e.actor_id).actor, eid)
        except BadRequest:
            assert e.status != ExecutionStatus.RUNNING
            return
        except NotFound:  # removed by the cleanup of its deleted actor, which only removes finished ones
            assert e.terminal and not self._model(e.actor_id).alive
            return
        assert e.status == ExecutionStatus.RUNNING
        e.force_quit = True

    @rule(data=st.data())
    @precondition(lambda self: any(m.alive for m in self.actors))
    def delete_actor(self, data: st.DataObject) -> None:
        model = data.draw(st.sampled_from([m for m in self.actors if m.alive]))
        actor_service.delete(self.backend, self.world.caller, model.actor.id)
        # The cleanup duty's first pass over it (chalicelib/services/cleanup.py): the inbox goes, waiting
        # executions end ERROR, finished ones are removed with their logs.
        cleanup.clean(self.backend, model.actor, self.backend.settings.cleanup_batch, cleanup.Report())
        model.alive = False
        self.inflight = {k: f for k, f in self.inflight.items() if f.actor_id != model.actor.id}  # gone too
        for eid, e in self.expected.items():
            if e.actor_id != model.actor.id:
                continue
            if e.logs is not None:
                e.logs = ""  # deleted with the actor
            if e.status == ExecutionStatus.SUBMITTED:  # nothing can run it any more
                self._terminated(eid, ExecutionStatus.ERROR)

    # --- rules: SQS -----------------------------------------------------------------------------
    @rule(data=st.data())
    @precondition(lambda self: self.inflight)
    def redeliver(self, data: st.DataObject) -> None:
        """A message's visibility timeout passed (its runner died, or a heartbeat did not reach SQS)."""
        flight = data.draw(st.sampled_from(list(self.inflight.values())))
        self.backend.queues.set_visibility(self._inbox(flight.actor_id), flight.received.receipt, 0)
        self._forget_message(flight.received)

    @rule(data=st.data())
    @precondition(lambda self: any(self._model(e.actor_id).alive for e in self.expected.values()))
    def duplicate(self, data: st.DataObject) -> None:
        """SQS delivers at least once: another copy of an execution's message."""
        eid = data.draw(st.sampled_from([i for i, e in self.expected.items() if self._model(e.actor_id).alive]))
        self.backend.queues.send_inbox(InboxMessage.decode(self.expected[eid].encoded))

    @rule(seconds=st.sampled_from([1, 3, 5, 10, 11, 45, 400]))
    def advance(self, seconds: int) -> None:
        """Time passes: 10 and 11 s end a lease (at and past its end), 45 s makes it stale for the
        reconciler, 400 s makes an unclaimed message due for a re-send."""
        self.now += seconds

    # --- rules: runners -------------------------------------------------------------------------
    @rule(data=st.data(), runner=st.sampled_from(RUNNERS))
    @precondition(lambda self: any(m.alive for m in self.actors))
    def receive(self, data: st.DataObject, runner: str) -> None:
        """A runner receives a message and claims its execution (the real ``ExecutionRunner.take``)."""
        model = data.draw(st.sampled_from([m for m in self.actors if m.alive]))
        executor = self._runner(runner, model)
        got = self.backend.queues.receive(executor.inbox.url, wait_seconds=0, visibility=RECEIVE_VISIBILITY)
        if not got:
            return
        self.receive_one(executor, model, got[0])

    @rule(data=st.data())
    @precondition(lambda self: self.held)
    def heartbeat(self, data: st.DataObject) -> None:
        held = data.draw(st.sampled_from(self.held))
        owns = self._owns(held)
        lease = Lease(self.backend, held.runner.fence, held.ctx.key, held.ctx.execution, held.runner.inbox,
                      held.ctx.received, self.world.metrics)
        assert lease.beat() == owns, (held.execution_id, owns)
        if owns:
            self.expected[held.execution_id].lease_end = self.now + self.lease_seconds
        else:
            self.held.remove(held)  # the fence kills its container: the runner drops the attempt

    @rule(data=st.data(), exit_code=st.sampled_from([0, 1]))
    @precondition(lambda self: self.held)
    def finish(self, data: st.DataObject, exit_code: int) -> None:
        """The container exited: the runner commits the result, fenced on its attempt."""
        self.finish_one(data.draw(st.sampled_from(self.held)), exit_code)

    @rule(data=st.data())
    @precondition(lambda self: self.held)
    def hand_back(self, data: st.DataObject) -> None:
        """Shutdown: the runner releases its attempt, uncharged, and makes the message visible at once."""
        held = data.draw(st.sampled_from(self.held))
        self.held.remove(held)
        owns = self._owns(held)
        held.runner.hand_back(held.ctx)
        if owns:  # else the runner leaves the message alone: it may be another runner's delivery now
            self._forget_message(held.ctx.received)
            e = self.expected[held.execution_id]
            e.status, e.holder, e.lease_end, e.charged = ExecutionStatus.SUBMITTED, None, None, max(e.charged - 1, 0)

    @rule(data=st.data())
    @precondition(lambda self: self.held)
    def start_failed(self, data: st.DataObject) -> None:
        """The container could not start: a retry that is not charged, until the sixth failure in a row. A
        runner whose attempt was taken over meanwhile counts nothing and leaves the message alone; when the
        actor was deleted meanwhile nothing is counted and the attempt is handed back."""
        held = data.draw(st.sampled_from(self.held))
        self.held.remove(held)
        owns = self._owns(held)
        model = self._model(held.ctx.actor.id)
        outcome = held.runner.start_failed(held.ctx, "no such image")
        if not owns:
            assert outcome.kind == "fenced", outcome
            return
        e = self.expected[held.execution_id]
        e.status, e.holder, e.lease_end, e.charged = ExecutionStatus.SUBMITTED, None, None, e.charged - 1
        if not model.alive:
            self._forget_message(held.ctx.received)  # its inbox is gone
            return
        model.start_failures += 1
        if model.start_failures >= MAX_START_FAILURES:  # the actor goes to ERROR; so does the execution
            self._forget_message(held.ctx.received)
            self._terminated(held.execution_id, ExecutionStatus.ERROR)
            return
        self.backend.queues.set_visibility(held.runner.inbox.url, held.ctx.received.receipt, RECEIVE_VISIBILITY)

    @rule(data=st.data())
    @precondition(lambda self: self.held)
    def message_failed(self, data: st.DataObject) -> None:
        """A failure of the message itself (its payload could not be delivered, its configs not read): the
        execution ends in ERROR and the message is deleted, unless the attempt was taken over meanwhile."""
        held = data.draw(st.sampled_from(self.held))
        self.held.remove(held)
        owns = self._owns(held)
        held.runner.fail(held.ctx, "could not deliver the message")
        if owns:
            self._forget_message(held.ctx.received)
            self._terminated(held.execution_id, ExecutionStatus.ERROR)

    @rule(data=st.data())
    @precondition(lambda self: self.held)
    def crash(self, data: st.DataObject) -> None:
        """The runner dies (or pauses): its attempt is simply never heard of again, unless it wakes up."""
        self.held.remove(data.draw(st.sampled_from(self.held)))

    # --- rules: recovery ------------------------------------------------------------------------
    @rule()
    def reconcile(self) -> None:
        report = reconciler.run_once(self.backend, self.now)
        for eid in set(report.resent) | set(report.expired):
            if eid not in self.expected:
                continue
            e = self.expected[eid]
            assert not e.terminal, f"the reconciler touched terminal execution {eid}"
            assert not self._live(e), f"the reconciler touched {eid} while its lease is live"
            if eid in report.expired:
                self._terminated(eid, ExecutionStatus.ERROR)

    @rule()
    @precondition(lambda self: any(not e.terminal for e in self.expected.values()))
    def drain(self) -> None:
        """I1: every runner crashes; after that, time, the reconciler and a fresh runner finish everything."""
        self.held.clear()
        for _ in range(DRAIN_ROUNDS):
            self.now += 400
            for flight in self.inflight.values():
                self.backend.queues.set_visibility(self._inbox(flight.actor_id), flight.received.receipt, 0)
            self.inflight.clear()
            self.reconcile()
            for model in [m for m in self.actors if m.alive]:
                self._drain_inbox(model)
            if all(e.terminal for e in self.expected.values()):
                return
        stuck = {eid: e.status for eid, e in self.expected.items() if not e.terminal}
        raise AssertionError(f"executions never finished: {stuck}")

    def _drain_inbox(self, model: ActorModel) -> None:
        executor = self._runner("drainer", model)
        while got := self.backend.queues.receive(executor.inbox.url, wait_seconds=0, max_messages=10,
                                                 visibility=RECEIVE_VISIBILITY):
            for received in got:
                held = self.receive_one(executor, model, received)
                if held is not None:
                    self.finish_one(held, 0)

    # --- invariants -----------------------------------------------------------------------------
    @invariant()
    def store_matches_the_model(self) -> None:
        for model in self.actors:
            records = {r.id: r for r in self.backend.executions.list(model.actor.dbid)}
            for eid, e in self.expected.items():
                if e.actor_id != model.actor.id:
                    continue
                if eid in records:
                    _check(e, records[eid])
                else:  # only the cleanup of a deleted actor removes an execution, and only a finished one
                    assert not model.alive and e.terminal, (eid, e)

    # --- the steps shared by the rules and drain ------------------------------------------------
    def receive_one(self, executor: ExecutionRunner, model: ActorModel, received: Received) -> Held | None:
        """``take`` one received message and check the outcome against the model's prediction."""
        eid = InboxMessage.decode(received.body).execution_id
        e = self.expected[eid]
        expected = self._expect_take(e, received.message_id)
        live_before = self._live(e)
        taken = executor.take(received, model.actor)
        kind = "claimed" if isinstance(taken, Context) else taken.kind
        assert kind == expected, (eid, kind, expected, e)
        if kind in ("duplicate", "exhausted"):  # the runner deleted the message
            self._forget_message(received)
            if kind == "exhausted":
                self._terminated(eid, ExecutionStatus.ERROR)
            return None
        self.inflight[received.message_id] = InFlight(model.actor.id, received)
        # SQS timing is not part of the model: the message stays hidden until a rule redelivers it.
        self.backend.queues.set_visibility(executor.inbox.url, received.receipt, RECEIVE_VISIBILITY)
        if isinstance(taken, Outcome):
            return None
        assert not live_before, "a live lease was claimed by another runner"
        e.status, e.attempt, e.charged = ExecutionStatus.RUNNING, e.attempt + 1, e.charged + 1
        e.holder, e.lease_end, e.message_id = executor.runner_id, self.now + self.lease_seconds, received.message_id
        held = Held(executor, taken)
        self.held.append(held)
        return held

    def finish_one(self, held: Held, exit_code: int) -> None:
        """The runner commits its attempt's result: accepted exactly when it still owns the attempt."""
        self.held.remove(held)
        owns = self._owns(held)
        text = f"logs of {held.execution_id} attempt {held.ctx.execution.attempt}"
        fields = {"status": ExecutionStatus.COMPLETE.value, "exit_code": exit_code, "finish_time": utcnow()}
        assert held.runner.commit(held.ctx, fields, AttemptReason.EXITED.value, text) == owns, "I3"
        e = self.expected[held.execution_id]
        if owns:
            self._forget_message(held.ctx.received)
            self._terminated(held.execution_id, ExecutionStatus.COMPLETE)
            e.logs = text
        if e.logs is not None:  # I3 for the logs: a refused attempt's output never replaces the result's
            key = execution_key(held.ctx.actor.dbid, held.execution_id)
            assert self.backend.logs.read(key) == e.logs, "the logs of a stale attempt replaced the result's"


def test_the_execution_protocol_keeps_its_invariants(world: World) -> None:
    run_state_machine_as_test(lambda: ExecutionMachine(world), settings=model_settings("execution"))
