"""Running one message: decode, claim, create, start, watch (heartbeat, logs), finalise, delete.

The terminal state is written (fenced on the attempt) before the message is deleted, so a crash at any
point leaves the message to be redelivered and the claim to decide (reliability plan §1.3).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from chalicelib.backend import Backend
from chalicelib.errors import Conflict, NotFound
from chalicelib.models import Actor, Execution, ExecutionStatus, parse_time, utcnow
from chalicelib.queue_messages import DecodeError, InboxMessage
from chalicelib.queues import Received
from chalicelib.storage.executions import ClaimRefused
from chalicelib.storage.logs import cap, execution_key
from runners import environment
from runners.collectors import LogCollector, StatsCollector
from runners.engine import (
    LABEL_ACTOR,
    LABEL_ATTEMPT,
    LABEL_EXECUTION,
    LABEL_RUNNER,
    LABEL_TENANT,
    ContainerSpec,
    DockerEngine,
    EngineError,
)

LOG = logging.getLogger("abaco.runner")
LOG_FLUSH_SECONDS = 1.0  # logs visible through the API within about a second while the container runs
STOP_GRACE_SECONDS = 5


@dataclass
class Outcome:
    """What happened to one received message (for the worker's bookkeeping and for tests)."""

    kind: str  # "ran", "duplicate", "leased", "poison", "start_failed", "stale"
    execution_id: str | None = None


class ExecutionRunner:
    """Runs the messages of one worker; holds that worker's identity and its engine client."""

    def __init__(self, backend: Backend, engine: DockerEngine, runner_id: str, worker_id: str,
                 inbox_url: str, stop_event: threading.Event) -> None:
        self.backend = backend
        self.engine = engine
        self.runner_id = runner_id
        self.worker_id = worker_id
        self.inbox_url = inbox_url
        self.settings = backend.settings
        self.force_kill = stop_event

    # --- steps ---------------------------------------------------------------------------------
    def handle(self, received: Received, actor: Actor) -> Outcome:
        try:
            message = InboxMessage.decode(received.body)
        except DecodeError as exc:
            LOG.error("poison message %s on %s: %s", received.message_id, self.inbox_url, exc)
            self.backend.queues.delete(self.inbox_url, received.receipt)
            return Outcome("poison")
        try:
            execution = self.backend.executions.get(actor.dbid, message.execution_id)
        except NotFound:
            LOG.error("message %s names unknown execution %s", received.message_id, message.execution_id)
            self.backend.queues.delete(self.inbox_url, received.receipt)
            return Outcome("poison", message.execution_id)
        claimed = self._claim(received, execution)
        if isinstance(claimed, Outcome):
            return claimed
        return self._run(received, actor, message, claimed)

    def _claim(self, received: Received, execution: Execution) -> Execution | Outcome:
        try:
            return self.backend.executions.claim(execution, self.runner_id, self.worker_id,
                                                 lease_seconds=self.settings.visibility_timeout,
                                                 max_attempts=self.settings.max_attempts)
        except ClaimRefused as refused:
            latest = refused.execution
        if latest is None or latest.status in (ExecutionStatus.COMPLETE, ExecutionStatus.ERROR):
            self.backend.queues.delete(self.inbox_url, received.receipt)  # duplicate or late redelivery
            return Outcome("duplicate", execution.id)
        if latest.status == ExecutionStatus.RUNNING and (latest.lease_expires_at or 0) > time.time():
            remaining = int((latest.lease_expires_at or 0) - time.time()) + 2
            self.backend.queues.set_visibility(self.inbox_url, received.receipt, min(remaining, 43_200))
            return Outcome("leased", execution.id)
        self.backend.executions.fail(latest, f"runner lost, attempts {latest.attempt}/{self.settings.max_attempts}")
        self.backend.queues.delete(self.inbox_url, received.receipt)
        return Outcome("duplicate", execution.id)

    def _run(self, received: Received, actor: Actor, message: InboxMessage, execution: Execution) -> Outcome:
        env = environment.build(actor, execution, message, self.worker_id)
        too_big = environment.oversized(env)
        if too_big:
            self._fail(received, execution, f"environment variables too large for the kernel: {too_big}")
            return Outcome("start_failed", execution.id)
        spec = self._spec(actor, execution, env)
        try:
            cid = self.engine.create(spec)
        except EngineError as exc:
            self._fail(received, execution, str(exc))
            return Outcome("start_failed", execution.id)
        try:
            return self._watch(received, actor, execution, cid)
        finally:
            if not self.settings.leave_containers:
                self._remove(cid)

    def _watch(self, received: Received, actor: Actor, execution: Execution, cid: str) -> Outcome:
        created = time.time()
        logs = LogCollector(self.engine.attach_output(cid), self.settings.max_log_length)
        try:
            self.engine.start(cid)
        except EngineError as exc:
            self._fail(received, execution, str(exc))
            return Outcome("start_failed", execution.id)
        stats = StatsCollector(lambda: self.engine.stats(cid))
        execution = self.backend.executions.renew(
            execution, self.settings.visibility_timeout,
            extra={"start_time": utcnow(), "phases": dict(execution.phases, created=created, started=time.time())})
        execution, killed = self._monitor(received, actor, execution, cid, logs)
        if execution is None:  # fenced: another attempt owns the execution now
            return Outcome("fenced")
        if killed == "runner_shutdown":
            self._hand_back(received, execution)
            return Outcome("handed_back", execution.id)
        self._finalise(received, actor, execution, cid, logs, stats, killed)
        return Outcome("ran", execution.id)

    def _monitor(self, received: Received, actor: Actor, execution: Execution, cid: str,
                 logs: LogCollector) -> tuple[Execution | None, str | None]:
        """Wait for the exit, flushing logs every second and renewing the lease every heartbeat."""
        started = time.monotonic()
        next_beat = started + self.settings.heartbeat_seconds
        flushed = -1
        killed: str | None = None
        key = execution_key(actor.dbid, execution.id)
        while not self.engine.wait(cid, timeout=LOG_FLUSH_SECONDS):
            version, text = logs.snapshot()
            if version != flushed:
                self.backend.logs.write(key, cap(text, self.settings.max_log_length), None)
                flushed = version
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + self.settings.heartbeat_seconds
                try:
                    execution = self._heartbeat(received, execution)
                except Conflict:
                    LOG.warning("lost the lease on %s; stopping its container", execution.id)
                    self.engine.stop(cid, 0)
                    return None, "fenced"
            limit = self.settings.max_run_time
            if killed is None and limit > 0 and time.monotonic() - started > limit:
                killed = "max_run_time"
                self.engine.stop(cid, STOP_GRACE_SECONDS)
            if killed is None and self.force_kill.is_set():
                killed = "runner_shutdown"
                self.engine.stop(cid, 0)
        return execution, killed

    def _heartbeat(self, received: Received, execution: Execution) -> Execution:
        execution = self.backend.executions.renew(execution, self.settings.visibility_timeout)
        self.backend.queues.set_visibility(self.inbox_url, received.receipt, self.settings.visibility_timeout)
        return execution

    def _finalise(self, received: Received, actor: Actor, execution: Execution, cid: str, logs: LogCollector,
                  stats: StatsCollector, killed: str | None) -> None:
        exited = time.time()
        state = self.engine.inspect_state(cid)
        text = logs.finish()
        # No join: Docker 20.10 keeps streaming (zero) samples after the exit until the container is
        # removed, so waiting only adds its timeout to every execution (200 ms measured by the bench).
        cpu, io = stats.finish(timeout=0)
        expires = _log_expiry(actor, self.settings)
        self.backend.logs.write(execution_key(actor.dbid, execution.id),
                                cap(text, self.settings.max_log_length), expires)
        start, finish = parse_time(state.state.get("StartedAt")), parse_time(state.state.get("FinishedAt"))
        runtime = round((finish - start).total_seconds()) if start and finish and finish > start else 0
        fields: dict[str, Any] = {
            "status": ExecutionStatus.COMPLETE.value, "exit_code": state.exit_code, "final_state": state.state,
            "finish_time": utcnow(), "runtime": runtime, "cpu": cpu, "io": io, "lease_expires_at": None,
            "phases": dict(execution.phases, exited=exited, finalised=time.time()),
        }
        if killed:
            fields["status_message"] = f"container stopped: {killed}"
        try:
            self.backend.executions.finish(execution, fields)
        except Conflict:
            LOG.warning("execution %s was taken over; dropping this attempt's result", execution.id)
            return
        self.backend.queues.delete(self.inbox_url, received.receipt)

    def _hand_back(self, received: Received, execution: Execution) -> None:
        """Second shutdown signal: expire our lease and make the message visible again at once, so the
        next runner re-claims it as attempt k+1 (this attempt is recorded as lost)."""
        try:
            self.backend.executions.renew(execution, 0)
        except Conflict:
            return
        self.backend.queues.set_visibility(self.inbox_url, received.receipt, 0)

    def _fail(self, received: Received, execution: Execution, reason: str) -> None:
        LOG.error("execution %s failed to start: %s", execution.id, reason)
        self.backend.executions.fail(execution, reason)
        self.backend.queues.delete(self.inbox_url, received.receipt)

    def _spec(self, actor: Actor, execution: Execution, env: dict[str, str]) -> ContainerSpec:
        settings = self.settings
        user = None if actor.use_container_uid else (
            f"{actor.uid}:{actor.gid or actor.uid}" if actor.uid else settings.container_user)
        return ContainerSpec(
            image=actor.image, environment=env, network_mode=settings.container_network,
            mem_limit=actor.mem_limit or settings.mem_limit,
            nano_cpus=actor.max_cpus or settings.max_cpus, pids_limit=settings.pids_limit, user=user,
            privileged=actor.privileged,
            labels={LABEL_RUNNER: self.runner_id, LABEL_EXECUTION: execution.id, LABEL_ACTOR: actor.id,
                    LABEL_ATTEMPT: str(execution.attempt), LABEL_TENANT: actor.tenant})

    def _remove(self, cid: str) -> None:
        try:
            self.engine.remove(cid)
        except EngineError as exc:
            LOG.error("could not remove container %s: %s", cid[:12], exc)


def _log_expiry(actor: Actor, settings: Any) -> int | None:
    """Abaco's log_ex: the actor's value capped at the limit, else the default; <= 0 keeps logs forever."""
    seconds = settings.log_ex if actor.log_ex is None else min(actor.log_ex, settings.log_ex_limit)
    return int(time.time()) + seconds if seconds > 0 else None
