"""Pure helpers of the terminal write: the result fields, the attempt's reason, the capped logs."""
from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from chalicelib.adapters.storage.logs import cap
from chalicelib.domain.expiry import log_expires_at
from chalicelib.domain.models import PHASES, Actor, AttemptReason, Execution, ExecutionStatus, parse_time, utcnow
from chalicelib.wiring.settings import Settings
from runners.metrics import Registry
from runners.pipeline.collectors import StatsCollector
from runners.pipeline.engine import ExitState
from runners.pipeline.outcomes import Stop

# No join: Docker 20.10 keeps streaming (zero) samples after the exit until the container is removed, so
# waiting only adds its timeout to every execution (200 ms measured by the bench).
STATS_WAIT_SECONDS = 0.0


def result_fields(actor: Actor, execution: Execution, state: ExitState, stats: StatsCollector,
                  stop: Stop | None, settings: Settings, dispatched_at: float | None = None,
                  cpu_baseline: int = 0) -> tuple[dict[str, Any], str]:
    """The COMPLETE record of an attempt whose container exited, and the reason closing the attempt.
    Any exit is COMPLETE, as in Abaco; an OOM kill and a max_run_time stop say so in status_message.
    A warm container started before its message: its runtime, cpu and ``StartedAt`` count from
    ``dispatched_at``, minus the CPU its entry shim used before (``cpu_baseline``)."""
    cpu, io = stats.finish(timeout=STATS_WAIT_SECONDS)
    cpu = max(cpu - cpu_baseline, 0)
    final_state = dict(state.state)
    if dispatched_at is not None:
        final_state["StartedAt"] = docker_time(dispatched_at)
    start, finish = parse_time(final_state.get("StartedAt")), parse_time(final_state.get("FinishedAt"))
    runtime = round((finish - start).total_seconds()) if start and finish and finish > start else 0
    fields: dict[str, Any] = {
        "status": ExecutionStatus.COMPLETE.value, "exit_code": state.exit_code, "final_state": final_state,
        "finish_time": utcnow(), "runtime": runtime, "cpu": cpu, "io": io,
    }
    if not execution.start_time:
        fields["start_time"] = utcnow()
    reason = AttemptReason.EXITED.value
    if state.state.get("OOMKilled"):
        reason = AttemptReason.OOM_KILLED.value
        limit = actor.mem_limit or settings.mem_limit
        fields["status_message"] = f"container killed: out of memory (memory limit {limit})"
    elif stop is Stop.FORCE_QUIT:
        fields["status_message"] = "container stopped: force quit requested"
    elif stop is Stop.MAX_RUN_TIME:
        reason = AttemptReason.TIMEOUT.value
        limit = actor.max_run_time or settings.max_run_time
        fields["status_message"] = f"container stopped: max_run_time of {limit} s reached"
    return fields, reason


def docker_time(epoch: float) -> str:
    """An epoch time in the engine's own format (RFC 3339 with nanoseconds, UTC)."""
    moment = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def capped_logs(text: str, settings: Settings) -> str:
    return cap(text, settings.max_log_length)


def logs_to_write(text: str, attempt: int) -> bool:
    """Whether the terminal write must store the attempt's logs. Empty logs of the first attempt need no
    item: no earlier attempt can have left chunks to hide (the attempt number only grows, and a later
    attempt's chunks are fenced against ours), and a log flush only ever writes text that then stays in
    the final one, so the logs read as empty either way; one PutItem fewer for an actor that prints
    nothing. Any later attempt writes, even empty, so its logs replace those of the attempt before."""
    return bool(text) or attempt > 1


def log_expiry(actor: Actor, settings: Settings) -> int | None:
    """Abaco's log_ex with tenant and global defaults and ceilings (``chalicelib.domain.expiry``)."""
    return log_expires_at(settings, actor.tenant, actor.log_ex)


def observe_phases(metrics: Registry, phases: dict[str, float]) -> None:
    """Seconds from each phase to the next one recorded, as ``abaco_phase_seconds{phase="a_to_b"}``."""
    present = [p for p in PHASES if p in phases]
    for first, second in itertools.pairwise(present):
        metrics.observe("abaco_phase_seconds", max(phases[second] - phases[first], 0.0),
                        phase=f"{first}_to_{second}")
