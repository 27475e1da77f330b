"""Read endpoints behind the dashboard's charts: an actor's executions over time, and the operator's view.

Both are plain API calls (same envelope, same permissions as everything else): an actor's series need
READ on the actor; the operator's view is for administrators and covers their own tenant's executions.
"""
from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import actor_in_path, context
from chalicelib.domain.access import Level, Scope, needs
from chalicelib.edge import http
from chalicelib.edge.envelope import DATA
from chalicelib.edge.http import Ok, route
from chalicelib.services import insights

bp = Blueprint(__name__)


def _window(request: Any) -> str | None:
    values = http.query_lists(request).get("window") or [None]
    return values[0]


@needs(Level.READ)
def actor_stats(request: Any, actor_id: str) -> Ok:
    backend, _, actor = actor_in_path(request, actor_id)
    return Ok(insights.actor_stats(backend, actor, _window(request)), "Actor statistics retrieved successfully.",
              keys=DATA)


@needs(Level.READ, Scope.ADMIN)
def overview(request: Any) -> Ok:
    backend, caller = context(request)
    return Ok(insights.operations(backend, caller.tenant, _window(request)),
              "Platform overview retrieved successfully.", keys=DATA)


route(bp, "/actors/{actor_id}/stats", GET=actor_stats)
route(bp, "/actors/admin/overview", GET=overview)
