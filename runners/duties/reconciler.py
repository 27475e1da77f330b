"""The reconciler: repairs what a crash between two writes leaves behind (reliability plan §1.3 step 5).

- An execution SUBMITTED and unclaimed for a while whose message SQS does not hold (the API died between
  the database and the queue, or the message was lost) gets its stored message sent again.
- An execution RUNNING whose lease ended long ago, with no runner taking the redelivered message (the
  message went to the dead-letter queue, or expired), is sent again while attempts remain, else ERROR.
- An open execution whose actor was deleted (its inbox went with it) ends ERROR: nothing can run it.
- Worker records of dead runner hosts, and requests no host took, are removed so scaling sees the truth.

Every repair is safe to repeat: a second copy of a message is dropped at the claim. A pass does bounded
work (``MAX_REPAIRS_PER_PASS``), and sends again only what SQS no longer holds: an execution unclaimed
is re-sent only when its inbox holds fewer messages (visible or in flight, one GetQueueAttributes per
actor) than the actor has open executions (each open one has its message on the inbox, waiting or held by
its runner), so a backlog is never doubled. The API does not record the send on the execution (a write
per message): a message never sent is one SQS does not hold, found after ``resend_after_seconds``; one
sent is given ``unclaimed_after_seconds`` (or, once re-sent here, since its last send: ``mark_sent``).
The ``open`` index projects only the fields read here; a repair re-reads the full record first. A pass reads
the index with one Scan (every pool's open executions), the workers table and the hosts table: three
requests when there is nothing to repair.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from chalicelib.domain.errors import AbacoError, Conflict, NotFound
from chalicelib.domain.models import AttemptReason, Execution, ExecutionStatus, HostStatus, WorkerStatus, parse_time
from chalicelib.domain.queue_messages import DecodeError, InboxMessage
from chalicelib.wiring.backend import Backend
from chalicelib.wiring.resources import SQS_MAX_RETENTION_SECONDS

LOG = logging.getLogger("abaco.reconciler")
MAX_REPAIRS_PER_PASS = 200  # writes and sends per pass at most; the rest waits for the next pass
STALE_LEASE_MARGIN = 10.0  # seconds past "the message should have been redelivered and claimed"
HOST_DEAD_HEARTBEATS = 6  # a host silent for six heartbeats (at least 15 s) is dead
HOST_DEAD_MIN_SECONDS = 15.0
REQUEST_TIMEOUT_SECONDS = 120.0  # a REQUESTED worker no host took
ACTOR_DELETED = "actor deleted before the execution finished"


@dataclass
class Report:
    resent: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    workers_removed: list[str] = field(default_factory=list)


def run_once(backend: Backend, now: float) -> Report:
    report = Report()
    unclaimed: dict[str, list[Execution]] = {}
    # Open executions per actor, whatever their pool (an actor's pool can change while some are open): each
    # has its message on the actor's one inbox.
    expected: dict[str, int] = {}
    for _pool, execution in backend.executions.open_executions(backend.settings.all_pools):
        expected[execution.actor_dbid] = expected.get(execution.actor_dbid, 0) + 1
        if _budget_left(report):
            _visit(backend, execution, now, report, unclaimed)
    _resend_missing(backend, unclaimed, expected, report)
    _remove_dead_workers(backend, now, report)
    if report.resent or report.expired or report.workers_removed:
        LOG.info("reconciler: resent %d, expired %d, removed %d worker record(s)",
                 len(report.resent), len(report.expired), len(report.workers_removed))
    return report


def _budget_left(report: Report) -> bool:
    return len(report.resent) + len(report.expired) < MAX_REPAIRS_PER_PASS


def _visit(backend: Backend, execution: Execution, now: float, report: Report,
           unclaimed: dict[str, list[Execution]]) -> None:
    try:
        if _reconcile(backend, execution, now, report):
            unclaimed.setdefault(execution.actor_dbid, []).append(execution)
    except (Conflict, NotFound):
        pass  # it moved on meanwhile


def _reconcile(backend: Backend, execution: Execution, now: float, report: Report) -> bool:
    """Repair what needs no look at SQS; True for an execution unclaimed for a while (whether its message
    is on the inbox is asked per actor afterwards): ``resend_after_seconds`` after it was recorded, so a
    message the API never sent waits no longer than before, or ``unclaimed_after_seconds`` after the
    reconciler's own last send."""
    settings = backend.settings
    queued = execution.phases.get("queued", execution.created_ns / 1e9)
    last_sent = execution.last_sent_at or queued
    if execution.status == ExecutionStatus.SUBMITTED:
        if now - queued > SQS_MAX_RETENTION_SECONDS:
            if _fail(backend, execution, "expired in queue"):
                report.expired.append(execution.id)
            return False
        wait = settings.unclaimed_after_seconds if execution.last_sent_at else settings.resend_after_seconds
        return now - last_sent > wait
    stale_after = settings.visibility_timeout + settings.receive_wait_seconds + STALE_LEASE_MARGIN
    lease_end = execution.lease_expires_at or 0.0
    if execution.status != ExecutionStatus.RUNNING or now - lease_end < stale_after or now - last_sent < stale_after:
        return False
    max_attempts = execution.max_attempts or settings.max_attempts
    if execution.charged >= max_attempts:
        if _fail(backend, execution, f"runner lost, attempts {execution.charged}/{max_attempts}",
                 reason=AttemptReason.RUNNER_LOST.value):
            report.expired.append(execution.id)
        return False
    _resend(backend, execution, report)
    return False


def _resend_missing(backend: Backend, unclaimed: dict[str, list[Execution]], expected: dict[str, int],
                    report: Report) -> None:
    """Per actor: re-send as many of its oldest unclaimed executions as its inbox lacks messages."""
    for actor_dbid, executions in unclaimed.items():
        if not _budget_left(report):
            return
        first = executions[0]
        try:
            visible, in_flight = backend.queues.depth(backend.queues.inbox_url(first.tenant, first.actor_id))
        except NotFound:
            visible = in_flight = 0  # the inbox is gone: _resend ends them (or waits for it to return)
        missing = expected.get(actor_dbid, 0) - visible - in_flight
        for execution in sorted(executions, key=lambda e: e.last_sent_at or 0.0)[:max(missing, 0)]:
            try:
                _resend(backend, execution, report)
            except (Conflict, NotFound):
                continue


def _fail(backend: Backend, execution: Execution, message: str, reason: str | None = None) -> bool:
    """End an execution read from the index: re-read in full first (the index has no history)."""
    full = backend.executions.find(execution.actor_dbid, execution.id)
    return full is not None and backend.executions.fail(full, message, reason=reason) is not None


def _resend(backend: Backend, indexed: Execution, report: Report) -> None:
    execution = backend.executions.find(indexed.actor_dbid, indexed.id)
    if execution is None or execution.status != indexed.status or execution.attempt != indexed.attempt:
        return  # it moved on since the index was read
    if backend.actors.find_live(execution.tenant, execution.actor_id) is None:
        if backend.executions.fail(execution, ACTOR_DELETED, reason=_lost_reason(execution)):
            report.expired.append(execution.id)
        return
    try:
        message = InboxMessage.decode(execution.inbox_message or "")
    except DecodeError:
        backend.executions.fail(execution, "message lost and not recoverable")
        report.expired.append(execution.id)
        return
    backend.queues.send_inbox(message)  # NotFound: the inbox is being (re)created; the next pass retries
    backend.executions.mark_sent(execution)
    report.resent.append(execution.id)


def _lost_reason(execution: Execution) -> str | None:
    """A RUNNING execution's open attempt is closed as lost; a SUBMITTED one has none open."""
    return AttemptReason.RUNNER_LOST.value if execution.status == ExecutionStatus.RUNNING else None


def _remove_dead_workers(backend: Backend, now: float, report: Report) -> None:
    dead_after = max(HOST_DEAD_MIN_SECONDS, HOST_DEAD_HEARTBEATS * backend.settings.host_heartbeat_seconds)
    hosts = {h.id: h for h in backend.hosts.all()}
    for worker in backend.workers.all():
        if worker.host_id:
            host = hosts.get(worker.host_id)
            dead = host is None or host.status == HostStatus.STOPPED or now - host.heartbeat_at > dead_after
        else:
            created = parse_time(worker.create_time)
            dead = (worker.status == WorkerStatus.REQUESTED and created is not None
                    and now - created.timestamp() > REQUEST_TIMEOUT_SECONDS)
        if dead:
            try:
                backend.workers.delete(worker.actor_dbid, worker.id, create_time=worker.create_time)
            except AbacoError:
                continue
            report.workers_removed.append(worker.id)
