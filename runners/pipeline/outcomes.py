"""The typed results of the runner's steps: what happened to a received message (``Kind``) and why a
running container was stopped (``Stop``).

They were bare strings passed between eight private methods; as enums a misspelt outcome is an import
error, and the worker, the metrics and the tests read the same names. Both are ``StrEnum``: the metrics
label and the execution record keep the very strings they always had.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(enum.StrEnum):
    """What was done with one received message."""

    RAN = "ran"  # the container ran and its result was recorded (or refused: a newer attempt owns it)
    DUPLICATE = "duplicate"  # a copy of a message already run or being run: deleted without a container
    LEASED = "leased"  # our own message back while its attempt runs: hidden until the lease ends
    POISON = "poison"  # not a message we can run: dead-lettered, its execution to ERROR
    START_FAILED = "start_failed"  # the container could not be created or started: retried later
    FAILED = "failed"  # a failure of this message (payload, configs, environment): its execution to ERROR
    FENCED = "fenced"  # a newer attempt took the execution over: this one writes nothing more
    HANDED_BACK = "handed_back"  # the runner stopped: the attempt released, the message visible again
    EXHAUSTED = "exhausted"  # the last attempt was lost: the execution to ERROR


@dataclass
class Outcome:
    """What happened to one received message (for the worker's bookkeeping, the metrics and tests)."""

    kind: Kind
    execution_id: str | None = None


class Stop(enum.StrEnum):
    """Why the runner stopped watching a container."""

    EXITED = "exited"  # it exited by itself
    MAX_RUN_TIME = "max_run_time"  # stopped at the actor's (or the host's) max_run_time
    FORCE_QUIT = "force_quit"  # a DELETE of the running execution asked for it
    RUNNER_SHUTDOWN = "runner_shutdown"  # the runner is stopping: the attempt is handed back
    FENCED = "fenced"  # the lease was lost: the fence kills the container, nothing more is written
