"""Nonces of actors and aliases (reference §1.9, endpoint rows 23-26 and 33-34)."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import actor_in_path, fields
from chalicelib.domain import query
from chalicelib.domain.access import Kind, Level, Scope, needs
from chalicelib.edge import http
from chalicelib.edge.envelope import SEARCH
from chalicelib.edge.http import Ok, route
from chalicelib.services import nonces, permissions

bp = Blueprint(__name__)


@needs(Level.READ)
def list_actor_nonces(request: Any, actor_id: str) -> Ok:
    backend, caller, actor = actor_in_path(request, actor_id)
    params = http.query_lists(request)
    if query.is_search(params):  # limit, skip, cursor or filters: one page in the paged envelope
        return Ok(nonces.page(backend, caller, Kind.ACTOR, actor.id, actor, params),
                  "Actor nonces retrieved successfully.", keys=SEARCH)
    return Ok(nonces.list_for(backend, caller, Kind.ACTOR, actor.id, actor), "Actor nonces retrieved successfully.")


@needs(Level.UPDATE)
def create_actor_nonce(request: Any, actor_id: str) -> Ok:
    backend, caller, actor = actor_in_path(request, actor_id)
    return Ok(nonces.create(backend, caller, Kind.ACTOR, actor.id, actor.id, fields(request)),
              "Actor nonce created successfully.")


@needs(Level.READ)
def get_actor_nonce(request: Any, actor_id: str, nonce_id: str) -> Ok:
    backend, caller, actor = actor_in_path(request, actor_id)
    return Ok(nonces.get(backend, caller, Kind.ACTOR, actor.id, nonce_id, actor),
              "Actor nonce retrieved successfully.")


@needs(Level.UPDATE)
def delete_actor_nonce(request: Any, actor_id: str, nonce_id: str) -> Ok:
    backend, caller, actor = actor_in_path(request, actor_id)
    nonces.delete(backend, caller, Kind.ACTOR, actor.id, nonce_id)
    return Ok(None, "Actor nonce deleted successfully.")


def _alias_actor(request: Any, alias: str, level: Level) -> tuple[Any, Any, Any]:
    """Alias nonce routes need ``level`` on the alias (the guard checked it) and on its actor (Abaco's
    message when the actor's is missing)."""
    backend, caller, actor = actor_in_path(request, alias)
    if not permissions.owns(caller, actor):
        permissions.require(backend, caller, Kind.ACTOR, actor.id, level, message=permissions.ALIAS_AND_ACTOR)
    return backend, caller, actor


@needs(Level.READ, Scope.ALIAS)
def list_alias_nonces(request: Any, alias: str) -> Ok:
    backend, caller, actor = _alias_actor(request, alias, Level.READ)
    params = http.query_lists(request)
    if query.is_search(params):  # limit, skip, cursor or filters: one page in the paged envelope
        return Ok(nonces.page(backend, caller, Kind.ALIAS, alias, actor, params),
                  "Alias nonces retrieved successfully.", keys=SEARCH)
    return Ok(nonces.list_for(backend, caller, Kind.ALIAS, alias, actor), "Alias nonces retrieved successfully.")


@needs(Level.UPDATE, Scope.ALIAS)
def create_alias_nonce(request: Any, alias: str) -> Ok:
    backend, caller, actor = _alias_actor(request, alias, Level.UPDATE)
    return Ok(nonces.create(backend, caller, Kind.ALIAS, alias, actor.id, fields(request)),
              "Alias nonce created successfully.")


@needs(Level.READ, Scope.ALIAS)
def get_alias_nonce(request: Any, alias: str, nonce_id: str) -> Ok:
    backend, caller, actor = _alias_actor(request, alias, Level.READ)
    return Ok(nonces.get(backend, caller, Kind.ALIAS, alias, nonce_id, actor), "Alias nonce retrieved successfully.")


@needs(Level.UPDATE, Scope.ALIAS)
def delete_alias_nonce(request: Any, alias: str, nonce_id: str) -> Ok:
    backend, caller, _ = _alias_actor(request, alias, Level.UPDATE)
    nonces.delete(backend, caller, Kind.ALIAS, alias, nonce_id)
    return Ok(None, "Alias nonce deleted successfully.")


route(bp, "/actors/{actor_id}/nonces", GET=list_actor_nonces, POST=create_actor_nonce)
route(bp, "/actors/{actor_id}/nonces/{nonce_id}", GET=get_actor_nonce, DELETE=delete_actor_nonce)
route(bp, "/actors/aliases/{alias}/nonces", GET=list_alias_nonces, POST=create_alias_nonce)
route(bp, "/actors/aliases/{alias}/nonces/{nonce_id}", GET=get_alias_nonce, DELETE=delete_alias_nonce)
