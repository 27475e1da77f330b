"""Running one message in small named steps: decode, load, claim, prepare, acquire, start, monitor,
finalise, delete.

The terminal state is written (fenced on the attempt) before the message is deleted, so a crash at any
point leaves the message to be redelivered and the claim to decide (reliability plan §1.3). Duplicate and
late deliveries are recognised at the claim and dropped without a container.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.crypto import DecryptionError
from chalicelib.adapters.queues import Received
from chalicelib.adapters.storage.logs import execution_key
from chalicelib.domain.errors import AbacoError, Conflict, NotFound, Unavailable
from chalicelib.domain.models import Actor, ActorStatus, AttemptReason, Execution, ExecutionStatus, utcnow
from chalicelib.domain.queue_messages import DecodeError, InboxMessage
from chalicelib.services import events
from chalicelib.services.configs import configs_for_actor
from chalicelib.wiring.backend import Backend
from runners.fence import Fence
from runners.metrics import Registry
from runners.pipeline import delivery as deliveries
from runners.pipeline import environment, finalise, privileged
from runners.pipeline.claim import Claims, Outcome
from runners.pipeline.collectors import LogCollector, StatsCollector
from runners.pipeline.containers import Acquired, ColdStart, ContainerSource
from runners.pipeline.engine import (
    ContainerSpec,
    DockerEngine,
    EngineError,
)
from runners.pipeline.hardening import container_spec
from runners.pipeline.lease import Lease
from runners.pipeline.results import ResultsCollector

LOG = logging.getLogger("abaco.runner")
LOG_FLUSH_SECONDS = 1.0  # logs visible through the API within about a second while the container runs
STOP_GRACE_SECONDS = 5
MAX_START_FAILURES = 6  # Abaco: more than 5 consecutive start failures put the actor in ERROR
POISON_RECEIVES = 8  # an unexpected error on the 8th receive dead-letters (the inbox redrive is at 10)
RETRY_PAUSE_SECONDS = 1.0


@dataclass
class Context:
    """Everything the steps after the claim share."""

    received: Received
    actor: Actor
    message: InboxMessage
    execution: Execution
    delivery: deliveries.Delivery | None = None  # payload file, results socket (reference §3.2)
    results: ResultsCollector | None = None
    dequeued_at: float = 0.0  # when this worker took the message up (the ``dequeued`` phase)
    # The start's ``start_time`` while it is not yet written: it rides on the first write that happens
    # anyway (the first log flush tick of a container still running, or the terminal write).
    unwritten_start: str | None = None

    @property
    def key(self) -> str:
        return execution_key(self.actor.dbid, self.execution.id)


class ExecutionRunner:
    """Runs the messages of one worker; holds that worker's identity, engine client and container source."""

    def __init__(self, backend: Backend, engine: DockerEngine, runner_id: str, worker_id: str,
                 inbox_url: str, kill_event: threading.Event, fence: Fence, metrics: Registry,
                 source: ContainerSource | None = None, on_heartbeat: Callable[[], None] | None = None) -> None:
        self.backend = backend
        self.engine = engine
        self.runner_id = runner_id
        self.worker_id = worker_id
        self.inbox_url = inbox_url
        self.settings = backend.settings
        self.kill_event = kill_event  # second signal or shutdown grace over: hand running work back
        self.fence = fence
        self.metrics = metrics
        self.source: ContainerSource = source or ColdStart(engine)
        self.on_heartbeat = on_heartbeat  # the worker extends its prefetched messages' visibility
        self.work_root = deliveries.runner_root(deliveries.work_root(self.settings.runner_work_dir))
        self.claims = Claims(backend, runner_id, worker_id, inbox_url, metrics)

    # --- the steps ------------------------------------------------------------------------------
    def handle(self, received: Received, actor: Actor) -> Outcome:
        try:
            outcome = self._handle(received, actor)
        except (Unavailable, NotFound):
            raise  # transient, or the actor is gone: the message comes back after its visibility timeout
        except Exception as exc:
            LOG.exception("unexpected error on message %s", received.message_id)
            if received.receive_count < POISON_RECEIVES:
                raise
            outcome = self._dead_letter(received, actor, f"unexpected error: {exc}")
        self.metrics.inc("abaco_executions_total", outcome=outcome.kind)
        return outcome

    def _handle(self, received: Received, actor: Actor) -> Outcome:
        taken = self.take(received, actor)
        return taken if isinstance(taken, Outcome) else self._run(taken)

    def take(self, received: Received, actor: Actor) -> Context | Outcome:
        """Decode the message and claim its execution: the context of attempt k+1, or what was done with
        the message instead (dead-lettered, dropped as a duplicate, hidden while its lease runs)."""
        dequeued = time.time()
        message = self._decode(received)
        if message is None:
            return self._dead_letter(received, actor, "not an inbox message of a known version")
        claimed = self.claims.claim_message(received, actor, message.execution_id)
        if claimed is None:
            return self._dead_letter(received, actor, f"unknown execution {message.execution_id}")
        if isinstance(claimed, Outcome):
            return claimed
        return Context(received, actor, message, claimed, dequeued_at=dequeued)

    def _decode(self, received: Received) -> InboxMessage | None:
        try:
            return InboxMessage.decode(received.body)
        except DecodeError as exc:
            LOG.error("poison message %s: %s", received.message_id, exc)
            return None

    def _run(self, ctx: Context) -> Outcome:
        """From the claim to the terminal write, with the attempt's heartbeat running all along."""
        lease = Lease(self.backend, self.fence, ctx.key, ctx.execution, self.inbox_url, ctx.received.receipt,
                      self.metrics, self.on_heartbeat).start()
        try:
            return self._deliver_and_run(ctx, lease)
        finally:
            lease.stop()
            if self.fence.unwatch(ctx.key):
                self.metrics.inc("abaco_fenced_total")

    def _deliver_and_run(self, ctx: Context, lease: Lease) -> Outcome:
        """Deliver the payload and the results socket, run, then drop the payload once it is not needed."""
        refusal = privileged.admit(self.backend, ctx.actor, ctx.execution, self.runner_id, self.worker_id)
        if refusal:
            lease.stop()
            self._fail(ctx, refusal)
            return Outcome("failed", ctx.execution.id)
        try:
            ctx.delivery = deliveries.prepare(self.work_root, self.worker_id, ctx.execution.id, ctx.message,
                                              self.backend.payloads)
        except (NotFound, deliveries.PayloadCorrupt, OSError) as exc:
            lease.stop()
            self._fail(ctx, f"could not deliver the message: {exc}")
            outcome = Outcome("failed", ctx.execution.id)
        else:
            try:
                outcome = self._run_delivered(ctx, ctx.delivery, lease)
            finally:
                if ctx.results is not None:
                    ctx.results.finish()
                ctx.delivery.close()
        deliveries.drop_payload_when_done(self.backend, ctx.actor, ctx.message)
        return outcome

    def _run_delivered(self, ctx: Context, delivery: deliveries.Delivery, lease: Lease) -> Outcome:
        if lease.lost or self.fence.fenced(ctx.key):  # a large download may have outlasted the lease
            return Outcome("fenced", ctx.execution.id)
        try:
            configs = configs_for_actor(self.backend, ctx.actor)
        except DecryptionError as exc:  # a key was removed: fail visibly rather than run without secrets
            lease.stop()
            self._fail(ctx, f"actor configs: {exc}")
            return Outcome("failed", ctx.execution.id)
        env = delivery.apply(environment.build(ctx.actor, ctx.execution, ctx.message, self.worker_id,
                                               configs=configs))
        too_big = environment.oversized(env)
        if too_big:
            lease.stop()
            self._fail(ctx, f"environment variables too large for the kernel: {too_big}")
            return Outcome("failed", ctx.execution.id)
        try:
            container = self._container(ctx, env, delivery.binds)
        except EngineError as exc:
            lease.stop()
            return self._start_failed(ctx, str(exc))
        ctx.results = ResultsCollector(container.results or delivery.results, self.backend.results, ctx.key,
                                       ctx.execution.attempt, self.settings.results_ex)
        try:
            if not self.fence.attach(ctx.key, container.cid):
                return Outcome("fenced", ctx.execution.id)
            try:
                started = self.source.start(container)
            except EngineError as exc:
                lease.stop()
                return self._start_failed(ctx, str(exc))
            if ctx.actor.start_failures:
                self.backend.actors.reset_start_failures(ctx.actor.tenant, ctx.actor.id)
            return self._watch(ctx, lease, container, started)
        finally:
            self._release(container)

    def _container(self, ctx: Context, env: dict[str, str], binds: dict[str, dict[str, str]]) -> Acquired:
        """Get a container for this actor and revision: a pre-started one when the worker's warm pool has
        it (``runners.pipeline.warm``), else a fresh one. Either way it is not running the actor's code yet."""
        return self.source.acquire(self._spec(ctx, env, binds), ctx.actor)

    def _watch(self, ctx: Context, lease: Lease, container: Acquired, started: float) -> Outcome:
        logs = LogCollector(container.output, self.settings.max_log_length)
        stats = StatsCollector(lambda: self.engine.stats(container.cid))
        self._note_start(ctx, container, started)
        events.publish(self.backend.queues, ctx.actor, events.execution_event(
            ctx.actor, ctx.execution, events.EventType.EXECUTION_STARTED))
        stop_reason = self._monitor(ctx, lease, container.cid, logs)
        if stop_reason == "fenced":
            return Outcome("fenced", ctx.execution.id)
        lease.stop()
        if stop_reason == "runner_shutdown":
            self._hand_back(ctx)
            return Outcome("handed_back", ctx.execution.id)
        self._finalise(ctx, container, logs, stats, stop_reason)
        return Outcome("ran", ctx.execution.id)

    def _note_start(self, ctx: Context, container: Acquired, started: float) -> None:
        """Keep the start (``start_time`` and the phases up to ``started``) for the next write. Written on
        its own only when the container is still running at the first monitor tick (``_record_start``); a
        container that exits within it has its start ride on the terminal write, one UpdateItem fewer per
        short execution. The lease does not depend on it: the heartbeat thread renews it all along."""
        phases = dict(ctx.execution.phases, **container.phases, dequeued=ctx.dequeued_at,
                      created=container.created_at, started=started)
        ctx.execution = ctx.execution.model_copy(update={"phases": phases})
        ctx.unwritten_start = utcnow()

    def _record_start(self, ctx: Context) -> None:
        """The start of a container that is still running, so the API shows it within about a second."""
        if ctx.unwritten_start is None:
            return
        sent = time.time()  # the renewed lease counts from the request (runners.pipeline.lease)
        try:
            ctx.execution = self.backend.executions.renew(
                ctx.execution, self.settings.visibility_timeout,
                extra={"start_time": ctx.unwritten_start, "phases": ctx.execution.phases})
            ctx.unwritten_start = None
            self.fence.renewed(ctx.key, Fence.deadline(sent, self.settings.visibility_timeout))
        except Conflict:
            self.metrics.inc("abaco_stale_write_rejected_total")
            self.fence.fence_now(ctx.key)
        except Unavailable as exc:  # keep running (tried again next tick); the fence kills it if this lasts
            LOG.warning("could not record the start of %s: %s", ctx.execution.id, exc)

    def _monitor(self, ctx: Context, lease: Lease, cid: str, logs: LogCollector) -> str | None:
        """Wait for the exit, flushing logs every second; nothing here blocks longer than a second, and
        the heartbeat runs in its own thread. Returns why the container was stopped (None when it exited
        by itself, "fenced" when the lease was lost)."""
        started = time.monotonic()
        flushed = -1
        stop_reason: str | None = None
        kill_at: float | None = None
        limit = ctx.actor.max_run_time or self.settings.max_run_time
        while not self.engine.wait(cid, timeout=LOG_FLUSH_SECONDS):
            if self.fence.fenced(ctx.key) or lease.lost:
                return "fenced"
            self._record_start(ctx)
            flushed = self._flush_logs(ctx, logs, flushed)
            if stop_reason is None and limit > 0 and time.monotonic() - started > limit:
                stop_reason, kill_at = "max_run_time", time.monotonic() + STOP_GRACE_SECONDS
                self.engine.signal(cid, "SIGTERM")  # Docker's stop, without blocking this loop
            if stop_reason is None and self.kill_event.is_set():
                stop_reason, kill_at = "runner_shutdown", time.monotonic()
            if stop_reason is None and self._force_quit_requested(ctx):
                stop_reason, kill_at = "force_quit", time.monotonic() + STOP_GRACE_SECONDS
                self.engine.signal(cid, "SIGTERM")
            if kill_at is not None and time.monotonic() >= kill_at:
                self.engine.signal(cid, "SIGKILL")
        return "fenced" if self.fence.fenced(ctx.key) or lease.lost else stop_reason

    def _force_quit_requested(self, ctx: Context) -> bool:
        """DELETE on a RUNNING execution sets ``force_quit``; read about once a second while it runs."""
        try:
            current = self.backend.executions.find(ctx.actor.dbid, ctx.execution.id)
        except AbacoError:
            return False
        return bool(current and current.force_quit)

    def _flush_logs(self, ctx: Context, logs: LogCollector, flushed: int) -> int:
        version, text = logs.snapshot()
        if version == flushed:
            return flushed
        try:
            self.backend.logs.write(ctx.key, finalise.capped_logs(text, self.settings),
                                    finalise.log_expiry(ctx.actor, self.settings), attempt=ctx.execution.attempt)
        except Unavailable:
            return flushed
        except Conflict:  # a newer attempt owns the execution: the heartbeat fences this one
            self.metrics.inc("abaco_stale_write_rejected_total")
            return flushed
        return version

    def _finalise(self, ctx: Context, container: Acquired, logs: LogCollector, stats: StatsCollector,
                  stop_reason: str | None) -> None:
        """Collect the attempt's result from the engine (results, exit state, stats, logs), then commit it."""
        exited = time.time()
        if ctx.results is not None:
            ctx.results.finish()  # every result is stored before the execution turns COMPLETE
        state = self.engine.inspect_state(container.cid)
        fields, reason = finalise.result_fields(ctx.actor, ctx.execution, state, stats, stop_reason, self.settings,
                                                dispatched_at=container.dispatched_at,
                                                cpu_baseline=container.cpu_baseline)
        fields["phases"] = dict(ctx.execution.phases, exited=exited)
        if ctx.unwritten_start is not None:  # exited before the first tick: the start rides on this write
            fields["start_time"] = ctx.unwritten_start
        self.commit(ctx, fields, reason, finalise.capped_logs(logs.finish(), self.settings))

    def commit(self, ctx: Context, fields: dict[str, Any], reason: str, text: str) -> bool:
        """Write the logs and the terminal state (both fenced on our attempt), then delete the message;
        False when a newer attempt owns the execution, or the store stayed out of reach until the fence
        took the attempt away. While the store is out of reach, retry until the lease runs out."""
        while True:
            try:
                if finalise.logs_to_write(text, ctx.execution.attempt):
                    self.backend.logs.write(ctx.key, text, finalise.log_expiry(ctx.actor, self.settings),
                                            attempt=ctx.execution.attempt)
                fields["phases"] = dict(fields.get("phases") or ctx.execution.phases, finalised=time.time())
                ctx.execution = self.backend.executions.finish(ctx.execution, fields, reason)
                break
            except Conflict:
                LOG.warning("execution %s was taken over; dropping this attempt's result", ctx.execution.id)
                self.metrics.inc("abaco_stale_write_rejected_total")
                return False
            except Unavailable as exc:
                if self.fence.fenced(ctx.key):
                    LOG.error("could not record %s before its lease ended: %s", ctx.execution.id, exc)
                    return False
                time.sleep(RETRY_PAUSE_SECONDS)
        self._on_inbox(self.backend.queues.delete, ctx.received.receipt)
        finalise.observe_phases(self.metrics, ctx.execution.phases)
        events.publish(self.backend.queues, ctx.actor, events.execution_event(
            ctx.actor, ctx.execution, events.EventType.EXECUTION_COMPLETE))
        return True

    def _hand_back(self, ctx: Context) -> None:
        """Shutdown took the container away: record the attempt as handed back and make the message visible
        at once, so the next runner runs attempt k+1. The attempt is not charged (a host drained by scale-in
        or a Spot interruption is no fault of the execution). An attempt taken over meanwhile leaves the
        message alone (our receipt may name the new holder's delivery)."""
        try:
            self.backend.executions.release(ctx.execution, AttemptReason.RUNNER_SHUTDOWN.value, charge=False)
        except Conflict:
            LOG.warning("execution %s was taken over; not handing its message back", ctx.execution.id)
            return
        except Unavailable as exc:
            LOG.warning("could not release %s: %s", ctx.execution.id, exc)
        self._on_inbox(self.backend.queues.set_visibility, ctx.received.receipt, 0)
        self.metrics.inc("abaco_handed_back_total")

    # --- failures -------------------------------------------------------------------------------
    def _fail(self, ctx: Context, reason: str) -> None:
        """A failure of this message (not of the actor): the execution ends in ERROR with the reason."""
        LOG.error("execution %s failed: %s", ctx.execution.id, reason)
        if self.backend.executions.fail(ctx.execution, reason, reason=AttemptReason.START_FAILED.value,
                                        fenced=True) is None:
            LOG.warning("execution %s was taken over; leaving its message to the new holder", ctx.execution.id)
            return
        self._on_inbox(self.backend.queues.delete, ctx.received.receipt)

    def _start_failed(self, ctx: Context, reason: str) -> Outcome:
        """Abaco's rule: a container that cannot start is retried; the sixth consecutive failure of the
        actor puts it in ERROR (its workers stop) and ends this execution in ERROR. The attempt is handed
        back first, fenced on it: a runner whose attempt was taken over meanwhile (it paused past its lease)
        counts nothing and leaves the message alone, like a runner that died."""
        self.metrics.inc("abaco_start_failures_total")
        try:
            ctx.execution = self.backend.executions.release(ctx.execution, AttemptReason.START_FAILED.value,
                                                            charge=False)
        except Conflict:
            LOG.warning("execution %s was taken over before its container failed to start", ctx.execution.id)
            return Outcome("fenced", ctx.execution.id)
        try:
            count = self.backend.actors.count_start_failure(ctx.actor.tenant, ctx.actor.id)
        except NotFound:
            count = 0  # the actor was deleted meanwhile: its inbox went too; the reconciler ends the execution
        LOG.error("execution %s: container did not start (%d in a row): %s", ctx.execution.id, count, reason)
        if count >= MAX_START_FAILURES:
            # Only from SUBMITTED, where the release left it: the message is still ours, so nobody else
            # can have claimed it unless SQS delivered a duplicate, whose runner then runs it.
            self.backend.executions.fail(ctx.execution, reason, only_from=ExecutionStatus.SUBMITTED)
            self._on_inbox(self.backend.queues.delete, ctx.received.receipt)
            events.on_status(self.backend.queues, self.backend.actors.set_status(
                ctx.actor.tenant, ctx.actor.id, ActorStatus.ERROR,
                f"containers failed to start {count} times in a row: {reason}"))
            return Outcome("start_failed", ctx.execution.id)
        self._on_inbox(self.backend.queues.set_visibility, ctx.received.receipt, self.settings.start_retry_seconds)
        return Outcome("start_failed", ctx.execution.id)

    def _dead_letter(self, received: Received, actor: Actor, reason: str) -> Outcome:
        """A poison message: to the dead-letter queue with the reason, and its execution (when there is
        one) to ERROR with the same reason."""
        self._on_inbox(self.backend.queues.dead_letter, received, reason)
        self.metrics.inc("abaco_dead_lettered_total")
        execution_id = named_execution(received.body)
        execution = self.backend.executions.find(actor.dbid, execution_id) if execution_id else None
        if execution is not None:
            self.backend.executions.fail(execution, f"poison message moved to the dead-letter queue: {reason}")
        return Outcome("poison", execution_id)

    # --- helpers --------------------------------------------------------------------------------
    def _on_inbox(self, operation: Callable[..., object], *args: object) -> None:
        """``operation(self.inbox_url, *args)`` on the inbox, where a missing inbox is not an error: the actor
        was deleted while its message was held, and the message went with its queue (the execution is
        closed by the delete, or by the reconciler)."""
        try:
            operation(self.inbox_url, *args)
        except NotFound:
            LOG.info("inbox %s is gone (its actor was deleted)", self.inbox_url.rsplit("/", 1)[-1])
    def _spec(self, ctx: Context, env: dict[str, str], binds: dict[str, dict[str, str]]) -> ContainerSpec:
        return container_spec(ctx.actor, ctx.execution, env, self.settings, self.runner_id, binds)

    def _release(self, container: Acquired) -> None:
        try:
            self.source.release(container, remove=not self.settings.leave_containers)
        except EngineError as exc:
            LOG.error("could not remove container %s: %s", container.cid[:12], exc)


def named_execution(body: str) -> str | None:
    """The execution a message names, even when the message itself is not one we can run (a newer
    version, a missing field): so a poison message still ends its execution visibly."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    value = data.get("execution_id") if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None

