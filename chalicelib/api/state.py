"""Actor state (reference §1.6)."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import context
from chalicelib.domain.access import Level, needs
from chalicelib.edge import http
from chalicelib.edge.http import Ok, route
from chalicelib.services import actors

bp = Blueprint(__name__)


@needs(Level.READ)
def get_state(request: Any, actor_id: str) -> Ok:
    backend, caller = context(request)
    return Ok({"state": actors.get_state(backend, caller, actor_id)}, "Actor state retrieved successfully.")


@needs(Level.UPDATE)
def set_state(request: Any, actor_id: str) -> Ok:
    backend, caller = context(request)
    state = http.json_body(request)
    if state is None:
        state = http.form(request) or None
    return Ok(actors.display(actors.set_state(backend, caller, actor_id, state)), "State updated.")


route(bp, "/actors/{actor_id}/state", GET=get_state, POST=set_state)
