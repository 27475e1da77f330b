"""The Abaco REST API (Abaco v2 paths and envelope). Views only route: parse, call one service, wrap."""
from __future__ import annotations

from typing import Any

from chalice import Chalice

from chalicelib import http
from chalicelib.auth import identify
from chalicelib.backend import get_backend
from chalicelib.envelope import to_snake
from chalicelib.http import Ok, route
from chalicelib.services import actors, executions, messages, workers

app = Chalice(app_name="abaco")
app.api.binary_types.append("application/octet-stream")


def _ctx(request: Any) -> tuple[Any, Any]:
    backend = get_backend()
    return backend, identify(request.headers, backend.settings)


def _fields(request: Any) -> dict[str, Any]:
    """Body fields with camelCase names accepted as their snake_case twins."""
    return {to_snake(k): v for k, v in http.body_fields(request).items()}


def _actor(request: Any, actor_id: str) -> tuple[Any, Any, Any]:
    backend, caller = _ctx(request)
    return backend, caller, actors.get(backend, caller, actor_id)


# --- actors --------------------------------------------------------------------------------------

def list_actors(request: Any) -> Ok:
    backend, caller = _ctx(request)
    return Ok([actors.display(a) for a in actors.list_actors(backend, caller)], "Actors retrieved successfully.")


def create_actor(request: Any) -> Ok:
    backend, caller = _ctx(request)
    return Ok(actors.display(actors.register(backend, caller, _fields(request))), "Actor created successfully.")


def get_actor(request: Any, actor_id: str) -> Ok:
    _, _, actor = _actor(request, actor_id)
    return Ok(actors.display(actor), "Actor retrieved successfully.")


def update_actor(request: Any, actor_id: str) -> Ok:
    backend, caller = _ctx(request)
    return Ok(actors.display(actors.update(backend, caller, actor_id, _fields(request))),
              "Actor updated successfully.")


def delete_actor(request: Any, actor_id: str) -> Ok:
    backend, caller = _ctx(request)
    actors.delete(backend, caller, actor_id)
    return Ok(None, "Actor deleted successfully.")


route(app, "/actors", GET=list_actors, POST=create_actor)
route(app, "/actors/{actor_id}", GET=get_actor, PUT=update_actor, DELETE=delete_actor)


# --- messages ------------------------------------------------------------------------------------

def send_message(request: Any, actor_id: str) -> Ok:
    backend, caller, actor = _actor(request, actor_id)
    parsed = messages.parse_message(http.content_type(request), request.raw_body, http.form(request),
                                    http.json_body(request))
    execution = messages.send(backend, caller, actor, parsed, http.query(request))
    return Ok(messages.display_sent(execution, parsed), "The request was successful")


def get_messages(request: Any, actor_id: str) -> Ok:
    backend, _, actor = _actor(request, actor_id)
    return Ok(messages.inbox_summary(backend, actor), "Actor messages retrieved successfully.")


route(app, "/actors/{actor_id}/messages", GET=get_messages, POST=send_message)


# --- executions ----------------------------------------------------------------------------------

def list_executions(request: Any, actor_id: str) -> Ok:
    backend, _, actor = _actor(request, actor_id)
    return Ok(executions.summary(backend, actor), "Actor executions retrieved successfully.")


def get_execution(request: Any, actor_id: str, execution_id: str) -> Ok:
    backend, _, actor = _actor(request, actor_id)
    return Ok(executions.display(executions.get(backend, actor, execution_id)),
              "Actor execution retrieved successfully.")


def get_logs(request: Any, actor_id: str, execution_id: str) -> Ok:
    backend, _, actor = _actor(request, actor_id)
    return Ok(executions.logs(backend, actor, execution_id), "Logs retrieved successfully.")


route(app, "/actors/{actor_id}/executions", GET=list_executions)
route(app, "/actors/{actor_id}/executions/{execution_id}", GET=get_execution)
route(app, "/actors/{actor_id}/executions/{execution_id}/logs", GET=get_logs)


# --- state ---------------------------------------------------------------------------------------

def get_state(request: Any, actor_id: str) -> Ok:
    backend, caller = _ctx(request)
    return Ok({"state": actors.get_state(backend, caller, actor_id)}, "Actor state retrieved successfully.")


def set_state(request: Any, actor_id: str) -> Ok:
    backend, caller = _ctx(request)
    state = http.json_body(request)
    if state is None:
        state = http.form(request) or None
    return Ok(actors.display(actors.set_state(backend, caller, actor_id, state)), "State updated.")


route(app, "/actors/{actor_id}/state", GET=get_state, POST=set_state)


# --- workers -------------------------------------------------------------------------------------

def list_workers(request: Any, actor_id: str) -> Ok:
    backend, _, actor = _actor(request, actor_id)
    return Ok([workers.display(w) for w in backend.workers.list(actor.dbid)], "Workers retrieved successfully.")


def add_workers(request: Any, actor_id: str) -> Ok:
    backend, _, actor = _actor(request, actor_id)
    return Ok(None, workers.add_workers(backend, actor, _fields(request).get("num")))


def get_worker(request: Any, actor_id: str, worker_id: str) -> Ok:
    backend, _, actor = _actor(request, actor_id)
    return Ok(workers.display(backend.workers.get(actor.dbid, worker_id)), "Worker retrieved successfully.")


def delete_worker(request: Any, actor_id: str, worker_id: str) -> Ok:
    backend, _, actor = _actor(request, actor_id)
    workers.stop_worker(backend, actor, worker_id)
    return Ok(None, "Worker scheduled to be stopped.")


route(app, "/actors/{actor_id}/workers", GET=list_workers, POST=add_workers)
route(app, "/actors/{actor_id}/workers/{worker_id}", GET=get_worker, DELETE=delete_worker)
