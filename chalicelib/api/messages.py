"""Messages: send and count (reference §1.4)."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib import http
from chalicelib.api.common import actor_in_path
from chalicelib.http import Ok, route
from chalicelib.permissions import Level, needs
from chalicelib.services import messages

bp = Blueprint(__name__)


@needs(Level.EXECUTE)
def send_message(request: Any, actor_id: str) -> Ok:
    backend, caller, actor = actor_in_path(request, actor_id)
    parsed = messages.parse_message(http.content_type(request), request.raw_body, http.form(request),
                                    http.json_body(request))
    execution = messages.send(backend, caller, actor, parsed, http.query(request))
    return Ok(messages.display_sent(execution, parsed), "The request was successful")


@needs(Level.READ)
def get_messages(request: Any, actor_id: str) -> Ok:
    backend, _, actor = actor_in_path(request, actor_id)
    return Ok(messages.inbox_summary(backend, actor), "Actor messages retrieved successfully.")


route(bp, "/actors/{actor_id}/messages", GET=get_messages, POST=send_message)
