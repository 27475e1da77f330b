"""The container environment, overlaid in Abaco's order (reference §3.1). Pure logic.

1. the actor's ``default_environment``; 2. the message's variables (query parameters and the API-set
``_abaco_*`` values); 3. the worker-set variables; 4. ``_actor_configs`` and ``MSG``. Dicts and lists
become their Python ``repr``, as Abaco hands Python objects to Docker (``MSG={'a': 1}``).

Reserved names are laid last, each layer over the one before, so nothing a caller or the actor's
default environment sends can shadow them; a message variable the API would now refuse (a hook, a
reserved name: ``chalicelib/domain/envnames.py``), still in a message queued before that check, is dropped.
"""
from __future__ import annotations

import json
from typing import Any

from chalicelib.domain import envnames
from chalicelib.domain.models import Actor, Execution
from chalicelib.domain.queue_messages import InboxMessage
from chalicelib.identity import platform_tokens
from chalicelib.wiring.settings import Settings

# Linux caps a single environment string at MAX_ARG_STRLEN (32 pages = 128 KiB).
MAX_ENV_STRING = 131_072


def as_env_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return repr(value)


def msg_value(message: InboxMessage) -> str | None:
    """What ``MSG`` holds: the text, the Python repr of a JSON message, nothing for binary."""
    if message.content_type == "application/octet-stream" or message.body is None:
        return None
    if message.content_type == "application/json":
        return repr(json.loads(message.body))
    return message.body


def build(actor: Actor, execution: Execution, message: InboxMessage, worker_id: str,
          access_token: str = "", configs: dict[str, Any] | None = None) -> dict[str, str]:
    env: dict[str, str] = {k: as_env_value(v) for k, v in actor.default_environment.items()
                           if not envnames.is_reserved(k)}
    env.update(caller_variables(message.env))
    env.update({k: v for k, v in message.env.items() if k in envnames.MESSAGE_SET_NAMES})
    env.update({
        "_abaco_access_token": access_token,
        "_abaco_actor_dbid": actor.dbid,
        "_abaco_actor_id": actor.id,
        "_abaco_worker_id": worker_id,
        "_abaco_container_repo": actor.image,
        "_abaco_actor_state": as_env_value(actor.state),
        "_abaco_actor_name": actor.name or "None",
        "_abaco_actor_revision": str(actor.revision),
        "_abaco_execution_id": execution.id,
        "_abaco_execution_attempt": str(execution.attempt),
    })
    env["_actor_configs"] = as_env_value(configs or {})
    msg = msg_value(message)
    if msg is not None:
        env["MSG"] = msg
    return env


def access_token(actor: Actor, execution: Execution, settings: Settings) -> str:
    """``_abaco_access_token``: a token of the owner, minted per execution when the actor has ``token``
    (reference §3.5; ``chalicelib.identity.platform_tokens``), "" otherwise."""
    return platform_tokens.for_execution(settings, actor.tenant, actor.owner, actor.token, actor.max_run_time,
                                         actor.dbid, execution.id)


def caller_variables(variables: dict[str, str]) -> dict[str, str]:
    """The message's variables a caller chose: plain, unreserved, no hooks (``_abaco_synchronous`` kept)."""
    return {k: v for k, v in variables.items()
            if k in envnames.CONTROL_PARAMETERS or envnames.message_variable_problem(k) is None}


def oversized(env: dict[str, str]) -> list[str]:
    """Variables the kernel would refuse (``name=value`` longer than MAX_ARG_STRLEN)."""
    return [k for k, v in env.items() if len(k.encode()) + len(v.encode()) + 1 > MAX_ENV_STRING]
