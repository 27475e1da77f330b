"""The actor's inbox as the runner consumes it: one object that does what can be done with a received
message (ack, dead-letter, requeue after a delay, extend its visibility), as dramatiq's consumer does.

The steps used to pass the inbox URL and the receipt through the runner, the claim and the lease, and
each caller decided on its own what a missing inbox meant. Here it means one thing everywhere: the actor
was deleted while its message was held, and the message went with its queue, so there is nothing left
to acknowledge or hide (the execution is closed by the delete, or by the reconciler).
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from chalicelib.adapters.queues import Queues, Received
from chalicelib.domain.errors import NotFound

LOG = logging.getLogger("abaco.runner")


class InboxConsumer:
    """One actor's inbox; every method takes the message as it was received (its receipt names it)."""

    def __init__(self, queues: Queues, url: str) -> None:
        self._queues = queues
        self.url = url

    @property
    def name(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    def ack(self, received: Received) -> None:
        """Done with the message: delete it (after the terminal write, never before)."""
        self._gone_is_done(lambda: self._queues.delete(self.url, received.receipt))

    def dead_letter(self, received: Received, reason: str) -> None:
        """A poison message: to the shared dead-letter queue with the reason, then off the inbox."""
        self._gone_is_done(lambda: self._queues.dead_letter(self.url, received, reason))

    def requeue_after(self, received: Received, seconds: int) -> None:
        """Visible again after ``seconds`` (0: at once, for another runner): a retry or a hand-back."""
        self._gone_is_done(lambda: self._queues.set_visibility(self.url, received.receipt, seconds))

    def extend(self, received: Received, seconds: int) -> None:
        """Keep the message hidden ``seconds`` more while its attempt runs (the heartbeat)."""
        self._gone_is_done(lambda: self._queues.set_visibility(self.url, received.receipt, seconds))

    def _gone_is_done(self, operation: Callable[[], None]) -> None:
        try:
            operation()
        except NotFound:
            LOG.info("inbox %s is gone (its actor was deleted)", self.name)
