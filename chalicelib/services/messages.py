"""Sending a message: the execution record first, then the inbox, then make sure a worker exists (§1.4)."""
from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib import ids
from chalicelib.auth import Caller
from chalicelib.backend import Backend
from chalicelib.errors import BadRequest
from chalicelib.models import Actor, Execution
from chalicelib.queue_messages import InboxMessage
from chalicelib.services import workers as worker_service

# Query parameters that never reach the container: a nonce is a credential (Abaco leaked it, §9).
_NOT_ENV = {"message", "x-nonce"}


@dataclass(frozen=True)
class ParsedMessage:
    content_type: str
    body: str  # the text message, or JSON text for application/json


def parse_message(content_type: str | None, raw: bytes | None, form: Mapping[str, Any] | None,
                  json_body: Any) -> ParsedMessage:
    """Abaco's order: a ``message`` field, then a JSON body, then a raw body that must be JSON text."""
    if form is not None and "message" in form:
        return ParsedMessage("str", str(form["message"]))
    if isinstance(json_body, dict) and "message" in json_body:
        value = json_body["message"]
        return ParsedMessage("str", value if isinstance(value, str) else json.dumps(value))
    if json_body is not None:
        return ParsedMessage("application/json", json.dumps(json_body))
    text = (raw or b"").decode("utf-8", errors="replace")
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise BadRequest("message POST body could not be serialized. Pass JSON data or use the message "
                         "attribute.") from exc
    return ParsedMessage("str", value if isinstance(value, str) else json.dumps(value))


def environment_from_query(query: Mapping[str, str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for key, value in query.items():
        if key in _NOT_ENV:
            continue
        if not key or "=" in key or "\x00" in key or "\x00" in value:
            raise BadRequest(f"Invalid environment variable name or value in query parameter '{key}'.")
        env[key] = value
    return env


def send(backend: Backend, caller: Caller, actor: Actor, parsed: ParsedMessage,
         query: Mapping[str, str]) -> Execution:
    """Record, enqueue, make sure a worker exists. A crash (or an SQS error, answered with 503) between
    the record and the enqueue leaves the execution SUBMITTED and not enqueued: the reconciler re-sends
    its stored message (reliability plan §1.3 step 1)."""
    execution, message = record(backend, caller, actor, parsed, query)
    execution = enqueue(backend, execution, message)
    worker_service.ensure_worker(backend, actor)
    return execution


def record(backend: Backend, caller: Caller, actor: Actor, parsed: ParsedMessage,
           query: Mapping[str, str]) -> tuple[Execution, InboxMessage]:
    """Step 1: the execution (SUBMITTED, not enqueued) with the inbox message it will be sent as."""
    env = environment_from_query(query)
    execution_id = ids.new_id()
    env.update({"_abaco_username": caller.username, "_abaco_api_server": actor.api_server,
                "_abaco_execution_id": execution_id, "_abaco_Content_Type": parsed.content_type})
    if caller.jwt_header_name:
        env["_abaco_jwt_header_name"] = caller.jwt_header_name
    now = time.time()
    message = InboxMessage(tenant=actor.tenant, actor_id=actor.id, execution_id=execution_id,
                           content_type=parsed.content_type, body=parsed.body, size=len(parsed.body),
                           env=env, executor=caller.username, sent_at=now)
    execution = Execution(tenant=actor.tenant, actor_id=actor.id, id=execution_id, executor=caller.username,
                          api_server=actor.api_server, content_type=parsed.content_type,
                          created_ns=time.time_ns(), phases={"queued": now},
                          open_pool=worker_service.pool_for(actor, backend.settings),
                          inbox_message=message.encode())
    backend.executions.create(execution)
    return execution, message


def enqueue(backend: Backend, execution: Execution, message: InboxMessage) -> Execution:
    """Step 2: the message on the actor's inbox, then the record says so."""
    backend.queues.send_inbox(message)
    return backend.executions.mark_sent(execution)


def display_sent(execution: Execution, parsed: ParsedMessage) -> dict[str, Any]:
    base = execution.api_server.rstrip("/")
    msg: Any = parsed.body if parsed.content_type == "str" else json.loads(parsed.body)
    return {"execution_id": execution.id, "msg": msg,
            "_links": {"self": f"{base}/actors/{execution.actor_id}/executions/{execution.id}",
                       "owner": f"{base}/profiles/v2/{execution.executor}",
                       "messages": f"{base}/actors/{execution.actor_id}/messages"}}


def inbox_summary(backend: Backend, actor: Actor) -> dict[str, Any]:
    base = actor.api_server.rstrip("/")
    return {"messages": backend.queues.inbox_depth(actor.tenant, actor.id),
            "_links": {"self": f"{base}/actors/{actor.id}/messages", "owner": f"{base}/profiles/v2/{actor.owner}"}}
