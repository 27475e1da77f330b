"""Health gauges for the stage's alarms (``infrastructure/abaco_infra/alarms.py``), published with the backlog.

Two failures have no AWS metric of their own: a runner host that stopped heartbeating without saying so
(its record is still there, not STOPPED, but its heartbeat is old: the host hangs or lost the store), and an
execution that stays open far longer than any should (SUBMITTED or RUNNING: nobody runs it, or it hangs).
Both are read from the tables the API already has: the hosts table and the sparse ``open`` index.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from chalicelib.domain.models import HostStatus, parse_time
from chalicelib.wiring.backend import Backend

# A host heartbeats every ABACO_HOST_HEARTBEAT_SECONDS (5 s); a minute without one is not a slow store.
STALE_HOST_SECONDS = 60.0


@dataclass(frozen=True)
class OpenWork:
    """The open executions (SUBMITTED or RUNNING) of every pool, summed as the index is read: what the backlog
    and the gauges need of them, from one Scan (``ExecutionStore.open_executions``), nothing kept per item."""

    count: dict[str, int]  # per pool (0: none)
    oldest_seconds: dict[str, float]  # per pool: age of its oldest open execution (0: none)


def open_work(backend: Backend, now: float | None = None) -> OpenWork:
    """Every pool's open executions at ``now``: one Scan of the index, read page by page."""
    now = time.time() if now is None else now
    pools = backend.settings.all_pools
    count = dict.fromkeys(pools, 0)
    oldest = dict.fromkeys(pools, 0.0)
    for pool, execution in backend.executions.open_executions(pools):
        count[pool] += 1
        received = parse_time(execution.message_received_time)
        if received:
            oldest[pool] = max(oldest[pool], now - received.timestamp())
    return OpenWork(count, oldest)


@dataclass(frozen=True)
class Health:
    stale_hosts: int  # records not STOPPED whose heartbeat is older than STALE_HOST_SECONDS
    oldest_open_seconds: dict[str, float]  # per pool: age of its oldest SUBMITTED or RUNNING execution (0: none)


def measure(backend: Backend, now: float | None = None, work: OpenWork | None = None) -> Health:
    """The gauges; ``work`` is the open executions already read at ``now`` (the backlog's: one Scan for both)."""
    now = time.time() if now is None else now
    stale = sum(1 for host in backend.hosts.all()
                if host.status != HostStatus.STOPPED and now - host.heartbeat_at > STALE_HOST_SECONDS)
    work = work or open_work(backend, now)
    return Health(stale, work.oldest_seconds)
