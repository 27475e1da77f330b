"""Utilization and the admin overviews (reference §1.13), scoped to the caller's tenant.

Abaco's admin views span every tenant; here an administrator sees their own tenant (tenant isolation).
"""
from __future__ import annotations

from typing import Any

from chalicelib.adapters.storage.metrics import ACTOR_TOTAL
from chalicelib.domain.errors import NotFound
from chalicelib.domain.models import Actor, WorkerStatus
from chalicelib.identity.auth import Caller
from chalicelib.services import actors as actor_service
from chalicelib.services import executions as execution_service
from chalicelib.services import fanout
from chalicelib.services import workers as worker_service
from chalicelib.wiring.backend import Backend

_WORKER_COUNTS = {WorkerStatus.READY: "ready_workers", WorkerStatus.REQUESTED: "requested_workers",
                  WorkerStatus.ERROR: "error_workers", WorkerStatus.BUSY: "busy_workers"}


def utilization(backend: Backend, caller: Caller) -> dict[str, Any]:
    """Always camelCase, as in Abaco."""
    actors = backend.actors.list(caller.tenant)
    return {"currentActors": len(actors),
            "totalActors": backend.metrics.total(caller.tenant, ACTOR_TOTAL),
            "workers": sum(fanout.each(lambda a: len(backend.workers.list(a.dbid)), actors)),
            "commandQueue": backend.queues.command_depth("default")}


def _inbox_depth(backend: Backend, actor: Actor) -> int:
    try:
        return backend.queues.inbox_depth(actor.tenant, actor.id)
    except NotFound:  # deleted meanwhile
        return 0


def actors(backend: Backend, caller: Caller) -> list[dict[str, Any]]:
    """Every actor with its workers, pending messages, executions count and total runtime."""

    def overview(actor: Actor) -> dict[str, Any]:
        totals = execution_service.totals(backend, actor)
        data = actor_service.display(actor)
        data.update(workers=[worker_service.display(w, api_server=actor.api_server)
                             for w in backend.workers.list(actor.dbid)],
                    messages=_inbox_depth(backend, actor), executions=totals["total_executions"],
                    runtime=totals["total_runtime"])
        return data

    return fanout.each(overview, backend.actors.list(caller.tenant))


def workers(backend: Backend, caller: Caller) -> dict[str, Any]:
    summary = {"total_workers": 0, "ready_workers": 0, "requested_workers": 0, "error_workers": 0,
               "busy_workers": 0, "actors_no_workers": 0}
    listed = []
    tenant_actors = backend.actors.list(caller.tenant)
    hosts = {h.id: h for h in backend.hosts.all()} if tenant_actors else {}
    for actor, found in zip(tenant_actors, fanout.each(lambda a: backend.workers.list(a.dbid), tenant_actors),
                            strict=True):
        summary["actors_no_workers"] += not found
        for worker in found:
            summary["total_workers"] += 1
            shown = worker_service.display(worker, hosts, api_server=actor.api_server)  # BUSY: the host's word
            if WorkerStatus(shown["status"]) in _WORKER_COUNTS:
                summary[_WORKER_COUNTS[WorkerStatus(shown["status"])]] += 1
            listed.append({**shown, "actor_dbid": actor.dbid})
    return {"summary": summary, "workers": listed}


def executions(backend: Backend, caller: Caller) -> dict[str, Any]:
    """Totals per existing actor, and tenant totals over all executions (``_all``: including those of
    actors being deleted, until the cleanup duty removes them) and over existing actors (``_existing``).
    One page of executions (or the counters) per actor: never a scan of the tenant's history."""
    listed = backend.actors.list_with_deleting(caller.tenant)
    counted = fanout.each(lambda pair: execution_service.totals(backend, pair[0]), listed)
    stats = [{"actor_id": actor.id, "owner": actor.owner, "image": actor.image,
              "total_executions": t["total_executions"], "total_execution_cpu": t["total_cpu"],
              "total_execution_io": t["total_io"], "total_execution_runtime": t["total_runtime"]}
             for (actor, deleting), t in zip(listed, counted, strict=True) if not deleting]
    every = [t for t in counted if t["total_executions"]]
    kept = [t for (_, deleting), t in zip(listed, counted, strict=True) if not deleting and t["total_executions"]]
    summary = {**_totals("all", every), **_totals("existing", kept),
               "total_actors_all": backend.metrics.total(caller.tenant, ACTOR_TOTAL),
               "total_actors_existing": len(stats)}
    return {"summary": summary, "actors": stats}


def _totals(scope: str, found: list[dict[str, int]]) -> dict[str, int]:
    return {f"total_actors_{scope}_with_executions": len(found),
            f"total_executions_{scope}": sum(t["total_executions"] for t in found),
            f"total_execution_runtime_{scope}": sum(t["total_runtime"] for t in found),
            f"total_execution_cpu_{scope}": sum(t["total_cpu"] for t in found),
            f"total_execution_io_{scope}": sum(t["total_io"] for t in found)}
