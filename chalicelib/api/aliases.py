"""Aliases (reference §1.10)."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import context, fields
from chalicelib.domain import query
from chalicelib.domain.access import Level, Scope, needs
from chalicelib.edge import http
from chalicelib.edge.envelope import SEARCH
from chalicelib.edge.http import Ok, route
from chalicelib.services import aliases

bp = Blueprint(__name__)


@needs(Level.NONE, Scope.AUTHENTICATED)
def list_aliases(request: Any) -> Ok:
    backend, caller = context(request)
    params = http.query_lists(request)
    if query.is_search(params):  # limit, skip, cursor or filters: one page in the paged envelope
        return Ok(aliases.page(backend, caller, params), "Aliases retrieved successfully.", keys=SEARCH)
    return Ok([aliases.display(a) for a in aliases.list_aliases(backend, caller)], "Aliases retrieved successfully.")


@needs(Level.NONE, Scope.AUTHENTICATED)  # the service needs UPDATE on the target actor (body)
def create_alias(request: Any) -> Ok:
    backend, caller = context(request)
    return Ok(aliases.display(aliases.create(backend, caller, fields(request))), "Actor alias created successfully.")


@needs(Level.READ, Scope.ALIAS)
def get_alias(request: Any, alias: str) -> Ok:
    backend, caller = context(request)
    return Ok(aliases.display(aliases.get(backend, caller, alias)), "Alias retrieved successfully.")


@needs(Level.UPDATE, Scope.ALIAS)  # and UPDATE on the new target actor (body)
def update_alias(request: Any, alias: str) -> Ok:
    backend, caller = context(request)
    return Ok(aliases.display(aliases.update(backend, caller, alias, fields(request))),
              "Actor alias updated successfully.")


@needs(Level.UPDATE, Scope.ALIAS)
def delete_alias(request: Any, alias: str) -> Ok:
    backend, caller = context(request)
    aliases.delete(backend, caller, alias)
    return Ok(None, f"Alias {alias} deleted successfully.")


route(bp, "/actors/aliases", GET=list_aliases, POST=create_alias)
route(bp, "/actors/aliases/{alias}", GET=get_alias, PUT=update_alias, DELETE=delete_alias)
