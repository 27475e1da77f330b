"""The autoscaler: workers follow the backlog (reference §4.4).

One pass costs one Scan of the sparse ``open`` index (the executions in flight of every pool, a request per
megabyte of them); only when a pool has a backlog, one scan of the workers table (live workers only:
records are deleted when workers exit) and one of the hosts table, and two reads per actor with a backlog.
Idle actors cost nothing, however many there are. Workers park by themselves when idle and leave after
their time to live (``runners/host/parking.py``); the autoscaler only adds, and wakes a backlogged actor's
parked worker (the backstop of the wake on the API's path). Capacity is execution slots: a host's slots
less those running an execution or pinned by a ``sync`` warm worker; idle and parked workers hold none.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from chalicelib.domain.models import (
    LIVE_WORKER_STATUSES,
    ActorStatus,
    Execution,
    ExecutionStatus,
    Host,
    HostStatus,
    Worker,
    WorkerStatus,
)
from chalicelib.services import quotas
from chalicelib.services import workers as worker_service
from chalicelib.wiring.backend import Backend

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
    """One pass. The open executions are read first and each backlogged actor's workers after them: the API
    records an execution before it starts a worker for it, so a worker started for a message this pass
    sees is seen too (the other order took a message arriving between the two reads for backlog without a
    worker, and started a second one next to the API's). The hosts and workers scans that size the free
    capacity run only when some pool has a backlog, so an idle system costs one request: the index's Scan,
    every pool's open executions at once."""
    report = Report()
    view: _View | None = None
    pools = backend.settings.all_pools
    by_pool = _loads(backend.executions.open_executions(pools), now)
    for pool in pools:
        loads = by_pool.get(pool, {})
        if not any(load.backlog for load in loads.values()):
            continue
        view = view or _View.read(backend, now)
        capacity = view.capacity(pool)
        for _dbid, load in sorted(loads.items(), key=lambda kv: -kv[1].backlog):
            added = _scale(backend, load, view, capacity)
            if added:
                report.requested[_dbid] = added
                capacity -= added
    if report.requested:
        LOG.info("autoscaler: requested %s", report.requested)
    return report


@dataclass
class _View:
    """The runner hosts with a recent heartbeat, and the start requests no host has taken yet."""

    hosts: list[Host]
    alive: set[str]
    pending: int
    workers: list[Worker]  # every live worker record (and those this pass requested): the caps count them

    @classmethod
    def read(cls, backend: Backend, now: float) -> _View:
        recent = backend.settings.host_heartbeat_seconds * 3
        hosts = [h for h in backend.hosts.all() if now - h.heartbeat_at < recent]
        workers = backend.workers.all()
        pending = sum(1 for w in workers if w.status in PENDING and w.woken)  # a message waits
        return cls(hosts, {h.id for h in hosts if h.status == HostStatus.RUNNING}, pending, workers)

    def capacity(self, pool: str) -> int:
        """Free slots of the pool's hosts (not running an execution, not pinned by a ``sync`` warm worker),
        less the woken requests waiting for a host (each will take a slot for its message)."""
        return sum(max(h.slots - h.used_slots - h.pinned_slots, 0) for h in self.hosts if pool in h.pools) \
            - self.pending


def _loads(executions: Iterable[tuple[str, Execution]], now: float) -> dict[str, dict[str, Load]]:
    """Per pool, per actor: waiting executions (SUBMITTED, or RUNNING with an expired lease: they need a
    worker to take them over) and running ones."""
    loads: dict[str, dict[str, Load]] = {}
    for pool, execution in executions:
        pool_loads = loads.setdefault(pool, {})
        load = pool_loads.setdefault(execution.actor_dbid, Load(execution.tenant, execution.actor_id))
        if execution.status == ExecutionStatus.SUBMITTED or (execution.lease_expires_at or 0) < now:
            load.backlog += 1
        elif execution.status == ExecutionStatus.RUNNING:
            load.running += 1
    return loads


def _scale(backend: Backend, load: Load, view: _View, capacity: int) -> int:
    """Workers for one backlogged actor; beyond its first, within its tenant's and owner's worker caps."""
    if load.backlog <= 0:
        return 0
    actor = backend.actors.find(load.tenant, load.actor_id)
    if actor is None or actor.status in (ActorStatus.ERROR, ActorStatus.SHUTTING_DOWN):
        return 0
    records = backend.workers.list(actor.dbid)  # read after the executions (see run_once)
    current = [w for w in records if w.status in LIVE_WORKER_STATUSES and w.revision >= actor.revision
               and (not w.host_id or w.host_id in view.alive)]  # a worker on a silent host counts for nothing
    if current:  # an untaken request (a registration's, an update's) is served ahead of the others from now on
        worker_service.wake_requested(backend, actor, current)
    count = wanted(load.backlog, load.running, len(current), worker_service.max_slots(actor, backend.settings),
                   capacity)
    if current:  # the first worker is never refused (services/quotas.py); the others count against the caps
        count = min(count, quotas.workers_left(backend, actor, view.workers))
    taken = {w.slot for w in records if w.revision == actor.revision}
    added = 0
    for _ in range(count):
        worker = worker_service.request_worker(backend, actor, taken=taken, yield_to_live=True, wake=True)
        if worker is None:
            break
        taken.add(worker.slot)
        view.workers.append(worker)
        added += 1
    return added
