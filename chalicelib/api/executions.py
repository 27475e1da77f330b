"""Executions and their logs (reference §1.5); with query parameters the collections are searches."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib import http, search
from chalicelib.api.common import actor_in_path
from chalicelib.http import Ok, route
from chalicelib.permissions import Level, needs
from chalicelib.services import executions
from chalicelib.services import search as search_service

bp = Blueprint(__name__)


@needs(Level.READ)
def list_executions(request: Any, actor_id: str) -> Ok:
    backend, caller, actor = actor_in_path(request, actor_id)
    params = http.query_lists(request)
    if search.is_search(params):
        return Ok(search_service.run(backend, caller, "executions", params, actor=actor),
                  "Executions search completed successfully.", convert=False)
    return Ok(executions.summary(backend, actor), "Actor executions retrieved successfully.")


@needs(Level.READ)
def get_execution(request: Any, actor_id: str, execution_id: str) -> Ok:
    backend, _, actor = actor_in_path(request, actor_id)
    return Ok(executions.display(executions.get(backend, actor, execution_id)),
              "Actor execution retrieved successfully.")


@needs(Level.READ)
def get_logs(request: Any, actor_id: str, execution_id: str) -> Ok:
    backend, caller, actor = actor_in_path(request, actor_id)
    params = http.query_lists(request)
    if search.is_search(params):
        execution = executions.get(backend, actor, execution_id)
        return Ok(search_service.run(backend, caller, "logs", params, actor=actor, execution=execution),
                  "Logs search completed successfully.", convert=False)
    return Ok(executions.logs(backend, actor, execution_id), "Logs retrieved successfully.")


route(bp, "/actors/{actor_id}/executions", GET=list_executions)
route(bp, "/actors/{actor_id}/executions/{execution_id}", GET=get_execution)
route(bp, "/actors/{actor_id}/executions/{execution_id}/logs", GET=get_logs)
