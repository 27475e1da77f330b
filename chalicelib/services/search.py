"""Search over actors, workers, executions and logs of the caller's tenant (reference §1.12).

Records are the displayed objects (what a client sees, with ``_links``), loaded with tenant-scoped
queries (each table is keyed by tenant or by actor), then filtered, ranked and paged by the pure
``chalicelib.domain.query`` module. The collection GETs with query parameters call this with a scope.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from chalicelib.domain import query as language
from chalicelib.domain.errors import BadRequest
from chalicelib.domain.models import Actor, Execution
from chalicelib.identity.auth import Caller
from chalicelib.services import actors as actor_service
from chalicelib.services import executions as execution_service
from chalicelib.services import fanout
from chalicelib.services import workers as worker_service
from chalicelib.wiring.backend import Backend

TYPES = ("actors", "workers", "executions", "logs")
Params = Mapping[str, str | Sequence[str]]


def run(backend: Backend, caller: Caller, search_type: str, params: Params, actor: Actor | None = None,
        execution: Execution | None = None) -> dict[str, Any]:
    """Search one type; ``actor`` (and ``execution`` for logs) narrow the scope for the collection forms."""
    kind = search_type.lower()
    if kind not in TYPES:
        raise BadRequest(f"Inputted search_type is invalid, must be one of {list(TYPES)}.")
    query = language.parse_query(params)  # a bad query is refused before anything is read
    actors = [actor] if actor is not None else _visible_actors(backend, caller)
    result = language.run(_records(backend, kind, actors, execution), query)
    return result


def _visible_actors(backend: Backend, caller: Caller) -> list[Actor]:
    """The actors whose records the caller may see: those it may READ (admins: the whole tenant)."""
    return actor_service.list_actors(backend, caller)


def _records(backend: Backend, kind: str, actors: list[Actor], execution: Execution | None) -> Iterator[dict]:
    """The displayed records of every actor in scope, in actor then creation order."""
    if kind == "actors":
        yield from (actor_service.display(a) for a in actors)
        return

    def of_actor(actor: Actor) -> list[dict[str, Any]]:
        if kind == "workers":
            return [worker_service.display(w, api_server=actor.api_server) for w in backend.workers.list(actor.dbid)]
        executions = [execution] if execution is not None else backend.executions.list(actor.dbid)
        if kind == "executions":
            return [execution_service.display(e) for e in executions]
        return [_log_record(backend, actor, e) for e in executions]

    for records in fanout.each(of_actor, actors):
        yield from records


def _log_record(backend: Backend, actor: Actor, execution: Execution) -> dict[str, Any]:
    """Abaco's log document (``logs`` and ``_links``), plus the ids it left to be read from the links."""
    return {"execution_id": execution.id, "actor_id": actor.id,
            **execution_service.log_record(backend, actor, execution)}
