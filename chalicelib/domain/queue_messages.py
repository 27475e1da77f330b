"""Versioned, frozen models of what travels on SQS, with encode/decode.

An inbox message carries the reference to its execution and what the container needs; the execution record
in DynamoDB stays the source of truth. A command message asks a runner pool to start a worker.
"""
from __future__ import annotations

import json
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

INBOX_VERSION = 1
COMMAND_VERSION = 1
EVENT_VERSION = 1


class DecodeError(ValueError):
    """A message on one of our queues that is not ours or not of a version we know (a poison message)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def encode(self) -> str:
        return self.model_dump_json()

    @classmethod
    def decode(cls, raw: str) -> Self:
        """The model in ``raw``, or DecodeError: whatever fails to parse or validate is a poison message."""
        try:
            return cls.model_validate(json.loads(raw))
        except (ValueError, ValidationError) as exc:
            raise DecodeError(f"not a {cls.__name__} v1: {exc}") from exc


class InboxMessage(_Frozen):
    v: Literal[1] = INBOX_VERSION
    tenant: str
    actor_id: str
    execution_id: str
    content_type: Literal["str", "application/json", "application/octet-stream"] = "str"
    # Inline payload (text or JSON text), or an S3 key when it is binary or too large for SQS.
    body: str | None = None
    s3_key: str | None = None
    size: int = 0
    sha256: str | None = None
    env: dict[str, str] = Field(default_factory=dict)  # query parameters and the API-set _abaco_* values
    executor: str = ""
    sent_at: float = 0.0


class StartWorkerCommand(_Frozen):
    v: Literal[1] = COMMAND_VERSION
    kind: Literal["start_worker"] = "start_worker"
    tenant: str
    actor_id: str
    worker_id: str
    image: str
    revision: int
    stop_existing: bool = False


class EventMessage(_Frozen):
    """An actor or execution event for the events queue; ``event`` is Abaco's event JSON (reference §4.8)."""

    v: Literal[1] = EVENT_VERSION
    kind: Literal["event"] = "event"
    tenant: str
    actor_id: str
    link: str = ""
    webhook: str = ""
    event: dict[str, Any]

