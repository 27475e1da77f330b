"""Aliases: another name for an actor, usable wherever an actor id is (reference §1.10).

An identifier in a path is an actor id when it decodes as a hashid and an alias otherwise, which is
why an alias may never be a valid hashid. Path words of our own routes are reserved too, so an alias can
never shadow a route.
"""
from __future__ import annotations

from typing import Any, ClassVar

from chalicelib.domain import bodies, ids, inputs
from chalicelib.domain.access import Kind, Level
from chalicelib.domain.errors import BadRequest, NotFound
from chalicelib.domain.models import Alias
from chalicelib.domain.responses import AliasResponse, shown
from chalicelib.identity.auth import Caller
from chalicelib.services import nonces as nonce_service
from chalicelib.services import paged
from chalicelib.services import permissions as permission_service
from chalicelib.wiring.backend import Backend

PREFIX = "Invalid alias description"
# Abaco's reserved words, plus the static words of our own /actors/... routes (v2: agavepy's /actors/v2/...).
RESERVED_WORDS = ("executions", "nonces", "logs", "messages", "adapters", "admin",
                  "aliases", "configs", "search", "utilization", "openapi.json", "v2")
FORBIDDEN_CHARS = ("\\", " ", '"', ":", "/", "?", "#", "[", "]", "@", "!", "$", "&", "'", "(", ")", "*",
                   "+", ",", ";", "=")
MAX_ALIAS_LENGTH = 128
_FORBIDDEN_LIST = "['" + "', '".join(FORBIDDEN_CHARS) + "']"
# Abaco's refusals when the caller lacks UPDATE on the actor an alias is to name (its AliasesResource.post and
# AliasResource.put); clients and Abaco's functional tests match on them.
CREATE_REFUSED = "Not authorized -- you do not have access to {actor_id}."
REPOINT_REFUSED = ("Not authorized -- you do not have UPDATE access to the actor you want to associate with "
                   "this alias.")


def validate_name(alias: str) -> None:
    """Abaco's rules with its messages; dots are allowed (``dots.in.my.name.alias``)."""
    if not alias:
        raise BadRequest(f"{PREFIX}. Missing required field: alias")
    if alias in RESERVED_WORDS:
        raise BadRequest(f"{alias} is a reserved word. The following reserved words cannot be used for an "
                         f"alias: {list(RESERVED_WORDS)}.")
    bad = next((c for c in FORBIDDEN_CHARS if c in alias), None)
    if bad is not None:
        raise BadRequest(f"'{bad}' is a forbidden character. The following characters cannot be used for "
                         f"an alias: {_FORBIDDEN_LIST}.")
    if any(ord(c) < 32 or ord(c) == 127 for c in alias) or len(alias) > MAX_ALIAS_LENGTH:
        raise BadRequest(f"{PREFIX}. An alias is at most {MAX_ALIAS_LENGTH} printable characters.")
    if ids.is_hashid(alias):
        raise BadRequest(f"{PREFIX}. Alias cannot be an Abaco hash id.")


def resolve(backend: Backend, tenant: str, identifier: str) -> str:
    """The actor id an identifier names: itself for a hashid, else the alias's target (404 if none)."""
    if ids.is_hashid(identifier):
        return identifier
    alias = backend.aliases.find(tenant, identifier)
    if alias is None:
        raise NotFound(f"Actor with identifier '{identifier}' not found")
    return alias.actor_id


def _alias(value: Any) -> str:
    raw = inputs.as_str(value, "alias", PREFIX)
    if len(raw) > MAX_ALIAS_LENGTH:  # before stripping: the limit is on what was sent
        raise BadRequest(f"{PREFIX}. An alias is at most {MAX_ALIAS_LENGTH} printable characters.")
    validate_name(raw.strip())
    return raw.strip()


def _actor_id(value: Any) -> str:
    actor_id = inputs.as_str(value, "actor_id", PREFIX).strip()
    if not actor_id:
        raise BadRequest(f"{PREFIX}. Missing required field: actor_id")
    return actor_id


_ALIAS_NAME = bodies.name_schema(FORBIDDEN_CHARS, MAX_ALIAS_LENGTH, RESERVED_WORDS)
AliasName = bodies.checked(str, lambda v, _i: _alias(v),
                           {**_ALIAS_NAME, "description": _ALIAS_NAME["description"] + "; not an Abaco id (a hashid)"})
ActorRef = bodies.checked(str, lambda v, _i: _actor_id(v), bodies.ACTOR_REF)


class AliasUpdate(bodies.Body):
    PREFIX: ClassVar[str] = PREFIX
    actor_id: ActorRef


class AliasInput(bodies.Body):
    PREFIX: ClassVar[str] = PREFIX
    alias: AliasName
    actor_id: ActorRef


def _target(backend: Backend, caller: Caller, actor_id: str, refused: str) -> str:
    if backend.actors.find(caller.tenant, actor_id) is None:
        raise NotFound(f"No actor found with id: {actor_id}.")
    permission_service.require(backend, caller, Kind.ACTOR, actor_id, Level.UPDATE,
                               message=refused.format(actor_id=actor_id))
    return actor_id


def create(backend: Backend, caller: Caller, body: dict[str, Any]) -> Alias:
    """The caller needs UPDATE on the target actor, and gets UPDATE on the alias."""
    given = AliasInput.of(body)
    name = given.alias
    actor_id = _target(backend, caller, given.actor_id, CREATE_REFUSED)
    alias = Alias(tenant=caller.tenant, alias=name, actor_id=actor_id, owner=caller.username,
                  api_server=backend.settings.api_server)
    backend.aliases.create(alias)
    permission_service.grant_owner(backend, Kind.ALIAS, caller.tenant, name, caller.username)
    return alias


def get(backend: Backend, caller: Caller, name: str) -> Alias:
    return backend.aliases.get(caller.tenant, name)


def list_aliases(backend: Backend, caller: Caller) -> list[Alias]:
    """Abaco's list (it listed the whole tenant's): the first ``LIST_LIMIT`` aliases the caller may read;
    paging parameters page further (``page``)."""
    if caller.is_admin:
        found = backend.aliases.first(caller.tenant, paged.LIST_LIMIT)
    else:
        names = sorted(permission_service.readable_names(backend, caller, Kind.ALIAS))[:paged.LIST_LIMIT]
        found = backend.aliases.get_many(caller.tenant, names)
    return sorted(found, key=lambda a: a.create_time)


def page(backend: Backend, caller: Caller, params: paged.Params) -> dict[str, Any]:
    """One page of the aliases the caller may read (``limit``, ``skip``, ``cursor``, filters)."""
    return permission_service.readable_page(backend, caller, Kind.ALIAS, params, backend.aliases.walk,
                                            lambda alias: alias.alias, display, "/actors/aliases")


def update(backend: Backend, caller: Caller, name: str, body: dict[str, Any]) -> Alias:
    """Re-point the alias; its name is immutable (a different ``alias`` in the body is refused)."""
    current = get(backend, caller, name)
    given = body.get("alias")
    if given not in (None, "", name):
        raise BadRequest("Invalid alias update description. The alias itself cannot be updated in a PUT "
                         "request.")
    return backend.aliases.repoint(current, _target(backend, caller, AliasUpdate.of(body).actor_id, REPOINT_REFUSED))


def delete(backend: Backend, caller: Caller, name: str) -> None:
    alias = get(backend, caller, name).alias
    backend.aliases.delete(caller.tenant, alias)
    nonce_service.delete_all(backend, Kind.ALIAS, caller.tenant, alias)
    permission_service.drop(backend, Kind.ALIAS, caller.tenant, alias)


def display(alias: Alias) -> dict[str, Any]:
    base = alias.api_server.rstrip("/")
    return {**shown(AliasResponse, alias),
            "_links": {"self": f"{base}/actors/aliases/{alias.alias}", "owner": f"{base}/profiles/v2/{alias.owner}",
                       "actor": f"{base}/actors/{alias.actor_id}"}}
