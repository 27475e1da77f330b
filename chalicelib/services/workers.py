"""Workers: scale from zero on demand, list, add, stop (reference §1.7, §4.1)."""
from __future__ import annotations

from typing import Any

from chalicelib import ids
from chalicelib.backend import Backend
from chalicelib.errors import BadRequest
from chalicelib.models import LIVE_WORKER_STATUSES, Actor, Worker, WorkerStatus
from chalicelib.queue_messages import StartWorkerCommand


def live_workers(backend: Backend, actor: Actor) -> list[Worker]:
    return [w for w in backend.workers.list(actor.dbid)
            if w.status in LIVE_WORKER_STATUSES and w.revision >= actor.revision]


def request_worker(backend: Backend, actor: Actor, stop_existing: bool = False) -> Worker:
    """Write the REQUESTED record, then ask the actor's runner pool to start it."""
    worker = Worker(tenant=actor.tenant, actor_id=actor.id, id=ids.new_id(), image=actor.image,
                    revision=actor.revision)
    worker = worker.model_copy(update={"ch_name": f"worker_{worker.id}"})
    backend.workers.create(worker)
    command = StartWorkerCommand(tenant=actor.tenant, actor_id=actor.id, worker_id=worker.id,
                                 image=actor.image, revision=actor.revision, stop_existing=stop_existing)
    backend.queues.send_command(actor.queue, command)
    return worker


def ensure_worker(backend: Backend, actor: Actor, stop_existing: bool = False) -> Worker | None:
    """Abaco's "ensure one worker": a message to an actor with no live worker starts one."""
    if not stop_existing and live_workers(backend, actor):
        return None
    return request_worker(backend, actor, stop_existing=stop_existing)


def add_workers(backend: Backend, actor: Actor, num: Any) -> str:
    try:
        wanted = int(num if num not in (None, "") else 1)
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"Invalid num: '{num}' is not an integer.") from exc
    if wanted < 1:
        raise BadRequest("num must be a positive integer.")
    current = len(live_workers(backend, actor))
    if current >= wanted:
        return f"Actor {actor.id} already had {current} worker(s)."
    for _ in range(wanted - current):
        request_worker(backend, actor)
    return f"Scheduled {wanted - current} new worker(s) to start. Previously, there were {current} workers."


def stop_worker(backend: Backend, actor: Actor, worker_id: str) -> None:
    worker = backend.workers.get(actor.dbid, worker_id)
    backend.workers.update(worker, {"status": WorkerStatus.SHUTDOWN_REQUESTED.value})


def display(worker: Worker) -> dict[str, Any]:
    data = worker.model_dump(mode="json")
    data["status"] = worker.status.value
    return data
