"""Executions and their logs (reference §1.5)."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import actor_in_path
from chalicelib.http import Ok, route
from chalicelib.services import executions

bp = Blueprint(__name__)

def list_executions(request: Any, actor_id: str) -> Ok:
    backend, _, actor = actor_in_path(request, actor_id)
    return Ok(executions.summary(backend, actor), "Actor executions retrieved successfully.")


def get_execution(request: Any, actor_id: str, execution_id: str) -> Ok:
    backend, _, actor = actor_in_path(request, actor_id)
    return Ok(executions.display(executions.get(backend, actor, execution_id)),
              "Actor execution retrieved successfully.")


def get_logs(request: Any, actor_id: str, execution_id: str) -> Ok:
    backend, _, actor = actor_in_path(request, actor_id)
    return Ok(executions.logs(backend, actor, execution_id), "Logs retrieved successfully.")


route(bp, "/actors/{actor_id}/executions", GET=list_executions)
route(bp, "/actors/{actor_id}/executions/{execution_id}", GET=get_execution)
route(bp, "/actors/{actor_id}/executions/{execution_id}/logs", GET=get_logs)
