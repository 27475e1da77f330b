"""What the dashboard charts: an actor's executions over time, and the platform's state for operators.

Both answers are computed from the records the API already keeps (executions with their phase stamps,
runner host records, duty leases, queue depths), bounded so that no request reads without limit: an
actor's series look at most ``MAX_EXECUTIONS`` of its newest executions, the operator's view at most as
many of the tenant's. The series are evenly spaced buckets (a minute over the last hour, half an hour
over the last day), so a chart draws them without further arithmetic; an empty bucket is present with
zeros, never missing. Executions are found through the tenant's time index (``walk_tenant``), so a request
reads the window only, never an actor's or a tenant's whole history.
"""
from __future__ import annotations

import datetime as dt
import itertools
import math
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from chalicelib.domain.errors import BadRequest, NotFound
from chalicelib.domain.models import Actor, Execution, ExecutionStatus, Host, HostStatus
from chalicelib.domain.responses import made
from chalicelib.domain.stats import ActorStatsResponse, OverviewResponse
from chalicelib.wiring import resources
from chalicelib.wiring.backend import Backend

WINDOWS = {"hour": (3600, 60), "day": (86_400, 1800)}  # window name -> (seconds, bucket seconds)
MAX_EXECUTIONS = 5000  # newest executions one request reads at most
TOP_ACTORS = 10
RECENT = 100  # rows of the recent executions table
WAKE_WINDOW_SECONDS = 60.0  # the hosts report the wake waits of the last minute (runners/host/wake_waits.py)
STATUSES = tuple(s.value for s in ExecutionStatus)


def window_of(name: str | None) -> tuple[int, int]:
    if name is None:
        return WINDOWS["hour"]
    if name not in WINDOWS:
        raise BadRequest(f"window must be one of {', '.join(WINDOWS)}, not '{name}'.")
    return WINDOWS[name]


def received_at(execution: Execution) -> float:
    """When the message was accepted, in epoch seconds."""
    if "queued" in execution.phases:
        return execution.phases["queued"]
    stamp = execution.message_received_time.rstrip("Z")
    return dt.datetime.fromisoformat(stamp).replace(tzinfo=dt.UTC).timestamp()


def duration_ms(execution: Execution) -> float | None:
    """Container run time: started to exited, from the phase stamps (the runtime field is whole seconds)."""
    phases = execution.phases
    if "started" in phases and "exited" in phases:
        return max(0.0, (phases["exited"] - phases["started"]) * 1000)
    return None


def queue_wait_ms(execution: Execution) -> float | None:
    """Message accepted to claimed by a runner."""
    phases = execution.phases
    if "queued" in phases and "claimed" in phases:
        return max(0.0, (phases["claimed"] - phases["queued"]) * 1000)
    return None


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(fraction * len(ordered)) - 1)], 1)


def recent_row(execution: Execution) -> dict[str, Any]:
    return {"id": execution.id, "status": execution.status.value, "exit_code": execution.exit_code,
            "message_received_time": execution.message_received_time, "runtime": execution.runtime,
            "cpu": execution.cpu, "io": execution.io, "run_ms": duration_ms(execution),
            "queue_wait_ms": queue_wait_ms(execution)}


def _window_of(walked: Iterator[tuple[Execution, dict[str, Any]]]) -> list[Execution]:
    """At most ``MAX_EXECUTIONS`` of a time-ordered walk (the tenant's time index)."""
    return [execution for execution, _ in itertools.islice(walked, MAX_EXECUTIONS)]


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _newest(executions: Iterable[Execution], since: float) -> list[Execution]:
    recent = [e for e in executions if received_at(e) >= since]
    recent.sort(key=received_at, reverse=True)
    return recent[:MAX_EXECUTIONS]


def series(executions: list[Execution], start: float, span: int, step: int) -> list[dict[str, Any]]:
    """One row per bucket: counts by status, run time percentiles and queue wait percentiles."""
    count = span // step
    rows: list[dict[str, Any]] = [{"t": start + i * step, "counts": dict.fromkeys(STATUSES, 0),
                                   "_durations": [], "_waits": []} for i in range(count)]
    for execution in executions:
        index = int((received_at(execution) - start) // step)
        if not 0 <= index < count:
            continue
        row = rows[index]
        row["counts"][execution.status.value] += 1
        if (duration := duration_ms(execution)) is not None:
            row["_durations"].append(duration)
        if (wait := queue_wait_ms(execution)) is not None:
            row["_waits"].append(wait)
    for row in rows:
        durations, waits = row.pop("_durations"), row.pop("_waits")
        row.update(total=sum(row["counts"].values()), p50=percentile(durations, 0.5),
                   p95=percentile(durations, 0.95), p99=percentile(durations, 0.99),
                   wait_p50=percentile(waits, 0.5), wait_p95=percentile(waits, 0.95))
    return rows


def summary(executions: list[Execution]) -> dict[str, Any]:
    durations = [d for e in executions if (d := duration_ms(e)) is not None]
    waits = [w for e in executions if (w := queue_wait_ms(e)) is not None]
    counts = Counter(e.status.value for e in executions)
    return {"executions": len(executions), "counts": {s: counts.get(s, 0) for s in STATUSES},
            "p50": percentile(durations, 0.5), "p95": percentile(durations, 0.95), "p99": percentile(durations, 0.99),
            "wait_p50": percentile(waits, 0.5), "wait_p95": percentile(waits, 0.95),
            "cpu": sum(e.cpu for e in executions), "io": sum(e.io for e in executions),
            "runtime": sum(e.runtime for e in executions)}


def _bounds(window: str | None, now: float | None) -> tuple[float, int, int]:
    span, step = window_of(window)
    now = time.time() if now is None else now
    end = (math.floor(now / step) + 1) * step  # the current bucket is the last one
    return end - span, span, step


def actor_stats(backend: Backend, actor: Actor, window: str | None = None, now: float | None = None) -> dict[str, Any]:
    """An actor's executions over the window: per-bucket series and totals, its inbox depth and last error."""
    start, span, step = _bounds(window, now)
    walked = backend.executions.walk_tenant(actor.tenant, since=_iso(start), actor_dbid=actor.dbid)
    executions = _newest(_window_of(walked), start)
    latest = executions[:RECENT] or _newest(backend.executions.page(actor.dbid, RECENT).items, 0.0)
    try:
        inbox = backend.queues.inbox_depth(actor.tenant, actor.id)
    except NotFound:
        inbox = 0
    errors = [e for e in executions if e.status == ExecutionStatus.ERROR]
    last_error = None
    if errors:
        newest = errors[0]
        last_error = {"execution_id": newest.id, "message": newest.status_message, "exit_code": newest.exit_code}
    return made(ActorStatsResponse, window={"start": start, "seconds": span, "bucket_seconds": step},
                inbox_depth=inbox, last_error=last_error, status_message=actor.status_message,
                summary=summary(executions), series=series(executions, start, span, step),
                recent=[recent_row(e) for e in latest])  # an allow-list: chalicelib/domain/stats.py


def _queue(backend: Backend, url: str) -> dict[str, int]:
    try:
        visible, in_flight = backend.queues.depth(url)
    except NotFound:
        return {"visible": 0, "in_flight": 0}
    return {"visible": visible, "in_flight": in_flight}


def _hosts(records: list[Host], now: float) -> list[dict[str, Any]]:
    hosts = []
    for host in records:
        hosts.append({"id": host.id, "hostname": host.hostname, "pools": host.pools, "status": host.status.value,
                      "privileged": host.privileged, "slots": host.slots, "used_slots": host.used_slots,
                      "idle_slots": host.idle_slots, "workers": len(host.workers), "started_at": host.started_at,
                      "warm_waiting": host.warm_waiting, "parked_workers": host.parked_workers,
                      "heartbeat_age_s": round(max(0.0, now - host.heartbeat_at), 1) if host.heartbeat_at else None})
    return hosts


def _pools(backend: Backend, hosts: list[Host], now: float) -> list[dict[str, Any]]:
    """Each pool's queues. The wake queue's ``wait_s``: the longest a start request waited there before a
    host took it, among those taken in the last minute (``runners/host/wake_waits.py``) by hosts alive in
    that minute; None when none was taken."""
    prefix = backend.settings.resource_prefix
    live = [h for h in hosts if h.status != HostStatus.STOPPED and now - h.heartbeat_at <= WAKE_WINDOW_SECONDS]
    pools = []
    for pool in backend.settings.all_pools:
        command = _queue(backend, backend.queues.command_url(pool))
        waits = [h.wake_wait_s[pool] for h in live if pool in h.wake_wait_s]
        wake = {**_queue(backend, backend.queues.wake_url(pool)), "wait_s": max(waits) if waits else None}
        pools.append({"pool": pool, "commands": command, "wake": wake,
                      "backlog": command["visible"] + wake["visible"],
                      "queue": resources.command_queue(pool).physical(prefix)})
    return pools


def _top_actors(executions: list[Execution]) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for execution in executions:
        row = rows.setdefault(execution.actor_id, {"actor_id": execution.actor_id, "tenant": execution.tenant,
                                                   "executions": 0, "errors": 0, "cpu": 0, "runtime": 0})
        row["executions"] += 1
        row["errors"] += execution.status == ExecutionStatus.ERROR
        row["cpu"] += execution.cpu
        row["runtime"] += execution.runtime
    return sorted(rows.values(), key=lambda r: (-r["executions"], -r["cpu"]))[:TOP_ACTORS]


def operations(backend: Backend, tenant: str, window: str | None = None, now: float | None = None) -> dict[str, Any]:
    """The operator's view: hosts, pools and their queues, the dead-letter queue, duty holders, and the
    tenant's executions over the window with its top actors."""
    start, span, step = _bounds(window, now)
    wall = time.time() if now is None else now
    executions = _newest(_window_of(backend.executions.walk_tenant(tenant, since=_iso(start))), start)
    tenants = Counter(e.tenant for e in executions)
    hosts = backend.hosts.all()
    return made(OverviewResponse, window={"start": start, "seconds": span, "bucket_seconds": step},
                hosts=_hosts(hosts, wall), pools=_pools(backend, hosts, wall),
                dead_letter=_queue(backend, backend.queues.dead_letter_url()),
                duties=[{"name": d.get("name"), "holder": d.get("holder"), "expires_at": d.get("lease_expires_at"),
                         "runs": d.get("runs", 0), "last_run_at": d.get("last_run_at"),
                         "last_error": d.get("last_error") or None} for d in backend.duties.all()],
                summary=summary(executions), series=series(executions, start, span, step),
                tenants=[{"tenant": t, "executions": n} for t, n in tenants.most_common()],
                top_actors=_top_actors(executions))  # an allow-list: chalicelib/domain/stats.py
