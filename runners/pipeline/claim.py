"""The claim of a received message's execution, and what to do with the message when it is refused
(reliability plan §1.3 step 2).

A claim applies only to a SUBMITTED execution, or to a RUNNING one whose lease has expired, while fewer
than ``max_attempts`` attempts were charged. A refused claim is a duplicate or late redelivery (the
execution is terminal, or another copy of its message is being run: delete ours), our own message back
while its attempt still runs (hide it until the lease ends), or the last attempt lost (ERROR). A claim
"refused" because an earlier try of the same call applied it (the answer was lost to a timeout and the
SDK retried) is recognised as ours and run.
"""
from __future__ import annotations

from chalicelib.adapters.queues import Received
from chalicelib.adapters.storage.executions import ClaimRefused
from chalicelib.domain import clock
from chalicelib.domain.models import Actor, AttemptReason, Execution, ExecutionStatus
from chalicelib.wiring.backend import Backend
from runners.metrics import Registry
from runners.pipeline.consumer import InboxConsumer
from runners.pipeline.outcomes import Kind, Outcome

__all__ = ["Claims", "Outcome"]  # Outcome re-exported: the claim's callers and tests read it here

SQS_MAX_VISIBILITY = 43_200  # 12 h
LEASE_WAIT_MARGIN = 2  # seconds a message of a live attempt stays hidden after the lease's end
CLAIM_TRIES = 2  # a second try when the record moved between our read and the claim


class Claims:
    """One worker's claims: its runner and worker identity, its inbox, its metrics."""

    def __init__(self, backend: Backend, runner_id: str, worker_id: str, inbox: InboxConsumer,
                 metrics: Registry) -> None:
        self.backend = backend
        self.runner_id = runner_id
        self.worker_id = worker_id
        self.inbox = inbox
        self.metrics = metrics

    def claim_message(self, received: Received, actor: Actor, execution_id: str) -> Execution | Outcome | None:
        """Claim the execution a received message names: the claimed execution, what was done with the
        message instead, or None when there is no such execution (the caller dead-letters the message).

        A message's first delivery is claimed without reading the execution first (one GetItem fewer per
        execution): it is nearly always SUBMITTED at attempt 0, and the write's condition says exactly that
        (``ExecutionStore.claim_unread``). When it does not apply, and on every redelivery (where a refusal
        is likely and would cost a write more), the record is read and claimed as before (``claim``)."""
        first = received.receive_count == 1
        if first:
            claimed = self.backend.executions.claim_unread(
                actor.dbid, execution_id, self.runner_id, self.worker_id, self.backend.settings.visibility_timeout,
                actor.max_attempts or self.backend.settings.max_attempts, received.message_id)
            if claimed is not None:
                return claimed
        execution = self.backend.executions.find(actor.dbid, execution_id)
        if execution is None:
            return None
        if first and self._landed(execution, 0, received):  # the unread claim applied, its answer lost
            return execution.model_copy(update={"phases": dict(execution.phases, claimed=clock.now())})
        return self.claim(received, actor, execution)

    def claim(self, received: Received, actor: Actor, execution: Execution) -> Execution | Outcome:
        """The claimed execution (attempt k+1 is ours), or what was done with the message instead."""
        settings = self.backend.settings
        max_attempts = actor.max_attempts or settings.max_attempts
        for _ in range(CLAIM_TRIES):
            try:
                return self.backend.executions.claim(execution, self.runner_id, self.worker_id,
                                                     settings.visibility_timeout, max_attempts,
                                                     received.message_id)
            except ClaimRefused as refused:
                latest = refused.execution
            if latest is not None and self._landed(latest, execution.attempt, received):
                return latest
            refusal = self._refused(received, latest, max_attempts)
            if refusal is not None:
                return refusal
            execution = latest  # type: ignore[assignment]
        self.inbox.requeue_after(received, settings.start_retry_seconds)
        return Outcome(Kind.LEASED, execution.id)

    def _landed(self, latest: Execution, seen_attempt: int, received: Received) -> bool:
        """Whether a refused claim is this very claim, applied by a try whose answer was lost: a slow store
        timed the SDK out, its retry found the condition failed. Then the attempt after the one we read is
        ours in runner, worker and message, and running it is right; taken for a stranger's, it would hide
        the message until the lease ended and cost the execution an attempt that never ran."""
        return (latest.status == ExecutionStatus.RUNNING and latest.attempt == seen_attempt + 1
                and latest.runner_id == self.runner_id and latest.worker_id == self.worker_id
                and latest.message_id == received.message_id)

    def _refused(self, received: Received, latest: Execution | None, max_attempts: int) -> Outcome | None:
        """Why the claim failed, and what to do with the message; None to try the claim again."""
        if latest is None or latest.status in (ExecutionStatus.COMPLETE, ExecutionStatus.ERROR):
            return self._duplicate(received, latest)
        # The store's rule: a lease is live until its end has passed (the claim needs ``end < now``).
        lease_left = (latest.lease_expires_at or 0) - clock.now()
        if latest.status == ExecutionStatus.RUNNING and lease_left >= 0:
            if latest.message_id and latest.message_id != received.message_id:
                return self._duplicate(received, latest)  # another copy: the holder's message is enough
            # Our own message came back while its attempt runs: keep it out of sight until the lease ends.
            wait = min(int(lease_left) + LEASE_WAIT_MARGIN, SQS_MAX_VISIBILITY)
            self.inbox.requeue_after(received, wait)
            return Outcome(Kind.LEASED, latest.id)
        if latest.charged >= max_attempts:
            reason = AttemptReason.RUNNER_LOST.value if latest.status == ExecutionStatus.RUNNING else None
            self.backend.executions.fail(latest, f"runner lost, attempts {latest.charged}/{max_attempts}",
                                         reason=reason)
            self.inbox.ack(received)
            return Outcome(Kind.EXHAUSTED, latest.id)
        return None

    def _duplicate(self, received: Received, latest: Execution | None) -> Outcome:
        self.inbox.ack(received)
        self.metrics.inc("abaco_duplicates_suppressed_total")
        return Outcome(Kind.DUPLICATE, latest.id if latest else None)
