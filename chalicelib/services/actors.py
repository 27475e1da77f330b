"""Registering, reading, updating and deleting actors (reference §1.3).

Every validation happens before the first write, so a refused request changes nothing.
"""
from __future__ import annotations

import json
from typing import Any

from chalicelib.adapters import netguard
from chalicelib.adapters.storage.logs import execution_key
from chalicelib.adapters.storage.metrics import ACTOR_TOTAL
from chalicelib.domain import ids, inputs
from chalicelib.domain.access import Kind, Level
from chalicelib.domain.errors import BadRequest, Conflict, NotAuthorized, NotFound
from chalicelib.domain.models import Actor, ActorStatus, ExecutionStatus, WorkerStatus
from chalicelib.identity.auth import Caller
from chalicelib.services import actor_fields
from chalicelib.services import aliases as alias_service
from chalicelib.services import nonces as nonce_service
from chalicelib.services import permissions as permission_service
from chalicelib.services import workers as worker_service
from chalicelib.wiring.backend import Backend

PREFIX = actor_fields.PREFIX
PUT_ATTEMPTS = 3  # a PUT re-applied over fresh reads before a conflict reaches the caller
_HIDDEN = {"tenant", "api_server", "version", "start_failures"}
LINK_INVALID = ("Invalid link parameter; unable to retrieve linked actor data. The link must be a valid actor id "
                "or alias for which you have EXECUTE permission.")
LINK_CYCLE = "Error: this update would result in a cycle of linked actors."
DELETED = "Actor deleted successfully."
EXECUTION_ORPHANED = "actor deleted before the execution ran"
DELETED_CLEANING = "Actor deleted successfully, though Abaco is still cleaning up some of the actor's resources."


def get(backend: Backend, caller: Caller, identifier: str) -> Actor:
    """The actor named by an id or an alias, in the caller's tenant."""
    actor_id = alias_service.resolve(backend, caller.tenant, identifier)
    actor = backend.actors.find(caller.tenant, actor_id)
    if actor is None:
        raise NotFound(f"Actor with identifier '{identifier}' not found")
    return actor


def list_actors(backend: Backend, caller: Caller) -> list[Actor]:
    """The tenant's actors the caller may READ (admins: all of the tenant's)."""
    return permission_service.readable(backend, caller, backend.actors.list(caller.tenant))


def register(backend: Backend, caller: Caller, body: dict[str, Any]) -> Actor:
    fields = actor_fields.parse(body, backend.settings)
    if fields["cron_schedule"]:
        fields["cron_on"] = True  # Abaco: registering with a schedule turns it on
    permission_service.check_privileged_fields(caller, fields)
    netguard.check_webhook(fields["webhook"], backend.settings.allow_private_webhooks)
    actor_id = ids.new_id()
    if fields["link"]:
        _check_link(backend, caller, actor_id, fields["link"])
    actor = Actor(tenant=caller.tenant, id=actor_id, owner=caller.username, name=actor_fields.name(body.get("name")),
                  api_server=backend.settings.api_server, state=_initial_state(body), **fields)
    backend.queues.create_inbox(actor.tenant, actor.id, worker_service.pool_for(actor, backend.settings))
    permission_service.grant_owner(backend, Kind.ACTOR, actor.tenant, actor.id, caller.username)
    backend.actors.create(actor)
    backend.metrics.increment(actor.tenant, ACTOR_TOTAL)
    worker_service.ensure_worker(backend, actor)
    return actor


def _initial_state(body: dict[str, Any]) -> Any:
    """An initial state given at registration (any JSON value; form text is parsed as JSON if it can be)."""
    state = body.get("state", {})
    if isinstance(state, str):
        try:
            state = json.loads(state)
        except ValueError:
            pass
    return actor_fields.state(state)


def update(backend: Backend, caller: Caller, identifier: str, body: dict[str, Any]) -> Actor:
    """Full replacement with defaults; ``name``, owner and state are kept (reference §1.3, PUT).

    An Abaco PUT carries no version, so a conflict here is with a write that landed between this
    request's own read and its write (typically the runner recording the actor READY, or a start
    failure). The replacement is re-applied over a fresh read, which keeps that write; only a conflict
    that persists (``PUT_ATTEMPTS`` times) reaches the caller as 409."""
    for _ in range(PUT_ATTEMPTS - 1):
        try:
            return apply_update(backend, caller, get(backend, caller, identifier), body)
        except Conflict:
            continue
    return apply_update(backend, caller, get(backend, caller, identifier), body)


def apply_update(backend: Backend, caller: Caller, current: Actor, body: dict[str, Any]) -> Actor:
    """The PUT of ``body`` over ``current`` as read. The write is conditional on the version read
    (optimistic locking, reliability plan §2): when another write came in between, this one raises
    ``Conflict`` (409) and changes nothing, instead of silently undoing the other."""
    fields = actor_fields.parse(body, backend.settings,
                                current_cron=(current.cron_schedule, current.cron_next_ex))
    permission_service.check_privileged_fields(caller, fields)
    netguard.check_webhook(fields["webhook"], backend.settings.allow_private_webhooks)
    if not current.stateless and fields["stateless"]:
        raise BadRequest(f"{PREFIX}: an actor that was not stateless cannot be updated to be stateless.")
    if fields["link"]:
        _check_link(backend, caller, current.id, fields["link"])
    force = inputs.as_bool(body.get("force", False), "force", PREFIX)
    new_revision = force or fields["image"] != current.image
    if new_revision:  # the update is the fix Abaco expects after ERROR: its starts are counted afresh
        fields.update(status=ActorStatus.SUBMITTED, status_message="", revision=current.revision + 1,
                      start_failures=0)
    if "state" in body:
        fields["state"] = _initial_state(body)
    updated = backend.actors.replace(current.model_copy(update=fields), expected_version=current.version,
                                     expected_failures=current.start_failures)
    if caller.username != current.owner and not caller.nonce:
        permission_service.grant_owner(backend, Kind.ACTOR, current.tenant, current.id, caller.username)
    pool = worker_service.pool_for(updated, backend.settings)
    if pool != worker_service.pool_for(current, backend.settings):  # runner roles read inboxes by this tag
        backend.queues.set_inbox_pool(updated.tenant, updated.id, pool)
    if new_revision:
        worker_service.ensure_worker(backend, updated, stop_existing=True)
    return updated


def _check_link(backend: Backend, caller: Caller, actor_id: str, link: str) -> None:
    """The link names an actor of the tenant (id or alias) on which the caller has EXECUTE, not the actor
    itself, and makes no cycle."""
    tenant = caller.tenant
    target = _resolve_link(backend, tenant, link)
    if target is None:
        raise BadRequest(LINK_INVALID)
    try:
        permission_service.require(backend, caller, Kind.ACTOR, target, Level.EXECUTE)
    except NotAuthorized as exc:
        raise BadRequest(LINK_INVALID) from exc
    if target == actor_id:
        raise BadRequest("Invalid link parameter. An actor cannot link to itself.")
    links = {}
    for other in backend.actors.list(tenant):
        if other.link and other.id != actor_id:
            resolved = _resolve_link(backend, tenant, other.link)
            if resolved:
                links[other.id] = resolved
    links[actor_id] = target
    if has_cycle(links):
        raise BadRequest(LINK_CYCLE)


def _resolve_link(backend: Backend, tenant: str, link: str) -> str | None:
    try:
        actor_id = alias_service.resolve(backend, tenant, link)
    except NotFound:
        return None
    return actor_id if backend.actors.find(tenant, actor_id) else None


def has_cycle(links: dict[str, str]) -> bool:
    """Whether following ``actor -> linked actor`` edges can come back to an actor already visited."""
    for start in links:
        seen = {start}
        current = links.get(start)
        while current is not None:
            if current in seen:
                return True
            seen.add(current)
            current = links.get(current)
    return False


def delete(backend: Backend, caller: Caller, identifier: str) -> str:
    """Stop the workers, delete the logs, the inbox and the actor; executions stay (as in Abaco). Those
    still waiting in the inbox end ERROR (Abaco left them SUBMITTED forever); a RUNNING one is finished by
    its runner, or by the reconciler once its runner is gone."""
    actor = get(backend, caller, identifier)
    backend.actors.set_status(actor.tenant, actor.id, ActorStatus.SHUTTING_DOWN)
    cleaning = False
    for worker in backend.workers.list(actor.dbid):
        if worker.status == WorkerStatus.REQUESTED and not worker.host_id:
            backend.workers.delete(actor.dbid, worker.id)  # no runner has it yet
        elif not worker_service.stop(backend, worker):  # a parked one is removed at once too
            cleaning = True
    for execution in backend.executions.list(actor.dbid):
        backend.logs.delete(execution_key(actor.dbid, execution.id))
    backend.queues.delete_inbox(actor.tenant, actor.id)
    for execution in backend.executions.list(actor.dbid):  # their messages went with the inbox
        if execution.status == ExecutionStatus.SUBMITTED:
            backend.executions.fail(execution, EXECUTION_ORPHANED, only_from=ExecutionStatus.SUBMITTED)
    backend.actors.delete(actor.tenant, actor.id)
    nonce_service.delete_all(backend, Kind.ACTOR, actor.tenant, actor.id)
    permission_service.drop(backend, Kind.ACTOR, actor.tenant, actor.id)
    return DELETED_CLEANING if cleaning else DELETED


def get_state(backend: Backend, caller: Caller, identifier: str) -> Any:
    return get(backend, caller, identifier).state


def set_state(backend: Backend, caller: Caller, identifier: str, state: Any) -> Actor:
    actor = get(backend, caller, identifier)
    if actor.stateless:
        raise NotFound("actor is stateless.")
    if not state:
        raise BadRequest("state must be JSON serializable")
    return backend.actors.set_state(actor.tenant, actor.id, actor_fields.state(state))


def display(actor: Actor) -> dict[str, Any]:
    data = actor.model_dump(mode="json", exclude=_HIDDEN)
    base = actor.api_server.rstrip("/")
    data["_links"] = {"self": f"{base}/actors/{actor.id}", "executions": f"{base}/actors/{actor.id}/executions",
                      "owner": f"{base}/profiles/v2/{actor.owner}"}
    return data
