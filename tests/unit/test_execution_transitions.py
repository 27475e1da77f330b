"""The execution state machine's table (chalicelib/domain/execution_machine.py) and the store that builds
its conditions from it (chalicelib/adapters/storage/executions.py): each write applies from exactly the
statuses the table lists, leaves the status the table names, and a held move only for its holder."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.adapters.storage.executions import ClaimRefused, condition_of
from chalicelib.domain import clock
from chalicelib.domain.errors import Conflict
from chalicelib.domain.execution_machine import EXECUTION_MACHINE, EXECUTION_TRANSITIONS, TERMINAL, Move, allowed
from chalicelib.domain.models import Execution, ExecutionStatus
from chalicelib.wiring.backend import Backend
from tests.unit.test_protocol import backend  # noqa: F401 (fixture)

S, R, C, E = ExecutionStatus.SUBMITTED, ExecutionStatus.RUNNING, ExecutionStatus.COMPLETE, ExecutionStatus.ERROR


def test_terminal_states_are_absorbing_and_the_hand_back_is_a_transition() -> None:
    assert EXECUTION_TRANSITIONS[C] == frozenset() and EXECUTION_TRANSITIONS[E] == frozenset()
    assert EXECUTION_TRANSITIONS[S] == {R, E, S}  # S -> S: the message sent again
    assert EXECUTION_TRANSITIONS[R] == {R, C, E, S}  # R -> S: handed back
    assert allowed(R, S) and not allowed(C, R) and not allowed(S, C)  # a result needs a claim first
    assert all(not (rule.sources & TERMINAL) for rule in EXECUTION_MACHINE.values())


def test_conditions_are_built_from_the_table() -> None:
    assert condition_of(Move.FAIL) == ("#st IN (:fail0, :fail1)", {":fail0": "RUNNING", ":fail1": "SUBMITTED"})
    held = Execution(tenant="T", actor_id="A", id="E", executor="u", runner_id="r1", attempt=3)
    condition, values = condition_of(Move.FINISH, held)
    assert condition == "#st = :finish0 AND runner_id = :runner AND attempt = :attempt"
    assert values == {":finish0": "RUNNING", ":runner": "r1", ":attempt": 3}
    with pytest.raises(ValueError, match="fenced"):
        condition_of(Move.RENEW)


def _in_status(backend: Backend, status: ExecutionStatus) -> Execution:  # noqa: F811
    """An execution in ``status``; when RUNNING, held by r1 at attempt 1 with a live lease."""
    execution = Execution(tenant="T", actor_id="A", id=f"E{time.time_ns()}", executor="u")
    backend.executions.create(execution)
    if status is S:
        return execution
    held = backend.executions.claim(execution, "r1", "w1", 60, 5, "m1")
    if status is R:
        return held
    if status is C:
        return backend.executions.finish(held, {"exit_code": 0}, "exited")
    return backend.executions.fail(held, "x")  # type: ignore[return-value]


WRITES: dict[Move, Callable[[Backend, Execution], Any]] = {
    Move.RENEW: lambda b, e: b.executions.renew(e, 30),
    Move.FINISH: lambda b, e: b.executions.finish(e, {"exit_code": 0}, "exited"),
    Move.RELEASE: lambda b, e: b.executions.release(e, "runner_shutdown"),
    Move.MARK_SENT: lambda b, e: b.executions.mark_sent(e),
    Move.FORCE_QUIT: lambda b, e: b.executions.request_force_quit(e),
}
FAILS: dict[Move, dict[str, Any]] = {Move.FAIL: {}, Move.FAIL_HELD: {"fenced": True},
                                     Move.FAIL_WAITING: {"only_from": S}}


@pytest.mark.parametrize("move", [*WRITES, *FAILS])
def test_each_write_applies_from_exactly_its_sources_and_leaves_its_target(backend: Backend,  # noqa: F811
                                                                          move: Move) -> None:
    rule = EXECUTION_MACHINE[move]
    for status in ExecutionStatus:
        execution = _in_status(backend, status)
        if move in WRITES:
            try:
                WRITES[move](backend, execution)
                applied = True
            except Conflict:
                applied = False
        else:
            applied = backend.executions.fail(execution, "x", **FAILS[move]) is not None
        assert applied == (status in rule.sources), (move, status)
        after = backend.executions.get(execution.actor_dbid, execution.id).status
        assert after == ((rule.target or status) if applied else status), (move, status, after)


def test_a_held_move_is_refused_to_anyone_but_the_holder(backend: Backend) -> None:  # noqa: F811
    held = _in_status(backend, R)
    for stranger in (held.model_copy(update={"runner_id": "r2"}), held.model_copy(update={"attempt": 2})):
        for write in WRITES.values():
            if write is WRITES[Move.MARK_SENT] or write is WRITES[Move.FORCE_QUIT]:
                continue
            with pytest.raises(Conflict):
                write(backend, stranger)
        assert backend.executions.fail(stranger, "x", fenced=True) is None
    assert backend.executions.get(held.actor_dbid, held.id).status == R


def test_a_claim_takes_a_waiting_execution_or_an_expired_lease_and_nothing_else(backend: Backend) -> None:  # noqa: F811
    waiting = _in_status(backend, S)
    assert backend.executions.claim(waiting, "r2", "w2", 60, 5, "m").status == R  # CLAIM
    live = _in_status(backend, R)
    with pytest.raises(ClaimRefused):
        backend.executions.claim(live, "r2", "w2", 60, 5, "m")  # TAKE_OVER needs the lease to be over
    with clock.replaced(lambda: time.time() + 120):
        taken = backend.executions.claim(live, "r2", "w2", 60, 5, "m")
    assert taken.status == R and taken.runner_id == "r2" and taken.attempt == 2
    for status in (C, E):
        with pytest.raises(ClaimRefused):
            backend.executions.claim(_in_status(backend, status), "r2", "w2", 60, 5, "m")
