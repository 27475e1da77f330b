"""Watching a started container until it ends: the log flushes, the start record, max_run_time, force quit
and the runner's shutdown, each decided once a second (``Stop`` says which ended it).

Nothing here blocks longer than a second (``LOG_FLUSH_SECONDS``); the lease's heartbeat runs in its own
thread (``runners.pipeline.lease``), so a slow store call here never lets the lease lapse.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from chalicelib.domain.errors import AbacoError, Conflict, Unavailable
from chalicelib.domain.models import utcnow
from chalicelib.services import events
from chalicelib.wiring.backend import Backend
from runners.fence import Fence
from runners.metrics import Registry
from runners.pipeline import finalise
from runners.pipeline.collectors import LogCollector, StatsCollector
from runners.pipeline.containers import Acquired
from runners.pipeline.context import Context
from runners.pipeline.engine import Engine
from runners.pipeline.outcomes import Stop

LOG = logging.getLogger("abaco.runner")
LOG_FLUSH_SECONDS = 1.0  # logs visible through the API within about a second while the container runs
STOP_GRACE_SECONDS = 5  # Docker's default grace between SIGTERM and SIGKILL


@dataclass
class Watched:
    """How the container ended, and its collectors (read once more by the terminal write)."""

    stop: Stop
    logs: LogCollector
    stats: StatsCollector


class Monitor:
    """One worker's watch over its running containers."""

    def __init__(self, backend: Backend, engine: Engine, fence: Fence, metrics: Registry,
                 kill_event: threading.Event) -> None:
        self.backend = backend
        self.engine = engine
        self.fence = fence
        self.metrics = metrics
        self.kill_event = kill_event  # second signal or shutdown grace over: hand running work back
        self.settings = backend.settings

    def watch(self, ctx: Context, container: Acquired, started: float) -> Watched:
        logs = LogCollector(container.output, self.settings.max_log_length, secrets=(ctx.token,))
        stats = StatsCollector(lambda: self.engine.stats(container.cid))
        note_start(ctx, container, started)
        events.publish(self.backend.queues, ctx.actor, events.execution_event(
            ctx.actor, ctx.execution, events.EventType.EXECUTION_STARTED))
        return Watched(self.until_stopped(ctx, container.cid, logs), logs, stats)

    def until_stopped(self, ctx: Context, cid: str, logs: LogCollector) -> Stop:
        """Wait for the exit, flushing logs every second; stop the container when a limit says so."""
        started = time.monotonic()
        flushed = -1
        stop = Stop.EXITED
        kill_at: float | None = None
        while not self.engine.wait(cid, timeout=LOG_FLUSH_SECONDS):
            if self._superseded(ctx):
                return Stop.FENCED
            self.record_start(ctx)
            flushed = self.flush_logs(ctx, logs, flushed)
            if stop is Stop.EXITED:
                stop = self._why_stop(ctx, started)
                if stop is not Stop.EXITED:
                    kill_at = self._stop_container(cid, stop)
            if kill_at is not None and time.monotonic() >= kill_at:
                self.engine.signal(cid, "SIGKILL")
        return Stop.FENCED if self._superseded(ctx) else stop

    def _why_stop(self, ctx: Context, started: float) -> Stop:
        limit = ctx.actor.max_run_time or self.settings.max_run_time
        if limit > 0 and time.monotonic() - started > limit:
            return Stop.MAX_RUN_TIME
        if self.kill_event.is_set():
            return Stop.RUNNER_SHUTDOWN
        if self.force_quit_requested(ctx):
            return Stop.FORCE_QUIT
        return Stop.EXITED

    def _stop_container(self, cid: str, stop: Stop) -> float:
        """Docker's stop without blocking this loop: SIGTERM now, SIGKILL at the returned time. A runner
        shutting down kills at once (the attempt goes to another runner)."""
        if stop is Stop.RUNNER_SHUTDOWN:
            return time.monotonic()
        self.engine.signal(cid, "SIGTERM")
        return time.monotonic() + STOP_GRACE_SECONDS

    def _superseded(self, ctx: Context) -> bool:
        return self.fence.fenced(ctx.key) or ctx.lease_lost

    def record_start(self, ctx: Context) -> None:
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

    def force_quit_requested(self, ctx: Context) -> bool:
        """DELETE on a RUNNING execution sets ``force_quit``; read about once a second while it runs."""
        try:
            current = self.backend.executions.find(ctx.actor.dbid, ctx.execution.id)
        except AbacoError:
            return False
        return bool(current and current.force_quit)

    def flush_logs(self, ctx: Context, logs: LogCollector, flushed: int) -> int:
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


def note_start(ctx: Context, container: Acquired, started: float) -> None:
    """Keep the start (``start_time`` and the phases up to ``started``) for the next write. Written on its
    own only when the container is still running at the first monitor tick (``Monitor.record_start``); a
    container that exits within it has its start ride on the terminal write, one UpdateItem fewer per
    short execution. The lease does not depend on it: the heartbeat thread renews it all along."""
    phases = dict(ctx.execution.phases, **container.phases, dequeued=ctx.dequeued_at,
                  created=container.created_at, started=started)
    ctx.execution = ctx.execution.model_copy(update={"phases": phases})
    ctx.unwritten_start = utcnow()
