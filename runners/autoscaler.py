"""The autoscaler: workers follow the backlog (reference §4.4, issue 5).

One pass costs one index query per runner pool (the executions in flight), one scan of the workers table
(live workers only: records are deleted when workers exit) and one scan of the hosts table; only actors
with a backlog are read. Idle actors cost nothing, however many there are. Workers leave by themselves
after their idle time to live; the autoscaler only adds.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from chalicelib.backend import Backend
from chalicelib.models import (
    LIVE_WORKER_STATUSES,
    ActorStatus,
    Execution,
    ExecutionStatus,
    HostStatus,
    Worker,
    WorkerStatus,
)
from chalicelib.services import workers as worker_service

LOG = logging.getLogger("abaco.autoscaler")
PENDING = {WorkerStatus.REQUESTED, WorkerStatus.SPAWNER_SETUP, WorkerStatus.PULLING_IMAGE}


@dataclass
class Load:
    tenant: str
    actor_id: str
    backlog: int = 0
    running: int = 0


@dataclass
class Report:
    requested: dict[str, int] = field(default_factory=dict)  # actor_dbid -> workers requested


def wanted(backlog: int, running: int, live: int, slots: int, capacity: int) -> int:
    """Workers to add: enough for every running and waiting message, within the actor's slots and the
    pool's free capacity; an actor with work and no worker always gets one (scale from zero)."""
    missing = min(slots, running + backlog) - live
    if missing <= 0 or backlog <= 0:
        return 0
    if live == 0:
        return max(1, min(missing, capacity))
    return max(0, min(missing, capacity))


def run_once(backend: Backend, now: float) -> Report:
    report = Report()
    hosts = [h for h in backend.hosts.all() if now - h.heartbeat_at < 3 * backend.settings.host_heartbeat_seconds]
    alive = {h.id for h in hosts if h.status == HostStatus.RUNNING}
    workers: dict[str, list[Worker]] = defaultdict(list)
    for worker in backend.workers.all():  # a worker on a silent host counts for nothing
        if worker.status in LIVE_WORKER_STATUSES and (not worker.host_id or worker.host_id in alive):
            workers[worker.actor_dbid].append(worker)
    for pool in backend.settings.all_pools:
        loads = _loads(backend.executions.open_in_pool(pool), now)
        if not loads:
            continue
        pending = sum(1 for ws in workers.values() for w in ws if w.status in PENDING)
        capacity = sum(max(h.slots - h.used_slots, 0) for h in hosts if pool in h.pools) - pending
        for dbid, load in sorted(loads.items(), key=lambda kv: -kv[1].backlog):
            added = _scale(backend, load, workers[dbid], capacity)
            if added:
                report.requested[dbid] = added
                capacity -= added
    if report.requested:
        LOG.info("autoscaler: requested %s", report.requested)
    return report


def _loads(executions: Iterable[Execution], now: float) -> dict[str, Load]:
    """Per actor: waiting executions (SUBMITTED, or RUNNING with an expired lease: they need a worker to
    take them over) and running ones."""
    loads: dict[str, Load] = {}
    for execution in executions:
        load = loads.setdefault(execution.actor_dbid, Load(execution.tenant, execution.actor_id))
        if execution.status == ExecutionStatus.SUBMITTED or (execution.lease_expires_at or 0) < now:
            load.backlog += 1
        elif execution.status == ExecutionStatus.RUNNING:
            load.running += 1
    return loads


def _scale(backend: Backend, load: Load, live_workers: list[Worker], capacity: int) -> int:
    if load.backlog <= 0:
        return 0
    actor = backend.actors.find(load.tenant, load.actor_id)
    if actor is None or actor.status in (ActorStatus.ERROR, ActorStatus.SHUTTING_DOWN):
        return 0
    current = [w for w in live_workers if w.revision >= actor.revision]
    count = wanted(load.backlog, load.running, len(current), worker_service.max_slots(actor, backend.settings),
                   capacity)
    taken = worker_service.current_slots(backend, actor)
    added = 0
    for _ in range(count):
        worker = worker_service.request_worker(backend, actor, taken=taken)
        if worker is None:
            break
        taken.add(worker.slot)
        added += 1
    return added
