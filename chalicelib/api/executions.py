"""Executions, their logs and results (reference §1.5); with query parameters the collections are searches."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import actor_in_path, fields
from chalicelib.domain import query
from chalicelib.domain.access import Level, needs
from chalicelib.edge import http
from chalicelib.edge.envelope import SEARCH, nested
from chalicelib.edge.http import Ok, Raw, route
from chalicelib.services import actors, executions
from chalicelib.services import search as search_service

bp = Blueprint(__name__)


@needs(Level.READ)
def list_executions(request: Any, actor_id: str) -> Ok:
    backend, caller, actor = actor_in_path(request, actor_id)
    params = http.query_lists(request)
    if query.is_search(params):
        return Ok(search_service.run(backend, caller, "executions", params, actor=actor,
                                     link=f"/actors/{actor.id}/executions"),
                  "Executions search completed successfully.", keys=SEARCH)
    return Ok(executions.summary(backend, actor), "Actor executions retrieved successfully.",
              keys=nested("executions"))


@needs(Level.UPDATE)
def add_execution(request: Any, actor_id: str) -> Ok:
    backend, caller, actor = actor_in_path(request, actor_id)
    executions.record_legacy(backend, caller, actor, fields(request))
    return Ok(actors.display(actor), "Actor execution added successfully.")


@needs(Level.READ)
def get_execution(request: Any, actor_id: str, execution_id: str) -> Ok:
    backend, _, actor = actor_in_path(request, actor_id)
    wait = executions.wait_parameter(http.query(request).get("wait"), backend.settings.sync_timeout)
    if wait:  # a blocking wait: answered when the execution ends (or the wait does); 404 at once
        found = executions.wait_terminal(backend, actor, execution_id, wait)
    else:
        found = executions.get(backend, actor, execution_id)
    return Ok(executions.display(found), "Actor execution retrieved successfully.")


@needs(Level.UPDATE)
def force_quit(request: Any, actor_id: str, execution_id: str) -> Ok:
    backend, _, actor = actor_in_path(request, actor_id)
    return Ok(None, executions.force_quit(backend, actor, execution_id))


@needs(Level.READ)
def get_logs(request: Any, actor_id: str, execution_id: str) -> Ok:
    backend, caller, actor = actor_in_path(request, actor_id)
    params = http.query_lists(request)
    if query.is_search(params):
        execution = executions.get(backend, actor, execution_id)
        return Ok(search_service.run(backend, caller, "logs", params, actor=actor, execution=execution),
                  "Logs search completed successfully.", keys=SEARCH)
    return Ok(executions.logs(backend, actor, execution_id), "Logs retrieved successfully.")


@needs(Level.EXECUTE)  # a GET that removes the result: reading one is consuming it, as a message is sending
def get_result(request: Any, actor_id: str, execution_id: str) -> Raw:
    backend, _, actor = actor_in_path(request, actor_id)
    return Raw(executions.pop_result(backend, actor, execution_id), "application/octet-stream")


route(bp, "/actors/{actor_id}/executions", GET=list_executions, POST=add_execution)
route(bp, "/actors/{actor_id}/executions/{execution_id}", GET=get_execution, DELETE=force_quit)
route(bp, "/actors/{actor_id}/executions/{execution_id}/logs", GET=get_logs)
route(bp, "/actors/{actor_id}/executions/{execution_id}/results", GET=get_result)
