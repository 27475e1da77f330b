"""The reference model of the execution machine (``tests/model/test_execution_machine.py``): what each
execution's record must say, what a runner holds, and the check of a record against the model (I2 and the
attempt bounds)."""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.adapters.queues import Received
from chalicelib.domain.models import Actor, AttemptReason, Execution, ExecutionStatus
from runners.pipeline.execution import Context, ExecutionRunner

TERMINAL = (ExecutionStatus.COMPLETE, ExecutionStatus.ERROR)
LOST = {AttemptReason.RUNNER_LOST.value, AttemptReason.RUNNER_SHUTDOWN.value, AttemptReason.START_FAILED.value}


@dataclass
class Expected:
    """The reference model of one execution: what its record must say."""

    actor_id: str
    encoded: str  # the inbox message, for duplicates
    max_attempts: int
    status: ExecutionStatus = ExecutionStatus.SUBMITTED
    attempt: int = 0
    charged: int = 0
    holder: str | None = None  # the runner of the current attempt while RUNNING
    lease_end: float | None = None
    message_id: str | None = None  # the message the current attempt runs from
    force_quit: bool = False
    logs: str | None = None  # what the logs must read once a commit recorded the result
    final: dict | None = None  # the terminal record, which must never change again

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


@dataclass
class Held:
    """An attempt a runner claimed and still believes it owns (it may have been taken over since)."""

    runner: ExecutionRunner
    ctx: Context

    @property
    def execution_id(self) -> str:
        return self.ctx.execution.id


@dataclass
class InFlight:
    actor_id: str
    received: Received


@dataclass
class ActorModel:
    actor: Actor
    max_attempts: int
    alive: bool = True
    start_failures: int = 0



def _final(record: Execution) -> dict:
    return record.model_dump(mode="json", include={"status", "status_message", "exit_code", "attempt", "charged",
                                                   "finish_time", "attempts", "runner_id"})


def _check(e: Expected, record: Execution) -> None:
    """The record says what the model says; I2 and the attempt bounds hold."""
    assert record.status == e.status, (record.id, record.status, e)
    assert record.attempt == e.attempt and record.charged == e.charged, (record.id, record.attempt, e)
    assert record.charged <= e.max_attempts, "more attempts charged than max_attempts"
    assert record.force_quit == e.force_quit
    if e.status == ExecutionStatus.RUNNING:
        assert record.runner_id == e.holder and record.lease_expires_at == e.lease_end, (record, e)
    if e.final is not None:
        assert _final(record) == e.final, "a terminal record changed"  # terminal states are absorbing
    numbers = [a.attempt for a in record.attempts]
    assert numbers == sorted(numbers) and all(n <= record.attempt for n in numbers), "attempts not monotonic"
    closing = [a for a in record.attempts if a.reason not in LOST]
    assert len(closing) <= 1, "two attempts recorded a result"
    if closing:
        assert record.attempts[-1] is closing[0] and record.status in TERMINAL, "a result before the last attempt"
