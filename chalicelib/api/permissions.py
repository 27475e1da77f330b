"""Permissions of actors, aliases and configs (reference §1.8, endpoint rows 21-22, 32, 40)."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import actor_in_path, context, fields
from chalicelib.domain import query
from chalicelib.domain.access import Kind, Level, Scope, needs
from chalicelib.edge import http
from chalicelib.edge.envelope import DATA, SEARCH
from chalicelib.edge.http import Ok, route
from chalicelib.services import permissions

bp = Blueprint(__name__)
RETRIEVED = "Permissions retrieved successfully."


def _listed(request: Any, kind: Kind, name: str, link: str) -> Ok:
    """Abaco's ``{user: level}`` map, or with paging parameters one page of ``{user, level}`` records."""
    backend, caller = context(request)
    params = http.query_lists(request)
    if query.is_search(params):
        return Ok(permissions.page(backend, caller, kind, name, params, link), RETRIEVED, keys=SEARCH)
    return Ok(permissions.listing(backend, caller, kind, name), RETRIEVED, keys=DATA)
UPDATED = "Permission added successfully."


@needs(Level.READ)
def get_actor_permissions(request: Any, actor_id: str) -> Ok:
    _, _, actor = actor_in_path(request, actor_id)
    return _listed(request, Kind.ACTOR, actor.id, f"/actors/{actor.id}/permissions")


@needs(Level.UPDATE)
def add_actor_permission(request: Any, actor_id: str) -> Ok:
    backend, caller, actor = actor_in_path(request, actor_id)
    result = permissions.grant(backend, caller, Kind.ACTOR, actor.id, fields(request), owner=actor.owner)
    return Ok(result, UPDATED, keys=DATA)


@needs(Level.READ, Scope.ALIAS)
def get_alias_permissions(request: Any, alias: str) -> Ok:
    return _listed(request, Kind.ALIAS, alias, f"/actors/aliases/{alias}/permissions")


@needs(Level.UPDATE, Scope.ALIAS)
def add_alias_permission(request: Any, alias: str) -> Ok:
    backend, caller = context(request)
    return Ok(permissions.grant(backend, caller, Kind.ALIAS, alias, fields(request)), UPDATED, keys=DATA)


@needs(Level.READ, Scope.CONFIG)
def get_config_permissions(request: Any, config_name: str) -> Ok:
    return _listed(request, Kind.CONFIG, config_name, f"/actors/configs/{config_name}/permissions")


@needs(Level.UPDATE, Scope.CONFIG)
def add_config_permission(request: Any, config_name: str) -> Ok:
    backend, caller = context(request)
    return Ok(permissions.grant(backend, caller, Kind.CONFIG, config_name, fields(request)), UPDATED,
              keys=DATA)


route(bp, "/actors/{actor_id}/permissions", GET=get_actor_permissions, POST=add_actor_permission)
route(bp, "/actors/aliases/{alias}/permissions", GET=get_alias_permissions, POST=add_alias_permission)
route(bp, "/actors/configs/{config_name}/permissions", GET=get_config_permissions, POST=add_config_permission)
