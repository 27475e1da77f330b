"""Messages: send (asynchronous or synchronous), count, purge (reference §1.4)."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import actor_in_path, fields
from chalicelib.domain.access import Level, needs
from chalicelib.edge import http, staging
from chalicelib.edge.envelope import DATA
from chalicelib.edge.http import Ok, Raw, route
from chalicelib.services import executions, messages, uploads

bp = Blueprint(__name__)


@needs(Level.EXECUTE)
@staging.accepts_staged
def send_message(request: Any, actor_id: str) -> Ok | Raw:
    backend, caller, actor = actor_in_path(request, actor_id)
    query = http.query(request)
    synchronous = messages.is_synchronous(query)
    if synchronous:
        messages.check_synchronous(backend, actor)
    upload = request.headers.get(uploads.UPLOAD_HEADER.lower())
    if upload is not None:  # a large body already in S3 (POST .../messages/uploads first)
        parsed = messages.parse_message(messages.BINARY, None, None, None, staged=uploads.take(backend, actor, upload))
    else:
        parsed = messages.parse_message(http.content_type(request), request.raw_body, http.form(request),
                                        http.json_body(request), content_length=request.headers.get("content-length"),
                                        staged=staging.take(request), max_length=backend.settings.max_content_length)
    execution = messages.send(backend, caller, actor, parsed, query)
    if not synchronous:
        return Ok(messages.display_sent(execution, parsed), "The request was successful")
    outcome = executions.wait_synchronous(backend, actor, execution.id, backend.settings.sync_timeout)
    headers = {"X-Abaco-Execution-Id": execution.id}
    if outcome.result is not None:
        return Raw(outcome.result, "application/octet-stream", headers)
    return Raw(outcome.logs, "text/plain; charset=utf-8", headers)


@needs(Level.EXECUTE)
def request_upload(request: Any, actor_id: str) -> Ok:
    backend, _, actor = actor_in_path(request, actor_id)
    return Ok(uploads.request(backend, actor, fields(request)), "Upload URL created successfully.", keys=DATA)


@needs(Level.READ)
def get_messages(request: Any, actor_id: str) -> Ok:
    backend, _, actor = actor_in_path(request, actor_id)
    return Ok(messages.inbox_summary(backend, actor), "Actor messages retrieved successfully.")


@needs(Level.UPDATE)
def purge_messages(request: Any, actor_id: str) -> Ok:
    backend, _, actor = actor_in_path(request, actor_id)
    return Ok(messages.purge(backend, actor), "Actor mailbox purged.")


route(bp, "/actors/{actor_id}/messages", GET=get_messages, POST=send_message, DELETE=purge_messages)
route(bp, "/actors/{actor_id}/messages/uploads", POST=request_upload)
