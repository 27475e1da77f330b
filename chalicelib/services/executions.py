"""Reading executions and their logs (reference §1.5)."""
from __future__ import annotations

from typing import Any

from chalicelib.backend import Backend
from chalicelib.envelope import convert_keys
from chalicelib.models import Actor, Execution
from chalicelib.storage.logs import execution_key

_HIDDEN = {"tenant", "runner_id", "lease_expires_at", "enqueued", "created_ns", "content_type", "message_id",
           "charged", "open_pool", "inbox_message", "last_sent_at"}


def summary(backend: Backend, actor: Actor) -> dict[str, Any]:
    executions = backend.executions.list(actor.dbid)
    base = actor.api_server.rstrip("/")
    return {
        "actor_id": actor.id,
        "api_server": actor.api_server,
        "owner": actor.owner,
        "total_executions": len(executions),
        "total_cpu": sum(e.cpu for e in executions),
        "total_io": sum(e.io for e in executions),
        "total_runtime": sum(e.runtime for e in executions),
        "executions": [convert_keys({"id": e.id, "status": e.status.value, "start_time": e.start_time,
                                     "finish_time": e.finish_time, "message_received_time": e.message_received_time},
                                    backend.settings.case)  # Abaco converts these items in camel mode
                       for e in executions],
        "ids": [e.id for e in executions],
        "_links": {"self": f"{base}/actors/{actor.id}/executions", "owner": f"{base}/profiles/v2/{actor.owner}"},
    }


def get(backend: Backend, actor: Actor, execution_id: str) -> Execution:
    return backend.executions.get(actor.dbid, execution_id)


def display(execution: Execution) -> dict[str, Any]:
    data = execution.model_dump(mode="json", exclude=_HIDDEN)
    base = execution.api_server.rstrip("/")
    path = f"{base}/actors/{execution.actor_id}/executions/{execution.id}"
    data["_links"] = {"self": path, "logs": f"{path}/logs", "owner": f"{base}/profiles/v2/{execution.executor}"}
    return data


def logs(backend: Backend, actor: Actor, execution_id: str) -> dict[str, Any]:
    return log_record(backend, actor, get(backend, actor, execution_id))


def log_record(backend: Backend, actor: Actor, execution: Execution) -> dict[str, Any]:
    base = actor.api_server.rstrip("/")
    path = f"{base}/actors/{actor.id}/executions/{execution.id}"
    return {"logs": backend.logs.read(execution_key(actor.dbid, execution.id)),
            "_links": {"self": f"{path}/logs", "execution": path, "owner": f"{base}/profiles/v2/{actor.owner}"}}
