"""Waiting helpers: poll with a deadline instead of sleeping for a guessed time.

``wait_for_execution`` returns when the execution reaches COMPLETE or ERROR; ``follow_logs`` yields the
new text of the logs while the container runs (the runner flushes them about every second), then the rest.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from abaco_sdk.errors import WaitTimeout
from abaco_sdk.models import TERMINAL_EXECUTION_STATUSES, Actor, Execution

DEFAULT_WAIT_TIMEOUT = 300.0  # seconds
DEFAULT_POLL_INTERVAL = 0.5  # seconds between polls; logs reach the API about every second
MAX_POLL_INTERVAL = 2.0  # the interval grows by half each poll up to this, for long executions
ACTOR_FAILED = frozenset({"ERROR"})
SERVER_WAIT = 20.0  # seconds the API may hold one look at an execution (below the transport's 30 s timeout)


class WaitingMixin:
    """Mixed into ``ActorsApi``; relies on its getters."""

    def get_execution(self, actor_id: str, execution_id: str, wait: float | None = None) -> Execution:
        raise NotImplementedError

    def get_actor(self, actor_id: str) -> Actor:
        raise NotImplementedError

    def get_execution_logs(self, actor_id: str, execution_id: str) -> Any:
        raise NotImplementedError

    def wait_for_execution(self, actor_id: str, execution_id: str, timeout: float = DEFAULT_WAIT_TIMEOUT,
                           interval: float = DEFAULT_POLL_INTERVAL,
                           on_update: Callable[[Execution], None] | None = None) -> Execution:
        """Wait until COMPLETE or ERROR and return the execution; ``on_update`` sees every answer. Each look
        is a blocking wait of up to ``SERVER_WAIT`` seconds in the API (``GET ...?wait=``), which answers as
        soon as the execution ends; ``interval`` only paces a server that answers at once."""
        deadline = time.monotonic() + timeout
        transport_timeout = getattr(getattr(self, "transport", None), "timeout", None) or SERVER_WAIT + 10
        hold = max(0.0, min(SERVER_WAIT, transport_timeout - 10))  # the answer must beat the read timeout

        def finished() -> Execution | None:
            left = max(0.0, deadline - time.monotonic())
            execution = self.get_execution(actor_id, execution_id, wait=round(min(hold, left), 3))
            if on_update is not None:
                on_update(execution)
            return execution if execution.get_field("status") in TERMINAL_EXECUTION_STATUSES else None

        return poll(finished, timeout, interval, f"execution {execution_id} to finish")

    def wait_for_actor(self, actor_id: str, status: str = "READY", timeout: float = DEFAULT_WAIT_TIMEOUT,
                       interval: float = DEFAULT_POLL_INTERVAL) -> Actor:
        """Poll until the actor reaches ``status``; an actor in ERROR ends the wait at once."""
        def reached() -> Actor | None:
            actor = self.get_actor(actor_id)
            current = actor.get_field("status")
            if current in ACTOR_FAILED and status not in ACTOR_FAILED:
                raise WaitTimeout(f"actor {actor_id} is in {current}: {actor.get_field('status_message')}", actor)
            return actor if current == status else None

        return poll(reached, timeout, interval, f"actor {actor_id} to be {status}")

    def follow_logs(self, actor_id: str, execution_id: str, timeout: float | None = None,
                    interval: float = DEFAULT_POLL_INTERVAL) -> Iterator[str]:
        """Yield new log text as it arrives until the execution finishes (then the final remainder).

        The status is read before the logs: the runner stores the final logs before it marks the
        execution finished, so logs read after a finished status are complete.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        seen = ""
        while True:
            execution = self.get_execution(actor_id, execution_id)
            text = self.get_execution_logs(actor_id, execution_id).get_field("logs") or ""
            # Truncated or rewritten logs are shown again whole rather than losing lines.
            chunk = text[len(seen):] if text.startswith(seen) else text
            if chunk:
                yield chunk
            seen = text
            if execution.get_field("status") in TERMINAL_EXECUTION_STATUSES:
                return
            if deadline is not None and time.monotonic() > deadline:
                raise WaitTimeout(f"execution {execution_id} still {execution.get_field('status')} after "
                                  f"{timeout} s", execution)
            time.sleep(interval)


def poll(check: Callable[[], Any], timeout: float, interval: float, what: str) -> Any:
    """Call ``check`` until it returns something truthy; the interval grows gently; raise after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    pause = interval
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() + pause > deadline:
            raise WaitTimeout(f"timed out after {timeout} s waiting for {what}", last)
        time.sleep(pause)
        pause = min(MAX_POLL_INTERVAL, pause * 1.5)
