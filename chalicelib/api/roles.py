"""The role store's admin API (``chalicelib.services.roles``): grant, show and
revoke the Tapis v3 roles of a user of the caller's tenant. Tokens without roles (Tapis v3, actor tokens)
get theirs from here on every request, so a revocation holds from the next request."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import context, fields
from chalicelib.domain.access import Level, Scope, needs
from chalicelib.edge.http import Ok, route
from chalicelib.services import roles

bp = Blueprint(__name__)


@needs(Level.READ, Scope.ADMIN)
def get_roles(request: Any, username: str) -> Ok:
    backend, caller = context(request)
    return Ok(roles.show(backend, caller, username), "Roles retrieved successfully.")


@needs(Level.UPDATE, Scope.ADMIN)
def put_roles(request: Any, username: str) -> Ok:
    backend, caller = context(request)
    return Ok(roles.put(backend, caller, username, fields(request)), "Roles granted successfully.")


@needs(Level.UPDATE, Scope.ADMIN)
def delete_roles(request: Any, username: str) -> Ok:
    backend, caller = context(request)
    return Ok(roles.revoke(backend, caller, username), "Roles revoked successfully.")


route(bp, "/actors/admin/roles/{username}", GET=get_roles, PUT=put_roles, DELETE=delete_roles)
