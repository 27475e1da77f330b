"""Permissions of actors, aliases and configs (reference §1.8, endpoint rows 21-22, 32, 40)."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import actor_in_path, context, fields
from chalicelib.domain.access import Kind, Level, Scope, needs
from chalicelib.edge.envelope import DATA
from chalicelib.edge.http import Ok, route
from chalicelib.services import permissions

bp = Blueprint(__name__)
RETRIEVED = "Permissions retrieved successfully."
UPDATED = "Permission added successfully."


@needs(Level.READ)
def get_actor_permissions(request: Any, actor_id: str) -> Ok:
    backend, caller, actor = actor_in_path(request, actor_id)
    return Ok(permissions.listing(backend, caller, Kind.ACTOR, actor.id), RETRIEVED, keys=DATA)


@needs(Level.UPDATE)
def add_actor_permission(request: Any, actor_id: str) -> Ok:
    backend, caller, actor = actor_in_path(request, actor_id)
    result = permissions.grant(backend, caller, Kind.ACTOR, actor.id, fields(request), owner=actor.owner)
    return Ok(result, UPDATED, keys=DATA)


@needs(Level.READ, Scope.ALIAS)
def get_alias_permissions(request: Any, alias: str) -> Ok:
    backend, caller = context(request)
    return Ok(permissions.listing(backend, caller, Kind.ALIAS, alias), RETRIEVED, keys=DATA)


@needs(Level.UPDATE, Scope.ALIAS)
def add_alias_permission(request: Any, alias: str) -> Ok:
    backend, caller = context(request)
    return Ok(permissions.grant(backend, caller, Kind.ALIAS, alias, fields(request)), UPDATED, keys=DATA)


@needs(Level.READ, Scope.CONFIG)
def get_config_permissions(request: Any, config_name: str) -> Ok:
    backend, caller = context(request)
    return Ok(permissions.listing(backend, caller, Kind.CONFIG, config_name), RETRIEVED, keys=DATA)


@needs(Level.UPDATE, Scope.CONFIG)
def add_config_permission(request: Any, config_name: str) -> Ok:
    backend, caller = context(request)
    return Ok(permissions.grant(backend, caller, Kind.CONFIG, config_name, fields(request)), UPDATED,
              keys=DATA)


route(bp, "/actors/{actor_id}/permissions", GET=get_actor_permissions, POST=add_actor_permission)
route(bp, "/actors/aliases/{alias}/permissions", GET=get_alias_permissions, POST=add_alias_permission)
route(bp, "/actors/configs/{config_name}/permissions", GET=get_config_permissions, POST=add_config_permission)
