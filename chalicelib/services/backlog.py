"""The backlog of each runner pool: what the runner Auto Scaling groups scale on (backlog per host).

Backlog of a pool = its open executions (SUBMITTED or RUNNING: one Scan of the sparse ``open`` index reads
every pool's, whatever the number of idle actors), the start-worker commands waiting in its command queue,
and the slots that ``sync`` warm workers pin on its live hosts (one scan of the hosts table: a pinned slot
runs nothing else, so it is demand like a running execution). The stack's scaling policy divides it by the
group's in-service hosts and tracks a target of about one host's worker slots. Idle and parked workers hold
no slot and count for nothing.
"""
from __future__ import annotations

import logging
import time

from chalicelib.adapters.cloudwatch import Metrics
from chalicelib.domain.models import HostStatus
from chalicelib.services import health
from chalicelib.wiring.backend import Backend

LOG = logging.getLogger("abaco.backlog")


HOST_SILENT_HEARTBEATS = 3  # a host whose record is older than this many heartbeats pins nothing


def measure(backend: Backend, now: float | None = None, work: health.OpenWork | None = None) -> dict[str, int]:
    """Backlog per pool; every pool appears (0 when idle) so its scaling metric never goes missing. ``work``
    is the open executions already read at ``now`` (``publish`` reads them once for the gauges as well)."""
    now = time.time() if now is None else now
    pinned = pinned_slots(backend, now)
    open_now = (work or health.open_work(backend, now)).count
    return {pool: open_now.get(pool, 0) + backend.queues.command_depth(pool) + pinned.get(pool, 0)
            for pool in backend.settings.all_pools}


def pinned_slots(backend: Backend, now: float) -> dict[str, int]:
    """Slots pinned by ``sync`` warm workers per pool, on hosts with a recent heartbeat (a host serving
    several pools counts for each: its slots serve each of them)."""
    recent = backend.settings.host_heartbeat_seconds * HOST_SILENT_HEARTBEATS
    pinned: dict[str, int] = {}
    for host in backend.hosts.all():
        if host.pinned_slots and now - host.heartbeat_at < recent and host.status == HostStatus.RUNNING:
            for pool in host.pools:
                pinned[pool] = pinned.get(pool, 0) + host.pinned_slots
    return pinned


def publish(backend: Backend, metrics: Metrics | None = None) -> dict[str, int]:
    """The backlog, then the health gauges the alarms watch (stale hosts, the oldest open execution), from
    one read of the open executions."""
    now = time.time()
    work = health.open_work(backend, now)
    backlog = measure(backend, now, work)
    metrics = metrics or Metrics(backend.settings)
    metrics.put_backlog(backlog)
    found = health.measure(backend, now, work)
    metrics.put_health(found.stale_hosts, found.oldest_open_seconds)
    LOG.info("backlog published: %s; stale hosts %d, oldest open execution %s", backlog, found.stale_hosts,
             found.oldest_open_seconds)
    return backlog
