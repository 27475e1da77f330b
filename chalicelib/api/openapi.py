"""The OpenAPI document of the whole API (raw JSON, not wrapped in the envelope)."""
from __future__ import annotations

import json
from typing import Any

from chalice import Blueprint

from chalicelib.domain.access import Level, Scope, needs, required
from chalicelib.edge import http, openapi
from chalicelib.edge.http import Raw, route
from chalicelib.edge.openapi.links import scopes_of
from chalicelib.wiring.settings import get_settings

bp = Blueprint(__name__)


@needs(Level.NONE, Scope.AUTHENTICATED)
def get_openapi(request: Any) -> Raw:
    settings = get_settings()
    doc = openapi.document(settings.api_server, settings.version, http.SERVED,
                           scopes_of(http.REGISTERED, required), tuple(settings.pool_names))
    return Raw(json.dumps(doc), "application/json")


route(bp, "/actors/openapi.json", GET=get_openapi)
