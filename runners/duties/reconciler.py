"""The reconciler: repairs what a crash between two writes leaves behind (reliability plan §1.3 step 5).

- An execution SUBMITTED and never enqueued (the API died between the database and the queue), or
  enqueued but unclaimed for too long (the message was lost), gets its stored message sent again.
- An execution RUNNING whose lease ended long ago, with no runner taking the redelivered message (the
  message went to the dead-letter queue, or expired), is sent again while attempts remain, else ERROR.
- An open execution whose actor was deleted (its inbox went with it) ends ERROR: nothing can run it.
- Worker records of dead runner hosts, and requests no host took, are removed so scaling sees the truth.

Every repair is safe to repeat: a second copy of a message is dropped at the claim.
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
    for pool in backend.settings.all_pools:
        for execution in backend.executions.open_in_pool(pool):
            try:
                _reconcile(backend, execution, now, report)
            except (Conflict, NotFound):
                continue  # it moved on meanwhile
    _remove_dead_workers(backend, now, report)
    if report.resent or report.expired or report.workers_removed:
        LOG.info("reconciler: resent %d, expired %d, removed %d worker record(s)",
                 len(report.resent), len(report.expired), len(report.workers_removed))
    return report


def _reconcile(backend: Backend, execution: Execution, now: float, report: Report) -> None:
    settings = backend.settings
    queued = execution.phases.get("queued", execution.created_ns / 1e9)
    last_sent = execution.last_sent_at or queued
    if execution.status == ExecutionStatus.SUBMITTED:
        if now - queued > SQS_MAX_RETENTION_SECONDS:
            if backend.executions.fail(execution, "expired in queue"):
                report.expired.append(execution.id)
        elif _needs_resend(execution, now, queued, last_sent, settings.resend_after_seconds,
                           settings.unclaimed_after_seconds):
            _resend(backend, execution, report)
        return
    stale_after = settings.visibility_timeout + settings.receive_wait_seconds + STALE_LEASE_MARGIN
    lease_end = execution.lease_expires_at or 0.0
    if execution.status != ExecutionStatus.RUNNING or now - lease_end < stale_after or now - last_sent < stale_after:
        return
    max_attempts = execution.max_attempts or settings.max_attempts
    if execution.charged >= max_attempts:
        if backend.executions.fail(execution, f"runner lost, attempts {execution.charged}/{max_attempts}",
                                   reason=AttemptReason.RUNNER_LOST.value):
            report.expired.append(execution.id)
        return
    _resend(backend, execution, report)


def _needs_resend(execution: Execution, now: float, queued: float, last_sent: float, resend_after: float,
                  unclaimed_after: float) -> bool:
    """Never enqueued for ``resend_after`` (the API died in between), or unclaimed for ``unclaimed_after``."""
    if not execution.enqueued:
        return now - queued > resend_after
    return now - last_sent > unclaimed_after


def _resend(backend: Backend, execution: Execution, report: Report) -> None:
    try:
        message = InboxMessage.decode(execution.inbox_message or "")
    except DecodeError:
        backend.executions.fail(execution, "message lost and not recoverable")
        report.expired.append(execution.id)
        return
    try:
        backend.queues.send_inbox(message)
    except NotFound:
        if backend.actors.find(execution.tenant, execution.actor_id) is not None:
            raise  # the inbox is being (re)created: try again on the next pass
        if backend.executions.fail(execution, ACTOR_DELETED, reason=_lost_reason(execution)):
            report.expired.append(execution.id)
        return
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
