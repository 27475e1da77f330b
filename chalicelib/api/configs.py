"""Actor configs and secrets (reference §1.11)."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import context, fields
from chalicelib.domain import query
from chalicelib.domain.access import Level, Scope, needs
from chalicelib.edge import http
from chalicelib.edge.envelope import SEARCH
from chalicelib.edge.http import Ok, route
from chalicelib.services import configs

bp = Blueprint(__name__)


@needs(Level.NONE, Scope.AUTHENTICATED)
def list_configs(request: Any) -> Ok:
    backend, caller = context(request)
    params = http.query_lists(request)
    if query.is_search(params):  # limit, skip, cursor or filters: one page in the paged envelope
        return Ok(configs.page(backend, caller, params), "Actor Configs retrieved successfully.", keys=SEARCH)
    return Ok([configs.display(c) for c in configs.list_configs(backend, caller)],
              "Actor Configs retrieved successfully.")


@needs(Level.NONE, Scope.AUTHENTICATED)
def create_config(request: Any) -> Ok:
    backend, caller = context(request)
    return Ok(configs.display(configs.create(backend, caller, fields(request))), "Actor config created successfully.")


@needs(Level.READ, Scope.CONFIG)
def get_config(request: Any, config_name: str) -> Ok:
    backend, caller = context(request)
    return Ok(configs.display(configs.get(backend, caller, config_name)), "Config retrieved successfully.")


@needs(Level.UPDATE, Scope.CONFIG)
def update_config(request: Any, config_name: str) -> Ok:
    backend, caller = context(request)
    return Ok(configs.display(configs.update(backend, caller, config_name, fields(request))),
              "Actor config updated successfully.")


@needs(Level.UPDATE, Scope.CONFIG)
def delete_config(request: Any, config_name: str) -> Ok:
    backend, caller = context(request)
    configs.delete(backend, caller, config_name)
    return Ok(None, f"Actor config {config_name} deleted successfully.")


route(bp, "/actors/configs", GET=list_configs, POST=create_config)
route(bp, "/actors/configs/{config_name}", GET=get_config, PUT=update_config, DELETE=delete_config)
