"""Utilization and the admin overviews (reference §1.13)."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import context
from chalicelib.domain.access import Level, Scope, needs
from chalicelib.edge import http
from chalicelib.edge.envelope import DATA, nested
from chalicelib.edge.http import Ok, route
from chalicelib.services import admin

bp = Blueprint(__name__)


@needs(Level.NONE, Scope.AUTHENTICATED)
def utilization(request: Any) -> Ok:
    backend, caller = context(request)
    return Ok(admin.utilization(backend, caller), "Abaco utilization returned successfully.", keys=DATA)


@needs(Level.READ, Scope.ADMIN)
def admin_actors(request: Any) -> Ok:
    backend, caller = context(request)
    found = admin.actors(backend, caller, _paging(request))
    return Ok(found, "Actors retrieved successfully.",
              keys=nested("workers") if isinstance(found, list) else nested("_metadata", "actors", "workers"))


@needs(Level.READ, Scope.ADMIN)
def admin_workers(request: Any) -> Ok:
    backend, caller = context(request)
    return Ok(admin.workers(backend, caller, _paging(request)), "Workers retrieved successfully.",
              keys=nested("summary", "workers", "_metadata"))


@needs(Level.READ, Scope.ADMIN)
def admin_executions(request: Any) -> Ok:
    backend, caller = context(request)
    return Ok(admin.executions(backend, caller, _paging(request)), "Executions retrieved successfully.",
              keys=nested("summary", "actors", "_metadata"))


def _paging(request: Any) -> dict[str, Any]:
    """``limit`` and ``cursor``: one page of the tenant's actors (none given: the first ``LIST_LIMIT``)."""
    return {k: v for k, v in http.query_lists(request).items() if k in ("limit", "cursor")}


route(bp, "/actors/utilization", GET=utilization)
route(bp, "/actors/admin", GET=admin_actors)
route(bp, "/actors/admin/workers", GET=admin_workers)
route(bp, "/actors/admin/executions", GET=admin_executions)
