"""Workers (reference §1.7); with query parameters the collection is a search."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import actor_in_path, fields
from chalicelib.domain import query
from chalicelib.domain.access import Level, Scope, needs
from chalicelib.edge import http
from chalicelib.edge.envelope import SEARCH
from chalicelib.edge.http import Ok, route
from chalicelib.services import search as search_service
from chalicelib.services import workers

bp = Blueprint(__name__)


@needs(Level.READ)
def list_workers(request: Any, actor_id: str) -> Ok:
    backend, caller, actor = actor_in_path(request, actor_id)
    params = http.query_lists(request)
    if query.is_search(params):
        return Ok(search_service.run(backend, caller, "workers", params, actor=actor),
                  "Workers search completed successfully.", keys=SEARCH)
    return Ok(workers.list_workers(backend, actor), "Workers retrieved successfully.")


@needs(Level.UPDATE, Scope.ACTOR_ADMIN)
def add_workers(request: Any, actor_id: str) -> Ok:
    backend, _, actor = actor_in_path(request, actor_id)
    return Ok(None, workers.add_workers(backend, actor, fields(request)))


@needs(Level.READ)
def get_worker(request: Any, actor_id: str, worker_id: str) -> Ok:
    backend, _, actor = actor_in_path(request, actor_id)
    return Ok(workers.get_worker(backend, actor, worker_id), "Worker retrieved successfully.")


@needs(Level.UPDATE, Scope.ACTOR_ADMIN)
def delete_worker(request: Any, actor_id: str, worker_id: str) -> Ok:
    backend, _, actor = actor_in_path(request, actor_id)
    workers.stop_worker(backend, actor, worker_id)
    return Ok(None, "Worker scheduled to be stopped.")


route(bp, "/actors/{actor_id}/workers", GET=list_workers, POST=add_workers)
route(bp, "/actors/{actor_id}/workers/{worker_id}", GET=get_worker, DELETE=delete_worker)
