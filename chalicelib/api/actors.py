"""Actors: register, list, read, update, delete (reference §1.3)."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import actor_in_path, context, fields
from chalicelib.http import Ok, route
from chalicelib.services import actors

bp = Blueprint(__name__)

def list_actors(request: Any) -> Ok:
    backend, caller = context(request)
    return Ok([actors.display(a) for a in actors.list_actors(backend, caller)], "Actors retrieved successfully.")


def create_actor(request: Any) -> Ok:
    backend, caller = context(request)
    return Ok(actors.display(actors.register(backend, caller, fields(request))), "Actor created successfully.")


def get_actor(request: Any, actor_id: str) -> Ok:
    _, _, actor = actor_in_path(request, actor_id)
    return Ok(actors.display(actor), "Actor retrieved successfully.")


def update_actor(request: Any, actor_id: str) -> Ok:
    backend, caller = context(request)
    return Ok(actors.display(actors.update(backend, caller, actor_id, fields(request))),
              "Actor updated successfully.")


def delete_actor(request: Any, actor_id: str) -> Ok:
    backend, caller = context(request)
    actors.delete(backend, caller, actor_id)
    return Ok(None, "Actor deleted successfully.")


route(bp, "/actors", GET=list_actors, POST=create_actor)
route(bp, "/actors/{actor_id}", GET=get_actor, PUT=update_actor, DELETE=delete_actor)
