"""Executions: the summary, detail, force-quit, results, logs, the legacy POST, and the wait behind a
synchronous message (reference §1.4, §1.5)."""
from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationInfo

from chalicelib.adapters.storage.logs import execution_key
from chalicelib.domain import bodies, ids, inputs
from chalicelib.domain.errors import BadRequest, Conflict, ExecutionFailed, Timeout
from chalicelib.domain.models import Actor, Execution, ExecutionStatus, utcnow
from chalicelib.domain.paging import next_link
from chalicelib.domain.responses import ExecutionResponse, ExecutionsSummaryResponse, made, shown
from chalicelib.identity.auth import Caller
from chalicelib.services import fanout
from chalicelib.wiring.backend import Backend

_TERMINAL = (ExecutionStatus.COMPLETE, ExecutionStatus.ERROR)
# How a waiting request (a synchronous message, GET execution with ``wait``) checks its execution: soon
# after the POST (a warm no-op finishes in about 100 ms), then ever less often up to SYNC_POLL_SECONDS, so a
# short execution is seen within a few percent of its end and a long one costs a read per 200 ms (Abaco
# polled every 0.1 s). A read is a strongly consistent GetItem: the terminal write must be seen at once.
SYNC_FIRST_POLL_SECONDS = 0.01
SYNC_POLL_GROWTH = 1.15
SYNC_POLL_SECONDS = 0.2
LEGACY_PREFIX = "Invalid actor execution description"
SUMMARY_LIMIT = 1000  # executions listed by a summary without ``limit`` (the totals count them all)


def summary(backend: Backend, actor: Actor, limit: int = SUMMARY_LIMIT, cursor: str | None = None) -> dict[str, Any]:
    """Abaco's executions summary, bounded: the list is one page (``limit``, ``cursor``) with ``_metadata``
    and its ``next`` link; the totals are summed from it when it holds the whole history (as Abaco did,
    open executions included), else they are the actor's counters, which each terminal write adds to
    (finished executions only: an open one counts once it ends)."""
    page = backend.executions.page(actor.dbid, limit, cursor)
    executions = sorted(page.items, key=lambda e: e.created_ns)
    totals = _totals(backend, actor, page.items if cursor is None and page.cursor is None else None)
    base = actor.api_server.rstrip("/")
    path = f"{base}/actors/{actor.id}/executions"
    return {
        # Abaco converts the executions' items in camel mode: the view says so
        **made(ExecutionsSummaryResponse, actor_id=actor.id, api_server=actor.api_server, owner=actor.owner,
               **totals, executions=executions, ids=[e.id for e in executions]),
        "_links": {"self": path, "owner": f"{base}/profiles/v2/{actor.owner}"},
        "_metadata": {"record_limit": limit, "count_returned": len(executions), "next_cursor": page.cursor,
                      "next": next_link(path, limit, page.cursor)},
    }


def totals(backend: Backend, actor: Actor) -> dict[str, int]:
    """An actor's totals in a bounded number of reads: summed from its executions when one page of
    ``SUMMARY_LIMIT`` holds them all (open ones included, as Abaco counted), else its counters."""
    page = backend.executions.page(actor.dbid, SUMMARY_LIMIT)
    return _totals(backend, actor, page.items if page.cursor is None else None)


def counters(backend: Backend, actor: Actor) -> dict[str, int]:
    """The counters of the actor's finished executions: those the terminal writes keep
    (``chalicelib/adapters/storage/totals.py``) and those earlier releases kept on the actor item."""
    kept, earlier = backend.executions.totals(actor.dbid), backend.actors.totals(actor.tenant, actor.id)
    return {name: kept[name] + earlier[name] for name in kept}


def _totals(backend: Backend, actor: Actor, every: list[Execution] | None) -> dict[str, int]:
    if every is None:
        return counters(backend, actor)
    return {"total_executions": len(every), "total_cpu": sum(e.cpu for e in every),
            "total_io": sum(e.io for e in every), "total_runtime": sum(e.runtime for e in every)}


def get(backend: Backend, actor: Actor, execution_id: str) -> Execution:
    return backend.executions.get(actor.dbid, execution_id)


def display(execution: Execution) -> dict[str, Any]:
    data = shown(ExecutionResponse, execution)  # an allow-list: chalicelib/domain/responses.py
    base = execution.api_server.rstrip("/")
    path = f"{base}/actors/{execution.actor_id}/executions/{execution.id}"
    data["_links"] = {"self": path, "logs": f"{path}/logs", "owner": f"{base}/profiles/v2/{execution.executor}"}
    return data


def logs(backend: Backend, actor: Actor, execution_id: str) -> dict[str, Any]:
    return log_record(backend, actor, get(backend, actor, execution_id))


def log_record(backend: Backend, actor: Actor, execution: Execution) -> dict[str, Any]:
    base = actor.api_server.rstrip("/")
    path = f"{base}/actors/{actor.id}/executions/{execution.id}"
    return {"logs": backend.logs.read(execution_key(actor.dbid, execution.id)),
            "_links": {"self": f"{path}/logs", "execution": path, "owner": f"{base}/profiles/v2/{actor.owner}"}}


def force_quit(backend: Backend, actor: Actor, execution_id: str) -> str:
    """Ask the runner to stop a RUNNING execution's container; it then ends COMPLETE (as in Abaco)."""
    execution = get(backend, actor, execution_id)
    if execution.status != ExecutionStatus.RUNNING:
        raise BadRequest(f"Cannot force quit an execution not in RUNNING status. Execution was found in status: "
                         f"{execution.status.value}")
    try:
        backend.executions.request_force_quit(execution)
    except Conflict as exc:
        raise BadRequest("Cannot force quit an execution not in RUNNING status: it just finished.") from exc
    return f"Issued force quit command for execution {execution_id}."


def pop_result(backend: Backend, actor: Actor, execution_id: str) -> bytes:
    """One result (raw bytes) or b"" when none is waiting; each call consumes one."""
    execution = get(backend, actor, execution_id)
    return backend.results.pop(execution_key(actor.dbid, execution.id)) or b""


def _count(value: Any, info: ValidationInfo) -> int:
    name = str(info.field_name)
    if value in (None, ""):
        raise BadRequest(f"{LEGACY_PREFIX}: {name}: Missing required parameter in the JSON body or the post "
                         "body or the query string")
    return inputs.as_int(value, name, LEGACY_PREFIX, minimum=0) or 0


Count = bodies.checked(int, _count, bodies.integer_schema(0, optional=False))


class ExecutionInput(bodies.Body):
    runtime: Count
    cpu: Count
    io: Count


def record_legacy(backend: Backend, caller: Caller, actor: Actor, body: dict[str, Any]) -> Execution:
    """Abaco's POST /actors/{id}/executions: record a finished execution with the given accounting."""
    numbers = ExecutionInput.of(body).model_dump()
    now = utcnow()
    execution = Execution(tenant=actor.tenant, actor_id=actor.id, id=ids.new_id(), executor=caller.username,
                          api_server=actor.api_server, status=ExecutionStatus.COMPLETE, start_time=now,
                          finish_time=now, status_message="recorded through POST /executions",
                          created_ns=time.time_ns(), **numbers)
    backend.executions.create(execution)
    return execution


@dataclass(frozen=True)
class SyncOutcome:
    """What a synchronous message returns: the first result (bytes) if the actor sent one, else its logs."""

    execution: Execution
    result: bytes | None
    logs: str


def wait_synchronous(backend: Backend, actor: Actor, execution_id: str, timeout: float) -> SyncOutcome:
    """Wait until the execution is terminal, within ``timeout`` seconds (below API Gateway's 29 s)."""
    execution = wait_terminal(backend, actor, execution_id, timeout)
    if execution.status not in _TERMINAL:
        raise Timeout(f"Execution {execution_id} did not finish within {timeout:g} seconds; it goes on. Poll "
                      f"/actors/{actor.id}/executions/{execution_id} and fetch its logs or results later.")
    key = execution_key(actor.dbid, execution_id)
    if execution.status == ExecutionStatus.ERROR:
        raise ExecutionFailed(f"Execution {execution_id} ended in ERROR: {execution.status_message}")
    # The logs beside the results' pop (one round trip less before the answer), and neither when the
    # terminal write says the attempt stored none (``Execution.log_bytes``, ``results_stored``).
    logs = None if execution.log_bytes == 0 else fanout.beside(backend.logs.read, key)
    try:
        result = None if execution.results_stored == 0 else backend.results.pop(key)
    finally:
        text = "" if logs is None else logs.result()
    return SyncOutcome(execution, result, text)


def wait_parameter(raw: str | None, limit: float) -> float | None:
    """GET execution's ``wait`` (seconds to wait for COMPLETE or ERROR): None when absent; more than
    ``limit`` (the synchronous timeout, below API Gateway's 29 s) counts as ``limit``."""
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:  # also NaN
        raise BadRequest("wait must be a number of seconds, 0 or more.")
    return min(seconds, limit)


def wait_terminal(backend: Backend, actor: Actor, execution_id: str, timeout: float) -> Execution:
    """The execution once it is COMPLETE or ERROR, or as it is when ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    for pause in poll_pauses():
        execution = backend.executions.get(actor.dbid, execution_id)
        left = deadline - time.monotonic()
        if execution.status in _TERMINAL or left <= 0:
            return execution
        time.sleep(min(pause, left))
    raise AssertionError("poll_pauses never ends")


def poll_pauses() -> Iterator[float]:
    """Seconds between a waiting request's reads: growing from the first pause to SYNC_POLL_SECONDS."""
    pause = SYNC_FIRST_POLL_SECONDS
    while True:
        yield pause
        pause = min(SYNC_POLL_SECONDS, pause * SYNC_POLL_GROWTH)
