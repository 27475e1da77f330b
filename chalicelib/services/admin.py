"""Utilization and the admin overviews (reference §1.13), scoped to the caller's tenant.

Abaco's admin views span every tenant; here an administrator sees their own tenant (tenant isolation).
Each view reads one page of the tenant's actors (issue 16: no request reads a whole collection): without
paging parameters the first ``LIST_LIMIT`` (Abaco's shapes), with ``limit`` and ``cursor`` that page, its
``_metadata`` naming the next; the summaries count the actors of the page read.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chalicelib.adapters.storage.metrics import ACTOR_TOTAL
from chalicelib.domain.errors import NotFound
from chalicelib.domain.models import Actor, WorkerStatus
from chalicelib.domain.paging import clamp_limit, next_link
from chalicelib.domain.responses import made
from chalicelib.domain.stats import ActorExecutionTotals, ExecutionsTotals, UtilizationResponse, WorkersSummary
from chalicelib.identity.auth import Caller
from chalicelib.services import actors as actor_service
from chalicelib.services import executions as execution_service
from chalicelib.services import fanout, paged
from chalicelib.services import workers as worker_service
from chalicelib.wiring.backend import Backend

_WORKER_COUNTS = {WorkerStatus.READY: "ready_workers", WorkerStatus.REQUESTED: "requested_workers",
                  WorkerStatus.ERROR: "error_workers", WorkerStatus.BUSY: "busy_workers"}


def utilization(backend: Backend, caller: Caller) -> dict[str, Any]:
    """Always camelCase, as in Abaco. Counted by DynamoDB (the actors, and the workers' keys-only tenant
    index), never read actor by actor."""
    return made(UtilizationResponse, currentActors=backend.actors.count(caller.tenant),
                totalActors=backend.metrics.total(caller.tenant, ACTOR_TOTAL),
                workers=backend.workers.count(caller.tenant), commandQueue=backend.queues.command_depth("default"))


def _inbox_depth(backend: Backend, actor: Actor) -> int:
    try:
        return backend.queues.inbox_depth(actor.tenant, actor.id)
    except NotFound:  # deleted meanwhile
        return 0


def _page(backend: Backend, caller: Caller, params: paged.Params, path: str
          ) -> tuple[list[tuple[Actor, bool]], dict[str, Any] | None]:
    """One page of the tenant's actor items (each with whether it is being deleted) and, when paging
    parameters were given, the ``_metadata`` of that page (as the executions summary's)."""
    if not params:
        return backend.actors.page_with_deleting(caller.tenant, paged.LIST_LIMIT)[0], None
    limit = clamp_limit(_last(params.get("limit")))
    found, cursor = backend.actors.page_with_deleting(caller.tenant, limit, _last(params.get("cursor")) or None)
    link = next_link(f"{backend.settings.api_server.rstrip('/')}{path}", limit, cursor)
    return found, {"record_limit": limit, "count_returned": len(found), "next_cursor": cursor, "next": link}


def _last(value: str | Sequence[str] | None) -> str | None:
    return value if value is None or isinstance(value, str) else (list(value) or [None])[-1]


def actors(backend: Backend, caller: Caller, params: paged.Params) -> Any:
    """Actors with their workers, pending messages, executions count and total runtime: a list, or with
    paging parameters ``{_metadata, actors}``."""

    def overview(actor: Actor) -> dict[str, Any]:
        totals = execution_service.totals(backend, actor)
        data = actor_service.display(actor)
        data.update(workers=[worker_service.display(w, api_server=actor.api_server)
                             for w in backend.workers.list(actor.dbid)],
                    messages=_inbox_depth(backend, actor), executions=totals["total_executions"],
                    runtime=totals["total_runtime"])
        return data

    found, metadata = _page(backend, caller, params, "/actors/admin")
    listed = fanout.each(overview, [actor for actor, deleting in found if not deleting])
    return listed if metadata is None else {"_metadata": metadata, "actors": listed}


def workers(backend: Backend, caller: Caller, params: paged.Params) -> dict[str, Any]:
    summary = {"total_workers": 0, "ready_workers": 0, "requested_workers": 0, "error_workers": 0,
               "busy_workers": 0, "actors_no_workers": 0}
    listed = []
    page, metadata = _page(backend, caller, params, "/actors/admin/workers")
    tenant_actors = [actor for actor, deleting in page if not deleting]
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
    return {"summary": made(WorkersSummary, **summary), "workers": listed,
            **({"_metadata": metadata} if metadata else {})}


def executions(backend: Backend, caller: Caller, params: paged.Params) -> dict[str, Any]:
    """Totals per existing actor, and tenant totals over all executions (``_all``: including those of
    actors being deleted, until the cleanup duty removes them) and over existing actors (``_existing``).
    One page of executions (or the counters) per actor: never a scan of the tenant's history."""
    listed, metadata = _page(backend, caller, params, "/actors/admin/executions")
    counted = fanout.each(lambda pair: execution_service.totals(backend, pair[0]), listed)
    stats = [made(ActorExecutionTotals, actor_id=actor.id, owner=actor.owner, image=actor.image,
                  total_executions=t["total_executions"], total_execution_cpu=t["total_cpu"],
                  total_execution_io=t["total_io"], total_execution_runtime=t["total_runtime"])
             for (actor, deleting), t in zip(listed, counted, strict=True) if not deleting]
    every = [t for t in counted if t["total_executions"]]
    kept = [t for (_, deleting), t in zip(listed, counted, strict=True) if not deleting and t["total_executions"]]
    summary = {**_totals("all", every), **_totals("existing", kept),
               "total_actors_all": backend.metrics.total(caller.tenant, ACTOR_TOTAL),
               "total_actors_existing": len(stats)}
    return {"summary": made(ExecutionsTotals, **summary), "actors": stats,
            **({"_metadata": metadata} if metadata else {})}


def _totals(scope: str, found: list[dict[str, int]]) -> dict[str, int]:
    return {f"total_actors_{scope}_with_executions": len(found),
            f"total_executions_{scope}": sum(t["total_executions"] for t in found),
            f"total_execution_runtime_{scope}": sum(t["total_runtime"] for t in found),
            f"total_execution_cpu_{scope}": sum(t["total_cpu"] for t in found),
            f"total_execution_io_{scope}": sum(t["total_io"] for t in found)}
