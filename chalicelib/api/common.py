"""Helpers every view uses: the backend, the caller, body fields, the actor named in the path.

The caller was established (and the view's ``@needs`` enforced) by ``chalicelib.edge.guard`` before the
view runs; ``context`` only reads it back.
"""
from __future__ import annotations

from typing import Any

from chalicelib.domain.errors import Unauthenticated
from chalicelib.domain.models import Actor
from chalicelib.edge import guard, http
from chalicelib.edge.envelope import to_snake
from chalicelib.identity.auth import Caller
from chalicelib.services import actors
from chalicelib.wiring.backend import Backend, get_backend


def context(request: Any) -> tuple[Backend, Caller]:
    grant = guard.grant_of(request)
    if grant is None:  # only reachable if a view bypassed chalicelib.edge.http.route
        raise Unauthenticated("no grant on the request")
    return get_backend(), grant.caller


def fields(request: Any) -> dict[str, Any]:
    """Body fields with camelCase names accepted as their snake_case twins."""
    return {to_snake(k): v for k, v in http.body_fields(request).items()}


def actor_in_path(request: Any, identifier: str) -> tuple[Backend, Caller, Actor]:
    """The actor of an ``Scope.ACTOR`` route, as the guard resolved it in the caller's tenant."""
    backend, caller = context(request)
    grant = guard.grant_of(request)
    if grant is not None and grant.actor is not None and grant.identifier == identifier:
        return backend, caller, grant.actor
    return backend, caller, actors.get(backend, caller, identifier)
