"""Actors: register, list (or search), read, update, delete (reference §1.3)."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import actor_in_path, context, fields
from chalicelib.domain import query
from chalicelib.domain.access import Level, Scope, needs
from chalicelib.edge import http
from chalicelib.edge.envelope import SEARCH
from chalicelib.edge.http import Ok, route
from chalicelib.services import actors
from chalicelib.services import search as search_service

bp = Blueprint(__name__)


@needs(Level.NONE, Scope.AUTHENTICATED)
def list_actors(request: Any) -> Ok:
    backend, caller = context(request)
    params = http.query_lists(request)
    if query.is_search(params):
        return Ok(search_service.run(backend, caller, "actors", params), "Search completed successfully.",
                  keys=SEARCH)
    return Ok([actors.display(a) for a in actors.first_page(backend, caller)], "Actors retrieved successfully.")


@needs(Level.NONE, Scope.AUTHENTICATED)
def create_actor(request: Any) -> Ok:
    backend, caller = context(request)
    return Ok(actors.display(actors.register(backend, caller, fields(request))), "Actor created successfully.")


@needs(Level.READ)
def get_actor(request: Any, actor_id: str) -> Ok:
    _, _, actor = actor_in_path(request, actor_id)
    return Ok(actors.display(actor), "Actor retrieved successfully.")


@needs(Level.UPDATE)
def update_actor(request: Any, actor_id: str) -> Ok:
    backend, caller = context(request)
    return Ok(actors.display(actors.update(backend, caller, actor_id, fields(request))),
              "Actor updated successfully.")


@needs(Level.UPDATE)
def delete_actor(request: Any, actor_id: str) -> Ok:
    backend, caller = context(request)
    return Ok(None, actors.delete(backend, caller, actor_id))


route(bp, "/actors", GET=list_actors, POST=create_actor)
route(bp, "/actors/{actor_id}", GET=get_actor, PUT=update_actor, DELETE=delete_actor)
