"""What the steps after the claim share about one attempt: the message, the claimed execution, its lease,
the payload delivered and the results socket, and a start time not yet written.

Its own module so the steps that watch a container (``runners.pipeline.monitor``) and the steps that
decide the outcome (``runners.pipeline.execution``) read one definition.
"""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.adapters.queues import Received
from chalicelib.adapters.storage.logs import execution_key
from chalicelib.domain.models import Actor, Execution
from chalicelib.domain.queue_messages import InboxMessage
from runners.pipeline import delivery as deliveries
from runners.pipeline.lease import Lease
from runners.pipeline.results import ResultsCollector


@dataclass
class Context:
    """One claimed attempt, from the claim to the terminal write."""

    received: Received
    actor: Actor
    message: InboxMessage
    execution: Execution
    lease: Lease | None = None  # the heartbeat, from the claim to the terminal write
    delivery: deliveries.Delivery | None = None  # payload file, results socket (reference §3.2)
    results: ResultsCollector | None = None
    dequeued_at: float = 0.0  # when this worker took the message up (the ``dequeued`` phase)
    # The start's ``start_time`` while it is not yet written: it rides on the first write that happens
    # anyway (the first log flush tick of a container still running, or the terminal write).
    unwritten_start: str | None = None
    token: str = ""  # the execution's _abaco_access_token, masked in its logs

    @property
    def key(self) -> str:
        return execution_key(self.actor.dbid, self.execution.id)

    @property
    def lease_lost(self) -> bool:
        return self.lease is not None and self.lease.lost

    def stop_lease(self) -> None:
        """No more renewals: the attempt is about to write its end (or hand it back)."""
        if self.lease is not None:
            self.lease.stop()
