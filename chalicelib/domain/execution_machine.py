"""The execution state machine as one table (reliability plan §1.3; reference §2): every named write the
execution store makes, the statuses it may start from, the status it leaves, and whether only the runner
holding the attempt may make it.

The store builds each write's condition from this table (``chalicelib/adapters/storage/executions.py``),
so the rules live here once; before, a table of allowed transitions sat unused beside condition strings
written by hand in the store (and it lacked the hand-back, RUNNING -> SUBMITTED, that the store made).
What a table cannot say stays with the write that needs it: the claim's attempt and charge counts, the
take-over's expired lease.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from chalicelib.domain.models import ExecutionStatus

SUBMITTED, RUNNING = ExecutionStatus.SUBMITTED, ExecutionStatus.RUNNING
COMPLETE, ERROR = ExecutionStatus.COMPLETE, ExecutionStatus.ERROR
OPEN = frozenset({SUBMITTED, RUNNING})
TERMINAL = frozenset({COMPLETE, ERROR})


class Move(enum.StrEnum):
    CLAIM = "claim"  # a runner takes a waiting execution (attempt k+1)
    TAKE_OVER = "take_over"  # a runner takes a running execution whose lease expired (its runner is lost)
    RENEW = "renew"  # the holder extends its lease (and records progress)
    FINISH = "finish"  # the holder records the result
    RELEASE = "release"  # the holder hands the attempt back (shutdown, a container that did not start)
    FAIL = "fail"  # the execution ends in ERROR, whoever holds it (the reconciler, a poison message)
    FAIL_HELD = "fail_held"  # the holder ends it in ERROR (a failure of its message)
    FAIL_WAITING = "fail_waiting"  # a waiting execution ends in ERROR (the actor's sixth start failure)
    MARK_SENT = "mark_sent"  # its inbox message is on SQS (again)
    FORCE_QUIT = "force_quit"  # DELETE asks the runner to stop the container


@dataclass(frozen=True)
class Rule:
    sources: frozenset[ExecutionStatus]
    target: ExecutionStatus | None  # None: the status stays
    held: bool = False  # only the runner holding the attempt (fenced on runner and attempt number)


EXECUTION_MACHINE: dict[Move, Rule] = {
    Move.CLAIM: Rule(frozenset({SUBMITTED}), RUNNING),
    Move.TAKE_OVER: Rule(frozenset({RUNNING}), RUNNING),
    Move.RENEW: Rule(frozenset({RUNNING}), None, held=True),
    Move.FINISH: Rule(frozenset({RUNNING}), COMPLETE, held=True),
    Move.RELEASE: Rule(frozenset({RUNNING}), SUBMITTED, held=True),
    Move.FAIL: Rule(OPEN, ERROR),
    Move.FAIL_HELD: Rule(frozenset({RUNNING}), ERROR, held=True),
    Move.FAIL_WAITING: Rule(frozenset({SUBMITTED}), ERROR),
    Move.MARK_SENT: Rule(OPEN, None),
    Move.FORCE_QUIT: Rule(frozenset({RUNNING}), None),
}

# Derived: the statuses each status may move to (a status that stays counts as a move to itself).
EXECUTION_TRANSITIONS: dict[ExecutionStatus, frozenset[ExecutionStatus]] = {
    status: frozenset(rule.target or status for rule in EXECUTION_MACHINE.values() if status in rule.sources)
    for status in ExecutionStatus
}


def allowed(source: ExecutionStatus, target: ExecutionStatus) -> bool:
    return target in EXECUTION_TRANSITIONS[source]
