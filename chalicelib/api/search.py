"""Search (reference §1.12)."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import context
from chalicelib.domain.access import Level, Scope, needs
from chalicelib.edge import http
from chalicelib.edge.envelope import SEARCH
from chalicelib.edge.http import Ok, route
from chalicelib.services import search

bp = Blueprint(__name__)


@needs(Level.NONE, Scope.AUTHENTICATED)  # results are limited to what the caller may read
def run_search(request: Any, search_type: str) -> Ok:
    backend, caller = context(request)
    return Ok(search.run(backend, caller, search_type, http.query_lists(request)), "Search completed successfully.",
              keys=SEARCH)


route(bp, "/actors/search/{search_type}", GET=run_search)
