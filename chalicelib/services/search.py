"""Search over actors, workers, executions and logs of the caller's tenant (reference §1.12).

Records are the displayed objects (what a client sees, with ``_links``), filtered, ranked and paged by
the pure ``chalicelib.domain.query`` module. They are read a window at a time, never a tenant's whole
history: a request reads at most ``SCAN_BUDGET`` records (``LOG_BUDGET`` logs), from the narrowest source
its filters allow: an owner or image filter on actors reads that index, a tenant-wide execution search
reads the tenant's time index (a time range on ``message_received_time`` is its key condition), an
actor's executions read that actor's partition. Within a window records keep creation order (relevance
first with ``search``), ``skip`` and ``limit`` page them, and ``total_count`` counts its matches (exact
when one window holds the whole source). ``_metadata.next_cursor`` (and the ``next`` link) names the
window and the offset in it where the next page starts, or the next window.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from chalicelib.domain import query as language
from chalicelib.domain.access import Kind, Level
from chalicelib.domain.errors import BadRequest
from chalicelib.domain.models import Actor, Execution
from chalicelib.domain.paging import decode_cursor, encode_cursor
from chalicelib.identity.auth import Caller
from chalicelib.services import actors as actor_service
from chalicelib.services import executions as execution_service
from chalicelib.services import fanout
from chalicelib.services import workers as worker_service
from chalicelib.wiring.backend import Backend

TYPES = ("actors", "workers", "executions", "logs")
SCAN_BUDGET = 2_000  # records one search request reads at most (a few DynamoDB pages)
LOG_BUDGET = 100  # log documents one request reads at most (one query each)
_CREATED = {"actors": "create_time", "executions": "message_received_time"}
Params = Mapping[str, str | Sequence[str]]
Row = tuple[dict[str, Any], dict[str, Any] | None]  # a displayed record and its position
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # chalicelib.domain.models.utcnow


def run(backend: Backend, caller: Caller, search_type: str, params: Params, actor: Actor | None = None,
        execution: Execution | None = None, link: str = "") -> dict[str, Any]:
    """Search one type; ``actor`` (and ``execution`` for logs) narrow the scope for the collection forms;
    ``link`` is the collection's path, for the ``next`` link."""
    kind = search_type.lower()
    if kind not in TYPES:
        raise BadRequest(f"Inputted search_type is invalid, must be one of {list(TYPES)}.")
    query = language.parse_query(params)  # a bad query is refused before anything is read
    state = decode_cursor(query.cursor) or {}
    start, offset = state.get("s"), _offset(state) + query.skip
    rows = _rows(backend, caller, kind, query, start, actor, execution)
    records, end = _window(rows, query, LOG_BUDGET if kind == "logs" else SCAN_BUDGET)
    if kind in _CREATED:  # creation order within the window, as the whole-tenant lists were
        records.sort(key=lambda record: str(record.get(_CREATED[kind]) or ""))
    result = language.run(records, replace(query, conditions=(), skip=offset))
    served = offset + result["_metadata"]["count_returned"]
    following = None
    if served < result["_metadata"]["total_count"]:
        following = {"s": start, "o": served}  # the same window again, further on
    elif end is not None:
        following = {"s": end, "o": 0}  # the next window
    result["_metadata"]["records_skipped"] = query.skip
    cursor = encode_cursor(following)
    result["_metadata"]["next_cursor"] = cursor
    result["_metadata"]["next"] = _next_link(backend, link or f"/actors/search/{kind}", params, cursor)
    return result  # the view converts the metadata and each record in camel mode (keys=SEARCH)


def _offset(state: dict[str, Any]) -> int:
    offset = state.get("o", 0)
    if not isinstance(offset, int) or offset < 0:
        raise BadRequest("cursor is not valid; use the value of _metadata.next_cursor.")
    return offset


def _window(rows: Iterable[Row], query: language.Query, budget: int) -> tuple[list[dict[str, Any]], Any]:
    """The matching records among the next ``budget`` read (a window: the same start reads the same
    window again), and the position after the last one read (None when the source ended)."""
    matches: list[dict[str, Any]] = []
    for read, (record, position) in enumerate(rows, start=1):
        if all(language.matches(record, c) for c in query.conditions):
            matches.append(record)
        if read >= budget:
            return matches, position
    return matches, None


def _rows(backend: Backend, caller: Caller, kind: str, query: language.Query, start: dict[str, Any] | None,
          actor: Actor | None, execution: Execution | None) -> Iterator[Row]:
    if kind == "actors":
        return _actor_rows(backend, caller, query, start)
    if kind == "workers":
        return ((record, None) for record in _worker_records(backend, caller, actor))
    if execution is not None and actor is not None:
        return iter([(_log_record(backend, actor, execution), None)])
    executions = _execution_rows(backend, caller, query, start, actor)
    if kind == "executions":
        return ((execution_service.display(e), position) for e, position in executions)
    return _log_rows(backend, caller, actor, executions)


def _allowed(backend: Backend, caller: Caller) -> set[str] | None:
    """The actor ids the caller may READ (None: all of the tenant, for admins). One index query."""
    if caller.is_admin:
        return None
    granted = backend.permissions.granted(Kind.ACTOR, caller.tenant, caller.username)
    return {name for name, level in granted.items() if level >= Level.READ}


def _equal_to(query: language.Query, field: str) -> str | None:
    for condition in query.conditions:
        if condition.path == (field,) and condition.op == "eq":
            return condition.raw
    return None


def _actor_rows(backend: Backend, caller: Caller, query: language.Query,
                start: dict[str, Any] | None) -> Iterator[Row]:
    allowed = _allowed(backend, caller)
    owner, image = _equal_to(query, "owner"), _equal_to(query, "image")
    for found, position in backend.actors.walk(caller.tenant, start, owner=owner,
                                               image=None if owner else image):
        if allowed is None or found.id in allowed:
            yield actor_service.display(found), position


def _execution_rows(backend: Backend, caller: Caller, query: language.Query, start: dict[str, Any] | None,
                    actor: Actor | None) -> Iterator[tuple[Execution, dict[str, Any]]]:
    if actor is not None:
        yield from backend.executions.walk(actor.dbid, start)
        return
    allowed = _allowed(backend, caller)
    since, until = _time_range(query)
    for found, position in backend.executions.walk_tenant(caller.tenant, start, since, until):
        if allowed is None or found.actor_id in allowed:
            yield found, position


def _time_range(query: language.Query) -> tuple[str, str]:
    """The bounds a query puts on ``message_received_time`` (the time index's sort key), as stored."""
    low, high = "0", "~"  # every stored time sorts between these (a key value may not be empty)
    for condition in query.conditions:
        if condition.path != ("message_received_time",):
            continue
        value = condition.value
        if condition.op == "between" and all(isinstance(v, dt.datetime) for v in value):
            low, high = max(low, _stored(value[0])), min(high, _stored(value[1]))
        elif isinstance(value, dt.datetime) and condition.op in ("gt", "gte", "eq"):
            low = max(low, _stored(value))
        if isinstance(value, dt.datetime) and condition.op in ("lt", "lte", "eq"):
            high = min(high, _stored(value + dt.timedelta(microseconds=1)))
    return low, high


def _stored(moment: dt.datetime) -> str:
    return moment.strftime(_TIME_FORMAT)


def _log_rows(backend: Backend, caller: Caller, actor: Actor | None,
              executions: Iterator[tuple[Execution, dict[str, Any]]]) -> Iterator[Row]:
    for found, position in executions:
        owner = actor or backend.actors.find_live(caller.tenant, found.actor_id)
        if owner is not None:
            yield _log_record(backend, owner, found), position


def _worker_records(backend: Backend, caller: Caller, actor: Actor | None) -> Iterator[dict[str, Any]]:
    """Workers are live state (a few per actor), not history: every visible actor's, read side by side."""
    actors = [actor] if actor is not None else actor_service.list_actors(backend, caller)

    def of_actor(one: Actor) -> list[dict[str, Any]]:
        return [worker_service.display(w, api_server=one.api_server) for w in backend.workers.list(one.dbid)]

    for records in fanout.each(of_actor, actors):
        yield from records


def _log_record(backend: Backend, actor: Actor, execution: Execution) -> dict[str, Any]:
    """Abaco's log document (``logs`` and ``_links``), plus the ids it left to be read from the links."""
    return {"execution_id": execution.id, "actor_id": actor.id,
            **execution_service.log_record(backend, actor, execution)}


def _next_link(backend: Backend, path: str, params: Params, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    kept = [(k, v) for k, values in params.items() if k not in ("cursor", "skip")
            for v in ([values] if isinstance(values, str) else values)]
    return f"{backend.settings.api_server.rstrip('/')}{path}?{urlencode([*kept, ('cursor', cursor)])}"
