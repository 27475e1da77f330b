"""Typed access to the execution context: ``get_typed_context()`` returns a frozen dataclass.

``get_context()`` keeps agavepy's dict (``context["message_dict"]``) for code written for TACC's Abaco; new
code can use ``ActorContext`` for attribute names an editor completes and a type checker verifies. Both
read the same environment the worker sets (abaco-api.md section 3.1).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

CONTENT_TYPE_BINARY = "application/octet-stream"
CONTENT_TYPE_JSON = "application/json"


@dataclass(frozen=True)
class ActorContext:
    """One execution as the container sees it. ``access_token`` is left out of ``repr`` (logs)."""

    actor_id: str | None
    execution_id: str | None
    raw_message: str | None
    message: Any
    message_dict: dict[str, Any]
    content_type: str | None
    username: str | None
    actor_dbid: str | None
    actor_name: str | None
    actor_repo: str | None
    actor_revision: int | None
    worker_id: str | None
    api_server: str | None
    jwt_header_name: str | None
    execution_attempt: int | None
    state: Any
    configs: dict[str, Any]
    environment: dict[str, str]
    access_token: str | None = field(default=None, repr=False)

    @property
    def is_binary(self) -> bool:
        """True when the message is bytes to read with ``get_binary_message()`` (``MSG`` is then unset)."""
        return self.content_type == CONTENT_TYPE_BINARY

    @property
    def is_json(self) -> bool:
        return self.content_type == CONTENT_TYPE_JSON


def typed_context(context: Mapping[str, Any]) -> ActorContext:
    """The dataclass view of a ``get_context()`` dict."""
    configs = context.get("configs")
    return ActorContext(
        actor_id=context.get("actor_id"),
        execution_id=context.get("execution_id"),
        raw_message=context.get("raw_message"),
        message=context.get("message"),
        message_dict=dict(context.get("message_dict") or {}),
        content_type=context.get("content_type"),
        username=context.get("username"),
        actor_dbid=context.get("actor_dbid"),
        actor_name=context.get("actor_name"),
        actor_repo=context.get("actor_repo"),
        actor_revision=_to_int(context.get("actor_revision")),
        worker_id=context.get("worker_id"),
        api_server=context.get("api_server"),
        jwt_header_name=context.get("jwt_header_name"),
        execution_attempt=_to_int(context.get("execution_attempt")),
        state=context.get("state"),
        configs=dict(configs) if isinstance(configs, dict) else {},
        environment=dict(context.get("environment") or {}),
        access_token=context.get("access_token") or None,
    )


def _to_int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
