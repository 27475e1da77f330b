"""Utilization and the admin overviews (reference §1.13)."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import context
from chalicelib.domain.access import Level, Scope, needs
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
    return Ok(admin.actors(backend, caller), "Actors retrieved successfully.", keys=nested("workers"))


@needs(Level.READ, Scope.ADMIN)
def admin_workers(request: Any) -> Ok:
    backend, caller = context(request)
    return Ok(admin.workers(backend, caller), "Workers retrieved successfully.",
              keys=nested("summary", "workers"))


@needs(Level.READ, Scope.ADMIN)
def admin_executions(request: Any) -> Ok:
    backend, caller = context(request)
    return Ok(admin.executions(backend, caller), "Executions retrieved successfully.",
              keys=nested("summary", "actors"))


route(bp, "/actors/utilization", GET=utilization)
route(bp, "/actors/admin", GET=admin_actors)
route(bp, "/actors/admin/workers", GET=admin_workers)
route(bp, "/actors/admin/executions", GET=admin_executions)
