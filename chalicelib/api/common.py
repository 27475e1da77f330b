"""Helpers every view uses: the backend, the caller, body fields, the actor named in the path."""
from __future__ import annotations

from typing import Any

from chalicelib import http
from chalicelib.auth import Caller, identify
from chalicelib.backend import Backend, get_backend
from chalicelib.envelope import to_snake
from chalicelib.models import Actor
from chalicelib.services import actors


def context(request: Any) -> tuple[Backend, Caller]:
    backend = get_backend()
    return backend, identify(request.headers, backend.settings)


def fields(request: Any) -> dict[str, Any]:
    """Body fields with camelCase names accepted as their snake_case twins."""
    return {to_snake(k): v for k, v in http.body_fields(request).items()}


def actor_in_path(request: Any, identifier: str) -> tuple[Backend, Caller, Actor]:
    backend, caller = context(request)
    return backend, caller, actors.get(backend, caller, identifier)
