"""Registering, reading, updating and deleting actors (reference §1.3)."""
from __future__ import annotations

from typing import Any

from chalicelib import ids, inputs
from chalicelib.auth import Caller
from chalicelib.backend import Backend
from chalicelib.errors import BadRequest, NotFound
from chalicelib.models import Actor, ActorStatus, WorkerStatus
from chalicelib.services import workers as worker_service

PREFIX = "Invalid actor description"
_HINT_FORBIDDEN = set("\"'{}[]")
_HIDDEN = {"tenant", "api_server", "version", "start_failures"}


def parse_fields(body: dict[str, Any], pools: list[str]) -> dict[str, Any]:
    """Validate every field of a POST/PUT body into Actor fields, with defaults (PUT is full replace)."""
    image = inputs.as_str(body.get("image"), "image", PREFIX).strip()
    if not image:
        raise BadRequest(f"{PREFIX}: image: Missing required parameter in the JSON body or the post body "
                         "or the query string")
    fields: dict[str, Any] = {
        "image": image,
        "description": inputs.as_str(body.get("description"), "description", PREFIX),
        "stateless": inputs.as_bool(body.get("stateless", True), "stateless", PREFIX),
        "privileged": inputs.as_bool(body.get("privileged", False), "privileged", PREFIX),
        "use_container_uid": inputs.as_bool(body.get("use_container_uid", False), "use_container_uid", PREFIX),
        "token": inputs.as_bool(body.get("token", False), "token", PREFIX),
        "default_environment": inputs.as_dict(body.get("default_environment", {}), "default_environment", PREFIX),
        "hints": inputs.as_str_list(body.get("hints", []), "hints", PREFIX),
        "link": inputs.as_str(body.get("link"), "link", PREFIX),
        "webhook": inputs.as_str(body.get("webhook"), "webhook", PREFIX),
        "max_workers": inputs.as_int(body.get("max_workers"), "max_workers", PREFIX, minimum=1),
        "mem_limit": inputs.as_str(body.get("mem_limit"), "mem_limit", PREFIX) or None,
        "max_cpus": inputs.as_int(body.get("max_cpus"), "max_cpus", PREFIX, minimum=1),
        "queue": inputs.as_str(body.get("queue"), "queue", PREFIX) or "default",
        "log_ex": inputs.as_int(body.get("log_ex"), "log_ex", PREFIX),
        "max_attempts": inputs.as_int(body.get("max_attempts"), "max_attempts", PREFIX, minimum=1),
        "max_run_time": inputs.as_int(body.get("max_run_time"), "max_run_time", PREFIX, minimum=1),
        "type": inputs.as_str(body.get("type"), "type", PREFIX) or "none",
    }
    _check(fields, pools)
    return fields


def _check(fields: dict[str, Any], pools: list[str]) -> None:
    if not fields["stateless"] and fields["max_workers"] is not None:
        raise BadRequest(f"{PREFIX}: stateful actors can only have 1 worker.")
    if fields["queue"] not in pools:
        raise BadRequest("Invalid queue name.")
    for hint in fields["hints"]:
        if _HINT_FORBIDDEN & set(hint):
            raise BadRequest(f"{PREFIX}: hints: hints may not contain the characters \" ' {{ }} [ ]")
    if fields["type"] not in {"none", "bin", "json"}:
        raise BadRequest(f"{PREFIX}: type: must be one of none, bin, json.")
    for key, value in fields["default_environment"].items():
        if not isinstance(key, str) or not key or "=" in key or "\x00" in key:
            raise BadRequest(f"{PREFIX}: default_environment: invalid variable name '{key}'.")
        if not isinstance(value, (str, int, float, bool, dict, list)):
            raise BadRequest(f"{PREFIX}: default_environment: invalid value for '{key}'.")


def register(backend: Backend, caller: Caller, body: dict[str, Any]) -> Actor:
    fields = parse_fields(body, backend.settings.pool_names)
    name = inputs.as_str(body.get("name"), "name", PREFIX) or None
    actor = Actor(tenant=caller.tenant, id=ids.new_id(), owner=caller.username, name=name,
                  api_server=backend.settings.api_server, **fields)
    backend.queues.create_inbox(actor.tenant, actor.id)
    backend.actors.create(actor)
    worker_service.ensure_worker(backend, actor)
    return actor


def get(backend: Backend, caller: Caller, identifier: str) -> Actor:
    return backend.actors.get(caller.tenant, identifier)


def list_actors(backend: Backend, caller: Caller) -> list[Actor]:
    return backend.actors.list(caller.tenant)


def update(backend: Backend, caller: Caller, identifier: str, body: dict[str, Any]) -> Actor:
    current = get(backend, caller, identifier)
    fields = parse_fields(body, backend.settings.pool_names)
    if not current.stateless and fields["stateless"]:
        raise BadRequest(f"{PREFIX}: an actor that was not stateless cannot be updated to be stateless.")
    force = inputs.as_bool(body.get("force", False), "force", PREFIX)
    new_revision = force or fields["image"] != current.image
    if new_revision:
        fields.update(status=ActorStatus.SUBMITTED, status_message="", revision=current.revision + 1)
    updated = backend.actors.replace(current.model_copy(update=fields), expected_version=current.version)
    if new_revision:
        worker_service.ensure_worker(backend, updated, stop_existing=True)
    return updated


def delete(backend: Backend, caller: Caller, identifier: str) -> None:
    actor = get(backend, caller, identifier)
    backend.actors.set_status(actor.tenant, actor.id, ActorStatus.SHUTTING_DOWN)
    for worker in backend.workers.list(actor.dbid):
        backend.workers.update(worker, {"status": WorkerStatus.SHUTDOWN_REQUESTED.value})
    for execution in backend.executions.list(actor.dbid):
        backend.logs.delete(f"{actor.dbid}#{execution.id}")
    backend.queues.delete_inbox(actor.tenant, actor.id)
    backend.actors.delete(actor.tenant, actor.id)


def get_state(backend: Backend, caller: Caller, identifier: str) -> Any:
    return get(backend, caller, identifier).state


def set_state(backend: Backend, caller: Caller, identifier: str, state: Any) -> Actor:
    actor = get(backend, caller, identifier)
    if actor.stateless:
        raise NotFound("actor is stateless.")
    if not state:
        raise BadRequest("state must be JSON serializable")
    return backend.actors.set_state(actor.tenant, actor.id, state)


def display(actor: Actor) -> dict[str, Any]:
    data = actor.model_dump(mode="json", exclude=_HIDDEN)
    base = actor.api_server.rstrip("/")
    data["_links"] = {"self": f"{base}/actors/{actor.id}", "executions": f"{base}/actors/{actor.id}/executions",
                      "owner": f"{base}/profiles/v2/{actor.owner}"}
    return data
