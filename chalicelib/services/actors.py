"""Registering, reading, updating and deleting actors (reference §1.3).

Every validation happens before the first write, so a refused request changes nothing.
"""
from __future__ import annotations

from typing import Any, Self

from pydantic import ConfigDict, RootModel, model_validator

from chalicelib.adapters import netguard
from chalicelib.adapters.storage.metrics import ACTOR_TOTAL
from chalicelib.domain import ids
from chalicelib.domain.access import Kind, Level
from chalicelib.domain.errors import BadRequest, Conflict, NotAuthorized, NotFound
from chalicelib.domain.models import Actor, ActorStatus, WorkerStatus
from chalicelib.domain.responses import ActorResponse, shown
from chalicelib.identity.auth import Caller
from chalicelib.services import actor_fields, quotas
from chalicelib.services import aliases as alias_service
from chalicelib.services import nonces as nonce_service
from chalicelib.services import permissions as permission_service
from chalicelib.services import workers as worker_service
from chalicelib.wiring.backend import Backend

PREFIX = actor_fields.PREFIX
LIST_LIMIT = 1000  # actors a GET /actors without parameters returns at most (Abaco's list shape)
PUT_ATTEMPTS = 3  # a PUT re-applied over fresh reads before a conflict reaches the caller
LINK_INVALID = ("Invalid link parameter; unable to retrieve linked actor data. The link must be a valid actor id "
                "or alias for which you have EXECUTE permission.")
LINK_CYCLE = "Error: this update would result in a cycle of linked actors."
DELETED = "Actor deleted successfully."
DELETED_CLEANING = "Actor deleted successfully, though Abaco is still cleaning up some of the actor's resources."


def get(backend: Backend, caller: Caller, identifier: str) -> Actor:
    """The actor named by an id or an alias, in the caller's tenant."""
    actor_id = alias_service.resolve(backend, caller.tenant, identifier)
    actor = backend.actors.find_live(caller.tenant, actor_id)
    if actor is None:
        raise NotFound(f"Actor with identifier '{identifier}' not found")
    return actor


def first_page(backend: Backend, caller: Caller) -> list[Actor]:
    """``GET /actors`` without parameters (Abaco's list shape): the first ``LIST_LIMIT`` of the tenant's
    actors the caller may READ; ``?limit=&cursor=`` pages further (a search with ``_metadata.next``)."""
    if caller.is_admin:
        return backend.actors.page(caller.tenant, LIST_LIMIT).items
    names = sorted(permission_service.readable_names(backend, caller))[:LIST_LIMIT]
    return sorted(backend.actors.get_many(caller.tenant, names), key=lambda a: a.create_time)


def register(backend: Backend, caller: Caller, body: dict[str, Any]) -> Actor:
    given = actor_fields.ActorInput.of(body, settings=backend.settings, tenant=caller.tenant)
    fields = given.fields()
    if fields["cron_schedule"]:
        fields["cron_on"] = True  # Abaco: registering with a schedule turns it on
    permission_service.check_privileged_fields(caller, fields)
    netguard.check_webhook(fields["webhook"], backend.settings.allow_private_webhooks)
    quotas.check_new_actor(backend, caller.tenant, caller.username)
    actor_id = ids.new_id()
    fields["link_id"] = _check_link(backend, caller, actor_id, fields["link"]) if fields["link"] else ""
    actor = Actor(tenant=caller.tenant, id=actor_id, owner=caller.username, name=given.name, configs_known=True,
                  api_server=backend.settings.api_server, state=given.state, **fields)
    backend.queues.create_inbox(actor.tenant, actor.id, worker_service.pool_for(actor, backend.settings))
    permission_service.grant_owner(backend, Kind.ACTOR, actor.tenant, actor.id, caller.username)
    backend.actors.create(actor)
    backend.metrics.increment(actor.tenant, ACTOR_TOTAL)
    worker_service.ensure_worker(backend, actor)
    return actor


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
    given = actor_fields.ActorUpdate.of(body, settings=backend.settings, tenant=caller.tenant,
                                        current_cron=(current.cron_schedule, current.cron_next_ex))
    fields = given.fields()
    permission_service.check_privileged_fields(caller, fields)
    netguard.check_webhook(fields["webhook"], backend.settings.allow_private_webhooks)
    if not current.stateless and fields["stateless"]:
        raise BadRequest(f"{PREFIX}: an actor that was not stateless cannot be updated to be stateless.")
    fields["link_id"] = _check_link(backend, caller, current.id, fields["link"]) if fields["link"] else ""
    new_revision = given.force or fields["image"] != current.image
    if new_revision:  # the update is the fix Abaco expects after ERROR: its starts are counted afresh
        fields.update(status=ActorStatus.SUBMITTED, status_message="", revision=current.revision + 1,
                      start_failures=0)
    if "state" in given.model_fields_set:
        fields["state"] = given.state
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


def _check_link(backend: Backend, caller: Caller, actor_id: str, link: str) -> str:
    """The link names an actor of the tenant (id or alias) on which the caller has EXECUTE, not the actor
    itself, and makes no cycle; returns that actor's id. Events follow the id, not the alias: re-pointing or
    re-creating the alias later must not hand this actor's events to someone else's actor."""
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
    if _links_back(backend, tenant, actor_id, target):
        raise BadRequest(LINK_CYCLE)
    return target


def _links_back(backend: Backend, tenant: str, actor_id: str, target: str) -> bool:
    """Whether the chain of links from ``target`` comes back to ``actor_id`` (or loops): one read per
    linked actor on the chain, never the tenant's every actor (the new link is the only new edge, so a
    new cycle passes through it)."""
    chain = {actor_id: target}
    current: str | None = target
    while current is not None and current not in chain:
        found = backend.actors.find(tenant, current)
        nxt = (found.link_id or _resolve_link(backend, tenant, found.link)) if found and found.link else None
        if nxt:
            chain[current] = nxt
        current = nxt
    return has_cycle(chain)


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
    """Asynchronous, in a bounded number of calls whatever the actor's history: the actor goes
    SHUTTING_DOWN and onto the ``deleting`` index (the API no longer shows it, its runners stop), its
    workers are asked to stop, its nonces and permissions go; the cleanup duty
    (``chalicelib/services/cleanup.py``) then removes its inbox, executions and logs in bounded passes,
    ends those still waiting, and removes the actor item last."""
    actor = get(backend, caller, identifier)
    backend.queues.mark_inbox_deleting(actor.tenant, actor.id)  # before the duty can see the actor
    if backend.actors.mark_deleting(actor.tenant, actor.id, "actor deleted") is None:
        raise NotFound(f"Actor with identifier '{identifier}' not found")
    cleaning = False
    for worker in backend.workers.list(actor.dbid):
        if worker.status == WorkerStatus.REQUESTED and not worker.host_id:
            backend.workers.delete(actor.dbid, worker.id)  # no runner has it yet
        elif not worker_service.stop(backend, worker):  # a parked one is removed at once too
            cleaning = True
    nonce_service.delete_all(backend, Kind.ACTOR, actor.tenant, actor.id)
    permission_service.drop(backend, Kind.ACTOR, actor.tenant, actor.id)
    return DELETED_CLEANING if cleaning else DELETED


def get_state(backend: Backend, caller: Caller, identifier: str) -> Any:
    return get(backend, caller, identifier).state


class StateInput(RootModel[Any]):
    """any JSON value but an empty or false one"""

    model_config = ConfigDict(json_schema_extra={"not": {"enum": [None, False, 0, "", {}, []]}})

    @model_validator(mode="after")
    def _given(self) -> Self:
        if not self.root:
            raise BadRequest("state must be JSON serializable")
        actor_fields.state(self.root)  # within the size an actor item holds
        return self


def set_state(backend: Backend, caller: Caller, identifier: str, state: Any) -> Actor:
    actor = get(backend, caller, identifier)
    if actor.stateless:
        raise NotFound("actor is stateless.")
    return backend.actors.set_state(actor.tenant, actor.id, StateInput.model_validate(state).root)


def display(actor: Actor) -> dict[str, Any]:
    data = shown(ActorResponse, actor)  # an allow-list: chalicelib/domain/responses.py
    base = actor.api_server.rstrip("/")
    data["_links"] = {"self": f"{base}/actors/{actor.id}", "executions": f"{base}/actors/{actor.id}/executions",
                      "owner": f"{base}/profiles/v2/{actor.owner}"}
    return data
