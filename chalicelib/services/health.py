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
class Health:
    stale_hosts: int  # records not STOPPED whose heartbeat is older than STALE_HOST_SECONDS
    oldest_open_seconds: dict[str, float]  # per pool: age of its oldest SUBMITTED or RUNNING execution (0: none)


def measure(backend: Backend, now: float | None = None) -> Health:
    now = time.time() if now is None else now
    stale = sum(1 for host in backend.hosts.all()
                if host.status != HostStatus.STOPPED and now - host.heartbeat_at > STALE_HOST_SECONDS)
    oldest: dict[str, float] = {}
    for pool in backend.settings.all_pools:
        ages = [now - received.timestamp() for received in
                (parse_time(e.message_received_time) for e in backend.executions.open_in_pool(pool)) if received]
        oldest[pool] = max([0.0, *ages])
    return Health(stale, oldest)
