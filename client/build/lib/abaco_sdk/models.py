"""What the SDK returns: dicts with attribute access, typed per object.

tapipy returned ``TapisResult`` objects read as ``actor.id``; notebooks written that way keep working.
Each record is also a plain ``dict`` (JSON-serialisable, ``record["id"]``). Attribute reads accept the
snake_case name whatever case the server uses, so ``execution.exit_code`` reads ``exitCode`` on an API
configured with ``case=camel``.
"""
from __future__ import annotations

import re
from typing import Any

TERMINAL_EXECUTION_STATUSES = frozenset({"COMPLETE", "ERROR"})


def _camel(name: str) -> str:
    stripped = name.lstrip("_")
    prefix = name[: len(name) - len(stripped)]
    return prefix + re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), stripped)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "_" + m.group(1).lower(), name)


class Record(dict):
    """A JSON object with attribute access (snake or camel names)."""

    def __getattr__(self, name: str) -> Any:
        for key in (name, _camel(name), _snake(name)):
            if key in self:
                return wrap(self[key])
        raise AttributeError(f"{type(self).__name__} has no field {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def get_field(self, name: str, default: Any = None) -> Any:
        """Like ``dict.get`` but accepting the snake_case name in camel mode too."""
        try:
            return getattr(self, name)
        except AttributeError:
            return default


def wrap(value: Any, cls: type[Record] = Record) -> Any:
    """Dicts become records (nested ones plain ``Record``), lists are wrapped item by item."""
    if isinstance(value, Record):
        return value
    if isinstance(value, dict):
        return cls(value)
    if isinstance(value, list):
        return [wrap(item, cls) for item in value]
    return value


class Actor(Record):
    id: str
    name: str | None
    image: str
    owner: str
    status: str
    status_message: str
    stateless: bool
    description: str
    default_environment: dict[str, Any]
    hints: list[str]
    max_workers: int | None
    revision: int
    create_time: str
    last_update_time: str
    cron_schedule: str | None
    cron_on: bool
    link: str
    webhook: str


class SentMessage(Record):
    execution_id: str
    msg: Any


class Execution(Record):
    id: str
    actor_id: str
    status: str
    status_message: str
    executor: str
    worker_id: str | None
    message_received_time: str
    start_time: str | None
    finish_time: str | None
    runtime: int
    cpu: int
    io: int
    exit_code: int | None
    final_state: dict[str, Any]

    @property
    def finished(self) -> bool:
        return self.get_field("status") in TERMINAL_EXECUTION_STATUSES


class ExecutionsSummary(Record):
    actor_id: str
    total_executions: int
    total_cpu: int
    total_io: int
    total_runtime: int
    executions: list[Record]


class Logs(Record):
    logs: str


class Worker(Record):
    id: str
    status: str
    image: str
    create_time: str
    last_execution_time: str | None


class Nonce(Record):
    id: str
    actor_id: str | None
    alias: str | None
    level: str
    max_uses: int
    remaining_uses: int
    current_uses: int


class Alias(Record):
    alias: str
    actor_id: str
    owner: str


class Config(Record):
    name: str
    value: str
    is_secret: bool
    actors: str


class SearchPage(Record):
    search: list[Record]
