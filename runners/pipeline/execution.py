"""Running one message as a flat list of named steps (``ExecutionRunner.run``, read as rq's
``Worker.work``): take (decode and claim), hold the lease, admit, deliver, configure, acquire, start,
watch, conclude; each step returns what the next needs, or raises what ends the attempt early.

The terminal state is written (fenced on the attempt) before the message is acknowledged, so a crash at
any point leaves the message to be redelivered and the claim to decide (reliability plan §1.3). Duplicate
and late deliveries are recognised at the claim and dropped without a container. The three ways an
attempt ends early are exceptions caught in one place: a failure of the message (``MessageFailed``: the
execution ends in ERROR), a container that could not start (``StartFailed``: retried, Abaco's rule), and
an attempt taken over (``Superseded``: it writes nothing more).
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from chalicelib.adapters.crypto import DecryptionError
from chalicelib.adapters.queues import Received
from chalicelib.adapters.tracing import traced
from chalicelib.domain.errors import Conflict, NotFound, Unavailable
from chalicelib.domain.models import Actor, ActorStatus, AttemptReason, ExecutionStatus
from chalicelib.domain.queue_messages import DecodeError, InboxMessage
from chalicelib.services import events
from chalicelib.services.configs import configs_for_actor
from chalicelib.wiring.backend import Backend
from runners.fence import Fence
from runners.metrics import Registry
from runners.pipeline import delivery as deliveries
from runners.pipeline import environment, finalise, privileged
from runners.pipeline.claim import Claims
from runners.pipeline.consumer import InboxConsumer
from runners.pipeline.containers import Acquired, ColdStart, ContainerSource
from runners.pipeline.context import Context
from runners.pipeline.engine import Engine, EngineError
from runners.pipeline.hardening import container_spec
from runners.pipeline.lease import Lease
from runners.pipeline.monitor import Monitor, Watched
from runners.pipeline.outcomes import Kind, Outcome, Stop
from runners.pipeline.results import ResultsCollector

__all__ = ["MAX_START_FAILURES", "Context", "ExecutionRunner", "Outcome"]
LOG = logging.getLogger("abaco.runner")
MAX_START_FAILURES = 6  # Abaco: more than 5 consecutive start failures put the actor in ERROR
POISON_RECEIVES = 8  # an unexpected error on the 8th receive dead-letters (the inbox redrive is at 10)
RETRY_PAUSE_SECONDS = 1.0


class MessageFailed(Exception):
    """A failure of this message, not of the actor (payload, configs, environment): ERROR with the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StartFailed(MessageFailed):
    """The engine could not create or start the container: retried, until the actor's sixth in a row."""


class Superseded(Exception):
    """A newer attempt owns the execution (the lease was lost, or the host fenced): write nothing more."""


class ExecutionRunner:
    """Runs the messages of one worker; holds that worker's identity, engine, inbox and container source."""

    def __init__(self, backend: Backend, engine: Engine, runner_id: str, worker_id: str,
                 inbox: InboxConsumer, kill_event: threading.Event, fence: Fence, metrics: Registry,
                 source: ContainerSource | None = None, on_heartbeat: Callable[[], None] | None = None) -> None:
        self.backend = backend
        self.engine = engine
        self.runner_id = runner_id
        self.worker_id = worker_id
        self.inbox = inbox  # everything done with an SQS message goes through it
        self.settings = backend.settings
        self.fence = fence
        self.metrics = metrics
        self.source: ContainerSource = source or ColdStart(engine)
        self.on_heartbeat = on_heartbeat  # the worker extends its prefetched messages' visibility
        self.work_root = deliveries.runner_root(deliveries.work_root(self.settings.runner_work_dir))
        self.claims = Claims(backend, runner_id, worker_id, self.inbox, metrics)
        self.monitor = Monitor(backend, engine, fence, metrics, kill_event)

    def handle(self, received: Received, actor: Actor) -> Outcome:
        """``run``, with the policy for what it did not expect: the message comes back after its
        visibility timeout, and is dead-lettered on its ``POISON_RECEIVES``-th receive."""
        try:
            outcome = self.run(received, actor)
        except (Unavailable, NotFound):
            raise  # transient, or the actor is gone: the message comes back after its visibility timeout
        except Exception as exc:
            LOG.exception("unexpected error on message %s", received.message_id)
            if received.receive_count < POISON_RECEIVES:
                raise
            outcome = self.dead_letter(received, actor, f"unexpected error: {exc}")
        self.metrics.inc("abaco_executions_total", outcome=str(outcome.kind))
        return outcome

    def run(self, received: Received, actor: Actor) -> Outcome:
        """The steps, in order; the cleanups registered as they become due run in reverse at the end."""
        ctx = traced("claim", self.take, received, actor)  # X-Ray subsegments when tracing is on
        if isinstance(ctx, Outcome):
            return ctx
        with ExitStack() as cleanup:
            ctx.lease = self.hold(ctx)
            cleanup.callback(self.let_go, ctx)
            try:
                self.admit(ctx)
                cleanup.callback(deliveries.drop_payload_when_done, self.backend, ctx.actor, ctx.message)
                ctx.delivery = traced("deliver", self.deliver, ctx)
                cleanup.callback(self.close_delivery, ctx)
                self.still_ours(ctx)
                container = traced("create", self.acquire, ctx, self.configure(ctx))
                cleanup.callback(self.release, container)
                started = traced("start", self.start, ctx, container)
                watched = traced("wait", self.monitor.watch, ctx, container, started)
                return traced("finalise", self.conclude, ctx, container, watched)
            except StartFailed as failure:
                return self.start_failed(ctx, failure.reason)
            except MessageFailed as failure:
                return self.fail(ctx, failure.reason)
            except Superseded:
                return Outcome(Kind.FENCED, ctx.execution.id)

    # --- the steps ------------------------------------------------------------------------------
    def take(self, received: Received, actor: Actor) -> Context | Outcome:
        """Decode the message and claim its execution: the context of attempt k+1, or what was done with
        the message instead (dead-lettered, dropped as a duplicate, hidden while its lease runs)."""
        dequeued = time.time()
        try:
            message = InboxMessage.decode(received.body)
        except DecodeError as exc:
            LOG.error("poison message %s: %s", received.message_id, exc)
            return self.dead_letter(received, actor, "not an inbox message of a known version")
        claimed = self.claims.claim_message(received, actor, message.execution_id)
        if claimed is None:
            return self.dead_letter(received, actor, f"unknown execution {message.execution_id}")
        if isinstance(claimed, Outcome):
            return claimed
        return Context(received, actor, message, claimed, dequeued_at=dequeued)

    def hold(self, ctx: Context) -> Lease:
        """The attempt's heartbeat, from the claim to the terminal write (``runners.pipeline.lease``)."""
        return Lease(self.backend, self.fence, ctx.key, ctx.execution, self.inbox, ctx.received,
                     self.metrics, self.on_heartbeat).start()

    def admit(self, ctx: Context) -> None:
        """A privileged actor runs only where its pool allows it (``runners.pipeline.privileged``)."""
        refusal = privileged.admit(self.backend, ctx.actor, ctx.execution, self.runner_id, self.worker_id)
        if refusal:
            raise MessageFailed(refusal)

    def deliver(self, ctx: Context) -> deliveries.Delivery:
        """The payload and the results socket, in the execution's own directory."""
        try:
            return deliveries.prepare(self.work_root, self.worker_id, ctx.execution.id, ctx.message,
                                      self.backend.payloads)
        except (NotFound, deliveries.PayloadCorrupt, OSError) as exc:
            raise MessageFailed(f"could not deliver the message: {exc}") from exc

    def still_ours(self, ctx: Context) -> None:
        """A large download may have outlasted the lease: then the attempt is no longer ours."""
        if ctx.lease_lost or self.fence.fenced(ctx.key):
            raise Superseded

    def configure(self, ctx: Context) -> dict[str, str]:
        """The container's environment (``runners.pipeline.environment``), with the actor's configs."""
        try:
            configs = configs_for_actor(self.backend, ctx.actor)
        except DecryptionError as exc:  # a key was removed: fail visibly rather than run without secrets
            raise MessageFailed(f"actor configs: {exc}") from exc
        assert ctx.delivery is not None
        ctx.token = environment.access_token(ctx.actor, ctx.execution, self.settings)
        env = ctx.delivery.apply(environment.build(ctx.actor, ctx.execution, ctx.message, self.worker_id,
                                                   access_token=ctx.token, configs=configs))
        too_big = environment.oversized(env)
        if too_big:
            raise MessageFailed(f"environment variables too large for the kernel: {too_big}")
        return env

    def acquire(self, ctx: Context, env: dict[str, str]) -> Acquired:
        """A container for this actor and revision: a pre-started one when the worker's warm pool has it
        (``runners.pipeline.warm``), else a fresh one. Either way it is not running the actor's code yet."""
        assert ctx.delivery is not None
        spec = container_spec(ctx.actor, ctx.execution, env, self.settings, self.runner_id, ctx.delivery.binds)
        try:
            container = self.source.acquire(spec, ctx.actor)
        except EngineError as exc:
            raise StartFailed(str(exc)) from exc
        quota = (self.settings.max_results_per_execution, self.settings.max_result_bytes_per_execution)
        ctx.results = ResultsCollector(container.results or ctx.delivery.results, self.backend.results, ctx.key,
                                       ctx.execution.attempt, self.settings.results_ex, *quota)
        return container

    def start(self, ctx: Context, container: Acquired) -> float:
        """Let the container run (once the fence knows it, so a fenced host kills it on arrival)."""
        if not self.fence.attach(ctx.key, container.cid):
            raise Superseded
        try:
            started = self.source.start(container)
        except EngineError as exc:
            raise StartFailed(str(exc)) from exc
        if ctx.actor.start_failures:
            self.backend.actors.reset_start_failures(ctx.actor.tenant, ctx.actor.id)
        return started

    def conclude(self, ctx: Context, container: Acquired, watched: Watched) -> Outcome:
        """Record the result, or hand the attempt back when the runner is stopping."""
        if watched.stop is Stop.FENCED:
            return Outcome(Kind.FENCED, ctx.execution.id)
        ctx.stop_lease()
        if watched.stop is Stop.RUNNER_SHUTDOWN:
            return self.hand_back(ctx)
        self.finalise(ctx, container, watched)
        return Outcome(Kind.RAN, ctx.execution.id)

    def finalise(self, ctx: Context, container: Acquired, watched: Watched) -> None:
        """Collect the attempt's result from the engine (results, exit state, stats, logs), then commit it."""
        exited = time.time()
        if ctx.results is not None:
            ctx.results.finish()  # every result is stored before the execution turns COMPLETE
        state = self.engine.inspect_state(container.cid)
        fields, reason = finalise.result_fields(ctx.actor, ctx.execution, state, watched.stats, watched.stop,
                                                self.settings, dispatched_at=container.dispatched_at,
                                                cpu_baseline=container.cpu_baseline)
        fields["phases"] = dict(ctx.execution.phases, exited=exited)
        if ctx.unwritten_start is not None:  # exited before the first tick: the start rides on this write
            fields["start_time"] = ctx.unwritten_start
        text = finalise.capped_logs(watched.logs.finish(), self.settings)
        fields["log_bytes"], fields["results_stored"] = len(text.encode()), ctx.results.stored if ctx.results else 0
        self.commit(ctx, fields, reason, text)

    def commit(self, ctx: Context, fields: dict[str, Any], reason: str, text: str) -> bool:
        """Write the logs and the terminal state (both fenced on our attempt), then acknowledge the message;
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
        self.inbox.ack(ctx.received)
        finalise.observe_phases(self.metrics, ctx.execution.phases)
        events.publish(self.backend.queues, ctx.actor, events.execution_event(
            ctx.actor, ctx.execution, events.EventType.EXECUTION_COMPLETE))
        return True

    # --- the ways an attempt ends without a result ---------------------------------------------
    def hand_back(self, ctx: Context) -> Outcome:
        """Shutdown took the container away: record the attempt as handed back and make the message visible
        at once, so the next runner runs attempt k+1. The attempt is not charged (a host drained by scale-in
        or a Spot interruption is no fault of the execution). An attempt taken over meanwhile leaves the
        message alone (our receipt may name the new holder's delivery)."""
        try:
            self.backend.executions.release(ctx.execution, AttemptReason.RUNNER_SHUTDOWN.value, charge=False)
        except Conflict:
            LOG.warning("execution %s was taken over; not handing its message back", ctx.execution.id)
            return Outcome(Kind.HANDED_BACK, ctx.execution.id)
        except Unavailable as exc:
            LOG.warning("could not release %s: %s", ctx.execution.id, exc)
        self.inbox.requeue_after(ctx.received, 0)
        self.metrics.inc("abaco_handed_back_total")
        return Outcome(Kind.HANDED_BACK, ctx.execution.id)

    def fail(self, ctx: Context, reason: str) -> Outcome:
        """A failure of this message (not of the actor): the execution ends in ERROR with the reason."""
        ctx.stop_lease()
        LOG.error("execution %s failed: %s", ctx.execution.id, reason)
        if self.backend.executions.fail(ctx.execution, reason, reason=AttemptReason.START_FAILED,
                                        fenced=True) is None:
            LOG.warning("execution %s was taken over; leaving its message to the new holder", ctx.execution.id)
        else:
            self.inbox.ack(ctx.received)
        return Outcome(Kind.FAILED, ctx.execution.id)

    def start_failed(self, ctx: Context, reason: str) -> Outcome:
        """Abaco's rule: a container that cannot start is retried; the sixth consecutive failure of the
        actor puts it in ERROR (its workers stop) and ends this execution in ERROR. The attempt is handed
        back first, fenced on it: a runner whose attempt was taken over meanwhile (it paused past its lease)
        counts nothing and leaves the message alone, like a runner that died."""
        ctx.stop_lease()
        self.metrics.inc("abaco_start_failures_total")
        try:
            ctx.execution = self.backend.executions.release(ctx.execution, AttemptReason.START_FAILED, charge=False)
        except Conflict:
            LOG.warning("execution %s was taken over before its container failed to start", ctx.execution.id)
            return Outcome(Kind.FENCED, ctx.execution.id)
        try:
            count = self.backend.actors.count_start_failure(ctx.actor.tenant, ctx.actor.id)
        except NotFound:
            count = 0  # the actor was deleted meanwhile: its inbox went too; the reconciler ends the execution
        LOG.error("execution %s: container did not start (%d in a row): %s", ctx.execution.id, count, reason)
        if count < MAX_START_FAILURES:
            self.inbox.requeue_after(ctx.received, self.settings.start_retry_seconds)
            return Outcome(Kind.START_FAILED, ctx.execution.id)
        # Only from SUBMITTED, where the release left it: the message is still ours, so nobody else can
        # have claimed it unless SQS delivered a duplicate, whose runner then runs it.
        self.backend.executions.fail(ctx.execution, reason, only_from=ExecutionStatus.SUBMITTED)
        self.inbox.ack(ctx.received)
        events.on_status(self.backend.queues, self.backend.actors.set_status(
            ctx.actor.tenant, ctx.actor.id, ActorStatus.ERROR,
            f"containers failed to start {count} times in a row: {reason}"))
        return Outcome(Kind.START_FAILED, ctx.execution.id)

    def dead_letter(self, received: Received, actor: Actor, reason: str) -> Outcome:
        """A poison message: to the dead-letter queue with the reason, and its execution (when there is
        one) to ERROR with the same reason."""
        self.inbox.dead_letter(received, reason)
        self.metrics.inc("abaco_dead_lettered_total")
        execution_id = named_execution(received.body)
        execution = self.backend.executions.find(actor.dbid, execution_id) if execution_id else None
        if execution is not None:
            self.backend.executions.fail(execution, f"poison message moved to the dead-letter queue: {reason}")
        return Outcome(Kind.POISON, execution_id)

    # --- cleanups (registered by ``run`` as they become due) -------------------------------------
    def let_go(self, ctx: Context) -> None:
        ctx.stop_lease()
        if self.fence.unwatch(ctx.key):
            self.metrics.inc("abaco_fenced_total")

    @staticmethod
    def close_delivery(ctx: Context) -> None:
        if ctx.results is not None:
            ctx.results.finish()
        if ctx.delivery is not None:
            ctx.delivery.close()

    def release(self, container: Acquired) -> None:
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
