"""The backlog of each runner pool: what the runner Auto Scaling groups scale on (backlog per host).

Backlog of a pool = its open executions (SUBMITTED or RUNNING: one query of the sparse ``open`` index,
whatever the number of idle actors) plus the start-worker commands waiting in its command queue. The
stack's scaling policy divides it by the group's in-service hosts and tracks a target of about one host's
worker slots.
"""
from __future__ import annotations

import logging

from chalicelib.adapters.cloudwatch import Metrics
from chalicelib.services import health
from chalicelib.wiring.backend import Backend

LOG = logging.getLogger("abaco.backlog")


def measure(backend: Backend) -> dict[str, int]:
    """Backlog per pool; every pool appears (0 when idle) so its scaling metric never goes missing."""
    return {pool: sum(1 for _ in backend.executions.open_in_pool(pool)) + backend.queues.command_depth(pool)
            for pool in backend.settings.all_pools}


def publish(backend: Backend, metrics: Metrics | None = None) -> dict[str, int]:
    """The backlog, then the health gauges the alarms watch (stale hosts, the oldest open execution)."""
    backlog = measure(backend)
    metrics = metrics or Metrics(backend.settings)
    metrics.put_backlog(backlog)
    found = health.measure(backend)
    metrics.put_health(found.stale_hosts, found.oldest_open_seconds)
    LOG.info("backlog published: %s; stale hosts %d, oldest open execution %s", backlog, found.stale_hosts,
             found.oldest_open_seconds)
    return backlog
