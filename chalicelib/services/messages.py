"""Sending a message: the execution record first, then the inbox, then make sure a worker exists (§1.4).

Bodies up to ``INLINE_BODY_MAX_BYTES`` ride in the SQS message; larger ones and every binary message go
to the payloads bucket with a pointer (key, size, sha256) in the inbox message. Cron and event deliveries
use the same ``submit``.
"""
from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import RootModel

from chalicelib.adapters import payloads, tracing
from chalicelib.adapters.payloads import Pointer
from chalicelib.domain import clock, envnames, ids
from chalicelib.domain.errors import BadRequest, Conflict
from chalicelib.domain.models import Actor, Execution, ExecutionStatus
from chalicelib.domain.queue_messages import InboxMessage
from chalicelib.domain.responses import MessageSentResponse, made
from chalicelib.identity.auth import Caller
from chalicelib.services import workers as worker_service
from chalicelib.wiring.backend import Backend

BINARY = "application/octet-stream"
INLINE_BODY_MAX_BYTES = 65_536  # larger bodies go through S3 (SQS's limit is 256 KiB per message)
INLINE_MESSAGE_MAX_BYTES = 200_000  # an encoded inbox message stays well under SQS's 256 KiB
PURGED = "purged"  # status_message of executions whose message was purged from the inbox
SYNC_MAX_PENDING = 3  # Abaco's intended guard: no synchronous message when more are already waiting


@dataclass(frozen=True)
class ParsedMessage:
    content_type: str  # str | application/json | application/octet-stream
    body: str | None  # the text message, or JSON text for application/json; None for binary
    echo: Any = None  # what the response's ``msg`` shows
    binary: bytes | None = None  # a binary body that came with the request
    staged: Pointer | None = None  # a binary body the local HTTP adapter already streamed to S3


class MessageInput(RootModel[Any]):
    """any JSON value; an object with a message field sends that text"""

    def parsed(self) -> ParsedMessage:
        value = self.root
        if isinstance(value, dict) and "message" in value:
            text = value["message"]
            return _text(text if isinstance(text, str) else str(text), text)  # reqparse's str(), as Abaco
        return ParsedMessage("application/json", json.dumps(value), value)


def parse_message(content_type: str | None, raw: bytes | None, form: Mapping[str, Any] | None,
                  json_body: Any, content_length: str | None = None, staged: Pointer | None = None,
                  max_length: int | None = None) -> ParsedMessage:
    """Abaco's order: a ``message`` field, then a binary body, then a JSON body, then a raw body that must
    be JSON text (a JSON string gives that string)."""
    if form is not None and "message" in form:
        return _text(str(form["message"]))
    if isinstance(json_body, dict) and "message" in json_body:
        return MessageInput(json_body).parsed()
    if content_type == BINARY:
        return _binary(raw, content_length, staged, max_length)
    if json_body is not None:
        return MessageInput(json_body).parsed()
    text = (raw or b"").decode("utf-8", errors="replace")
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise BadRequest("message POST body could not be serialized. Pass JSON data or use the message "
                         "attribute.") from exc
    return _text(value if isinstance(value, str) else repr(value), value)


def _text(text: str, echo: Any = None) -> ParsedMessage:
    return ParsedMessage("str", text, text if echo is None else echo)


def _binary(raw: bytes | None, content_length: str | None, staged: Pointer | None,
            max_length: int | None) -> ParsedMessage:
    if staged is not None:
        return ParsedMessage(BINARY, None, "binary - omitted", staged=staged)
    if not content_length:
        raise BadRequest("Content Length required for application/octet-stream.")
    try:
        length = int(content_length)
    except ValueError as exc:
        raise BadRequest("Content Length must be an integer.") from exc
    if max_length is not None and length > max_length:
        raise BadRequest(f"Message exceeds max content length of: {max_length}")
    return ParsedMessage(BINARY, None, "binary - omitted", binary=raw or b"")


def environment_from_query(query: Mapping[str, str]) -> dict[str, str]:
    """The container variables a message's query parameters set (reference §3.1), or a 400 naming the
    first parameter that is not a plain, unreserved, non-hook name (``chalicelib/domain/envnames.py``).
    ``message`` and ``x-nonce`` are not variables; ``_abaco_synchronous`` passes on, as in Abaco."""
    env: dict[str, str] = {}
    for key, value in query.items():
        if key in envnames.NOT_VARIABLES:
            continue
        problem = None if key in envnames.CONTROL_PARAMETERS else envnames.message_variable_problem(key)
        if problem:
            raise BadRequest(f"Query parameter '{key[:100]}' cannot become an environment variable: it {problem}.")
        if "\x00" in value:
            raise BadRequest(f"Invalid environment variable value in query parameter '{key}'.")
        env[key] = value
    return env


def is_synchronous(query: Mapping[str, str]) -> bool:
    return query.get("_abaco_synchronous", "").strip().lower() == "true"


def check_synchronous(backend: Backend, actor: Actor) -> None:
    """Abaco meant to refuse a synchronous message behind a backlog (its check read the wrong queue)."""
    pending = backend.queues.inbox_depth(actor.tenant, actor.id)
    if pending > SYNC_MAX_PENDING:
        raise BadRequest(f"Cannot issue synchronous execution when actor message queue > {SYNC_MAX_PENDING} "
                         f"({pending} messages are waiting).")


def send(backend: Backend, caller: Caller, actor: Actor, parsed: ParsedMessage,
         query: Mapping[str, str]) -> Execution:
    """Record, enqueue, make sure a worker exists. A crash (or an SQS error, answered with 503) between
    the record and the enqueue leaves the execution SUBMITTED with no message on its inbox: the reconciler
    re-sends its stored message (reliability plan §1.3 step 1)."""
    env = environment_from_query(query)
    env["_abaco_username"] = caller.username
    if caller.jwt_header_name:
        env["_abaco_jwt_header_name"] = caller.jwt_header_name
    return submit(backend, actor, caller.username, parsed, env)


def submit(backend: Backend, actor: Actor, executor: str, parsed: ParsedMessage,
           env: dict[str, str]) -> Execution:
    """Record and enqueue a message for ``actor`` (the API, cron and event deliveries all come here).

    The order that matters is kept: the record before the inbox (the reconciler re-sends what was recorded
    and that SQS does not hold), and the worker check after the inbox (a worker found live is one that will
    see the message; within 2 s of a check that found one taking, for the same revision, there is none:
    ``chalicelib/services/taking.py``). The send is not recorded on the execution: the reconciler asks SQS
    instead (``runners/duties/reconciler.py``), which spares every message a write of its execution."""
    execution, message = record(backend, actor, executor, parsed, env)
    backend.queues.send_inbox(message, tracing.current_header(), actor_version=actor.version)
    worker_service.ensure_worker(backend, actor, wake=True)
    return execution


def record(backend: Backend, actor: Actor, executor: str, parsed: ParsedMessage,
           env: dict[str, str]) -> tuple[Execution, InboxMessage]:
    """Step 1: the execution (SUBMITTED) with the inbox message it will be sent as. A body
    too large to ride inline, and every binary body, is stored in S3 first and the message points at it."""
    execution_id = ids.new_id()
    pointer = _store_payload(backend, actor, parsed)
    env = {**env, "_abaco_api_server": actor.api_server, "_abaco_execution_id": execution_id,
           "_abaco_Content_Type": parsed.content_type}
    now = clock.now()
    message = InboxMessage(tenant=actor.tenant, actor_id=actor.id, execution_id=execution_id,
                           content_type=parsed.content_type,  # type: ignore[arg-type]
                           body=None if pointer else parsed.body, s3_key=pointer.key if pointer else None,
                           size=pointer.size if pointer else len((parsed.body or "").encode()),
                           sha256=pointer.sha256 if pointer else None, env=env, executor=executor, sent_at=now)
    encoded = message.encode()
    if len(encoded.encode()) > INLINE_MESSAGE_MAX_BYTES:
        raise BadRequest("The message's query parameters are too large.")
    execution = Execution(tenant=actor.tenant, actor_id=actor.id, id=execution_id, executor=executor,
                          api_server=actor.api_server, content_type=parsed.content_type,
                          payload_key=pointer.key if pointer else None,
                          created_ns=time.time_ns(), phases={"queued": now},
                          open_pool=worker_service.pool_for(actor, backend.settings), inbox_message=encoded)
    backend.executions.create(execution)
    return execution, message


def _store_payload(backend: Backend, actor: Actor, parsed: ParsedMessage) -> Pointer | None:
    """Binary bodies and text too large to ride inline go to S3; returns the pointer, or None."""
    if parsed.staged is not None:
        return parsed.staged
    if parsed.binary is not None:
        return backend.payloads.put_bytes(payloads.new_key(actor.tenant, actor.id), parsed.binary)
    if len(json.dumps(parsed.body)) <= INLINE_BODY_MAX_BYTES:  # its escaped size bounds its size on SQS
        return None
    return backend.payloads.put_bytes(payloads.new_key(actor.tenant, actor.id), (parsed.body or "").encode())


def display_sent(execution: Execution, parsed: ParsedMessage) -> dict[str, Any]:
    base = execution.api_server.rstrip("/")
    return {**made(MessageSentResponse, execution_id=execution.id, msg=parsed.echo),
            "_links": {"self": f"{base}/actors/{execution.actor_id}/executions/{execution.id}",
                       "owner": f"{base}/profiles/v2/{execution.executor}",
                       "messages": f"{base}/actors/{execution.actor_id}/messages"}}


def inbox_summary(backend: Backend, actor: Actor) -> dict[str, Any]:
    return {"messages": backend.queues.inbox_depth(actor.tenant, actor.id), "_links": _links(actor)}


def purge(backend: Backend, actor: Actor) -> dict[str, Any]:
    """Empty the inbox; every execution still SUBMITTED ends ERROR "purged" (Abaco left them SUBMITTED
    forever). A message that survives the purge (SQS may take up to 60 s) is then dropped by the runner,
    which never runs an execution that is already terminal."""
    try:
        backend.queues.purge_inbox(actor.tenant, actor.id)
    except Conflict:
        pass  # a purge is already in progress (SQS allows one per 60 s); marking the executions suffices
    cutoff = time.time_ns()
    for execution in backend.executions.list(actor.dbid):
        if execution.status != ExecutionStatus.SUBMITTED or execution.created_ns > cutoff:
            continue
        if backend.executions.fail(execution, PURGED, only_from=ExecutionStatus.SUBMITTED) and \
                execution.payload_key:
            backend.payloads.delete(execution.payload_key)
    return {"msg": "Actor mailbox purged.", "_links": _links(actor)}


def _links(actor: Actor) -> dict[str, str]:
    base = actor.api_server.rstrip("/")
    return {"self": f"{base}/actors/{actor.id}/messages", "owner": f"{base}/profiles/v2/{actor.owner}"}
