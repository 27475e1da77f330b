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
import itertools
from collections.abc import Iterator
from typing import Any

from chalicelib.domain import query as language
from chalicelib.domain.access import Kind, Level
from chalicelib.domain.errors import BadRequest
from chalicelib.domain.models import Actor, Execution
from chalicelib.identity.auth import Caller
from chalicelib.services import actors as actor_service
from chalicelib.services import executions as execution_service
from chalicelib.services import fanout, paged
from chalicelib.services import workers as worker_service
from chalicelib.services.paged import Params, Row
from chalicelib.wiring.backend import Backend

TYPES = ("actors", "workers", "executions", "logs")
LOG_BUDGET = 100  # log documents one request reads at most (one query each)
WORKER_ACTORS = 100  # actors whose workers one tenant-wide worker search reads (one query each, side by side)
_CREATED = {"actors": "create_time", "executions": "message_received_time"}
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # chalicelib.domain.models.utcnow


def run(backend: Backend, caller: Caller, search_type: str, params: Params, actor: Actor | None = None,
        execution: Execution | None = None, link: str = "") -> dict[str, Any]:
    """Search one type; ``actor`` (and ``execution`` for logs) narrow the scope for the collection forms;
    ``link`` is the collection's path, for the ``next`` link."""
    kind = search_type.lower()
    if kind not in TYPES:
        raise BadRequest(f"Inputted search_type is invalid, must be one of {list(TYPES)}.")
    query = language.parse_query(params)  # a bad query is refused before anything is read

    def rows(start: dict[str, Any] | None) -> Iterator[Row]:
        return _rows(backend, caller, kind, query, start, actor, execution)

    budget = {"logs": LOG_BUDGET, "workers": 1}.get(kind, paged.SCAN_BUDGET)  # workers: one group of actors
    return paged.page(backend, params, rows, link or f"/actors/search/{kind}", budget, _CREATED.get(kind), query)


def _rows(backend: Backend, caller: Caller, kind: str, query: language.Query, start: dict[str, Any] | None,
          actor: Actor | None, execution: Execution | None) -> Iterator[Row]:
    if kind == "actors":
        return _actor_rows(backend, caller, query, start)
    if kind == "workers":
        return _worker_rows(backend, caller, actor, start)
    if execution is not None and actor is not None:
        return iter([(_log_record(backend, actor, execution), None)])
    executions = _execution_rows(backend, caller, query, start, actor)
    if kind == "executions":
        return ((execution_service.display(e) if e else None, position) for e, position in executions)
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
        visible = allowed is None or found.id in allowed  # an invisible one counts as read: bounded windows
        yield (actor_service.display(found) if visible else None), position


def _execution_rows(backend: Backend, caller: Caller, query: language.Query, start: dict[str, Any] | None,
                    actor: Actor | None) -> Iterator[tuple[Execution | None, dict[str, Any]]]:
    if actor is not None:
        yield from backend.executions.walk(actor.dbid, start)
        return
    allowed = _allowed(backend, caller)
    since, until = _time_range(query)
    for found, position in backend.executions.walk_tenant(caller.tenant, start, since, until):
        yield (found if allowed is None or found.actor_id in allowed else None), position  # read: counted


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
              executions: Iterator[tuple[Execution | None, dict[str, Any]]]) -> Iterator[Row]:
    for found, position in executions:
        owner = None if found is None else actor or backend.actors.find_live(caller.tenant, found.actor_id)
        yield (None if owner is None or found is None else _log_record(backend, owner, found)), position


def _worker_rows(backend: Backend, caller: Caller, actor: Actor | None,
                 start: dict[str, Any] | None) -> Iterator[Row]:
    """Workers are live state (a few per actor), not history: one actor's all, or the tenant's read
    ``WORKER_ACTORS`` visible actors at a time (side by side), each group ending at its last actor's position."""
    if actor is not None:
        for worker in backend.workers.list(actor.dbid):
            yield worker_service.display(worker, api_server=actor.api_server), None
        return
    allowed = _allowed(backend, caller)
    walked = backend.actors.walk(caller.tenant, start)
    while group := list(itertools.islice(walked, WORKER_ACTORS)):  # counted whether visible or not
        visible = [one for one, _ in group if allowed is None or one.id in allowed]
        found = fanout.each(lambda one: backend.workers.list(one.dbid), visible)
        records = [worker_service.display(w, api_server=one.api_server)
                   for one, workers in zip(visible, found, strict=True) for w in workers]
        for record in records[:-1]:
            yield record, None
        yield (records[-1] if records else None), group[-1][1]


def _log_record(backend: Backend, actor: Actor, execution: Execution) -> dict[str, Any]:
    """Abaco's log document (``logs`` and ``_links``), plus the ids it left to be read from the links."""
    return {"execution_id": execution.id, "actor_id": actor.id,
            **execution_service.log_record(backend, actor, execution)}
