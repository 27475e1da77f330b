"""Workers: scale from zero on demand, list, add, stop (reference §1.7, §4.1).

A worker occupies a *slot* of its actor's current revision: its id is ``{actor}-r{revision}-{slot}`` and
its record is a conditional put, so two API processes answering concurrent messages cannot start two
workers for one slot. Scaling from zero and the autoscaler give a stateful actor one slot per revision
(exactly one worker) and a stateless one ``max_workers`` slots. An admin's explicit ``POST .../workers
{num}`` may go beyond both, up to the platform's ``max_workers_per_actor``: Abaco let an admin give a
stateful actor more workers too (reference §4.3). A rolling update uses the new revision's slots while
the old workers drain.
"""
from __future__ import annotations

from typing import Any

from chalicelib.domain import bodies, inputs
from chalicelib.domain.errors import BadRequest, Conflict, NotAuthorized
from chalicelib.domain.models import LIVE_WORKER_STATUSES, Actor, ActorStatus, Host, Worker, WorkerStatus
from chalicelib.domain.queue_messages import StartWorkerCommand
from chalicelib.domain.responses import WorkerResponse, shown
from chalicelib.identity.auth import Caller
from chalicelib.services import quotas
from chalicelib.services import taking as taking_seen
from chalicelib.wiring.backend import Backend
from chalicelib.wiring.settings import Settings

PLATFORM_ADMIN_ONLY = ("Not authorized -- the runner hosts are the platform's: this view requires the admin "
                       "role in the platform tenant.")


def pool_for(actor: Actor, settings: Settings) -> str:
    """The runner pool that runs ``actor``: privileged actors only ever run on the privileged pool."""
    return settings.privileged_pool if actor.privileged else actor.queue


def max_slots(actor: Actor, settings: Settings) -> int:
    if not actor.stateless:
        return 1
    return actor.max_workers or settings.max_workers_per_actor


def slot_worker_id(actor: Actor, slot: int) -> str:
    return f"{actor.id}-r{actor.revision}-{slot}"


def live_workers(backend: Backend, actor: Actor) -> list[Worker]:
    return [w for w in backend.workers.list(actor.dbid)
            if w.status in LIVE_WORKER_STATUSES and w.revision >= actor.revision]


def request_worker(backend: Backend, actor: Actor, stop_existing: bool = False,
                   taken: set[int] | None = None, yield_to_live: bool = False, wake: bool = False,
                   slots: int | None = None) -> Worker | None:
    """Claim the first free slot (conditional put) of ``slots`` (the actor's ``max_slots`` unless an admin
    asked for more), then ask the actor's runner pool to start it (on its wake queue with ``wake``: a
    message waits for this worker). None when every slot is taken. With
    ``yield_to_live``, None as soon as a slot is found taken by a live worker: someone else (the API for a
    message, the autoscaler for the backlog) just started one for the same work, and a second worker for one
    message is what the caller must avoid. Both start at the lowest free slot, so two concurrent requests
    always meet at the same slot."""
    occupied = set(taken or ())
    for slot in range(max_slots(actor, backend.settings) if slots is None else slots):
        if slot in occupied:
            continue
        worker = Worker(tenant=actor.tenant, actor_id=actor.id, id=slot_worker_id(actor, slot),
                        image=actor.image, revision=actor.revision, slot=slot, woken=wake, owner=actor.owner)
        worker = worker.model_copy(update={"ch_name": f"worker_{worker.id}"})
        try:
            backend.workers.create(worker)
        except Conflict:
            if yield_to_live and _live(backend.workers.find(actor.dbid, worker.id)):
                return None
            occupied.add(slot)
            continue
        backend.queues.send_command(pool_for(actor, backend.settings),
                                    _command(worker, stop_existing=stop_existing), wake=wake)
        return worker
    return None


def _command(worker: Worker, stop_existing: bool = False) -> StartWorkerCommand:
    return StartWorkerCommand(tenant=worker.tenant, actor_id=worker.actor_id, worker_id=worker.id,
                              image=worker.image, revision=worker.revision, stop_existing=stop_existing)


def _live(worker: Worker | None) -> bool:
    return worker is not None and worker.status in LIVE_WORKER_STATUSES


def taking(worker: Worker) -> bool:
    """Whether a live worker will see a message sent now without being woken: one a host runs or sets up
    (a worker parking looks at its inbox once more after the mark, see runners/host/parking.py), or an
    untaken request already woken."""
    return not worker.parked and (worker.status != WorkerStatus.REQUESTED or worker.woken)


def wake_requested(backend: Backend, actor: Actor, live: list[Worker]) -> bool:
    """Whether ``live`` workers will take a message now: True when one is taking messages (see ``taking``)
    or could be woken here. Waking an untaken request puts a copy of it on the wake queue, once per request
    (``WorkerStore.wake``), so the message does not wait for the registration's copy behind every other
    registration; waking a parked worker (READY, no host polls for it) puts an activation request there,
    once per park (``WorkerStore.wake_parked``), which any host of the pool takes. False when none could be
    woken (declined, removed or taken meanwhile)."""
    if any(taking(w) for w in live):
        return True
    for worker in live:
        if worker.parked:
            woken = backend.workers.wake_parked(worker)
        else:
            woken = worker if backend.workers.wake(worker) else None
        if woken is not None:
            backend.queues.send_command(pool_for(actor, backend.settings), _command(woken), wake=True)
            return True
    return False


def ensure_worker(backend: Backend, actor: Actor, stop_existing: bool = False, wake: bool = False) -> Worker | None:
    """Abaco's "ensure one worker": a message (``wake``) to an actor with no live worker starts one, or wakes
    the untaken request it has. An actor in ERROR gets none until it is updated (Abaco's spawner refuses
    them too)."""
    if actor.status == ActorStatus.ERROR and not stop_existing:
        return None
    if stop_existing:  # a new revision: older parked workers have no poller to notice it, so they go now
        for old in backend.workers.list(actor.dbid):
            if old.parked and old.revision < actor.revision:
                backend.workers.delete(actor.dbid, old.id, create_time=old.create_time, only_parked=True)
    else:
        if wake and taking_seen.recently(actor):  # a check a moment ago found one (services/taking.py)
            return None
        live = live_workers(backend, actor)
        if live and (not wake or wake_requested(backend, actor, live)):
            if wake:  # one takes messages now, or was just woken to (then it counts as taking: ``taking``)
                taking_seen.saw(actor)
            return None
    return request_worker(backend, actor, stop_existing=stop_existing, yield_to_live=not stop_existing, wake=wake)


def current_slots(backend: Backend, actor: Actor) -> set[int]:
    """Slots of the current revision that have a record (whatever its status)."""
    return {w.slot for w in backend.workers.list(actor.dbid) if w.revision == actor.revision}


def explicit_limit(actor: Actor, settings: Settings) -> int:
    """The most workers an admin may ask for: the actor's own slots or the platform's per-actor maximum,
    whichever is more (so a stateful actor may have several, as in Abaco)."""
    return max(max_slots(actor, settings), settings.max_workers_per_actor)


def _num(value: Any) -> int:
    wanted = inputs.as_int(value, "num", "Invalid workers description")
    wanted = 1 if wanted is None else wanted
    if wanted < 1:
        raise BadRequest("num must be a positive integer.")
    return wanted


Num = bodies.checked(int, lambda v, _i: _num(v), bodies.integer_schema(1))


class WorkersInput(bodies.Body):
    num: Num = 1


def add_workers(backend: Backend, actor: Actor, body: dict[str, Any]) -> str:
    """Abaco's ``POST .../workers {num}``: start workers until the actor has ``num`` (stateful or not), at
    most ``explicit_limit``."""
    wanted = WorkersInput.of(body).num
    wanted = min(wanted, explicit_limit(actor, backend.settings))  # the message says how many were scheduled
    current = len(live_workers(backend, actor))
    if current >= wanted:
        return f"Actor {actor.id} already had {current} worker(s)."
    allowed = min(wanted - current, quotas.workers_left(backend, actor, backend.workers.all()))
    if allowed <= 0:
        raise BadRequest("No more workers: the tenant or the actor's owner has reached its limit of concurrent "
                         "workers (ABACO_MAX_WORKERS_PER_TENANT, ABACO_MAX_WORKERS_PER_USER).")
    taken = current_slots(backend, actor)
    started = 0
    for _ in range(allowed):
        worker = request_worker(backend, actor, taken=taken, slots=wanted + len(taken))
        if worker is None:
            break
        taken.add(worker.slot)
        started += 1
    return f"Scheduled {started} new worker(s) to start. Previously, there were {current} workers."


def stop_worker(backend: Backend, actor: Actor, worker_id: str) -> None:
    """A worker no runner has taken yet is simply removed; a running one is asked to stop, finishes the
    execution it is running, and deletes its own record (within one inbox long poll)."""
    taking_seen.forget(actor)  # its next message checks the workers again (in this process at least)
    stop(backend, backend.workers.get(actor.dbid, worker_id))


def stop(backend: Backend, worker: Worker) -> bool:
    """Stop one worker: removed at once when no host polls for it (an untaken request, a parked worker),
    else asked to stop. True when the record is gone already."""
    if worker.status == WorkerStatus.REQUESTED and \
            backend.workers.delete(worker.actor_dbid, worker.id, only_from=WorkerStatus.REQUESTED):
        return True
    if worker.parked and backend.workers.delete(worker.actor_dbid, worker.id, create_time=worker.create_time,
                                                only_parked=True):
        return True
    backend.workers.update(worker, {"status": WorkerStatus.SHUTDOWN_REQUESTED.value})
    return False


def list_workers(backend: Backend, actor: Actor) -> list[dict[str, Any]]:
    """The actor's workers, each with its runner host's status and last heartbeat."""
    records = backend.workers.list(actor.dbid)
    hosts = {h.id: h for h in backend.hosts.all()} if records else {}
    return [display(w, hosts, actor.api_server) for w in records]


def get_worker(backend: Backend, actor: Actor, worker_id: str) -> dict[str, Any]:
    worker = backend.workers.get(actor.dbid, worker_id)
    host = backend.hosts.get(worker.host_id) if worker.host_id else None
    return display(worker, {host.id: host} if host else {}, actor.api_server)


def hosts_summary(backend: Backend, caller: Caller) -> dict[str, Any]:
    """Every runner host with its heartbeat, and the duty leases: the platform's machinery, so only the
    administrators of the platform tenant (``ABACO_PLATFORM_TENANT``) see it; of the hosts' workers, those of
    the caller's own tenant, compared exactly (a prefix test let tenant ``A`` see ``A_B``'s workers)."""
    if not caller.is_admin or caller.tenant != (backend.settings.platform_tenant or backend.settings.tenant):
        raise NotAuthorized(PLATFORM_ADMIN_ONLY)
    hosts = []
    for host in backend.hosts.all():
        data = host.model_dump(mode="json")
        data["workers"] = [w for w in host.workers if _tenant_of_worker(w) == caller.tenant]
        hosts.append(data)
    return {"hosts": hosts, "duties": backend.duties.all()}


def _tenant_of_worker(entry: str) -> str:
    """The tenant of a host's worker entry ``{tenant}_{actor_id}/{worker_id}`` (actor ids have no ``_``)."""
    return entry.partition("/")[0].rpartition("_")[0]


def shown_status(worker: Worker, host: Host | None) -> str:
    """BUSY for a READY worker its host's last heartbeat saw running an execution (the runner writes no
    status per execution: runners/host/worker.py), else the record's status."""
    busy = host is not None and f"{worker.actor_dbid}/{worker.id}" in host.busy
    return WorkerStatus.BUSY.value if busy and worker.status == WorkerStatus.READY else worker.status.value


def display(worker: Worker, hosts: dict[str, Any] | None = None, api_server: str = "") -> dict[str, Any]:
    """A worker as the API shows it, with its runner host's status and heartbeat when known."""
    data = shown(WorkerResponse, worker)  # an allow-list: chalicelib/domain/responses.py
    host = (hosts or {}).get(worker.host_id)
    if host is not None:
        data["status"] = shown_status(worker, host)
        entry = f"{worker.actor_dbid}/{worker.id}"
        data["last_execution_time"] = max(filter(None, (worker.last_execution_time,
                                                        host.last_executions.get(entry))), default=None)
        data["host_status"] = host.status.value
        data["host_last_heartbeat_time"] = host.last_heartbeat_time
        if entry in host.workers:  # its host's heartbeat saw its thread: the worker's health check
            data["last_health_check_time"] = max(filter(None, (worker.last_health_check_time,
                                                               host.last_heartbeat_time)), default=None)
    base = f"{api_server.rstrip('/')}/actors/{worker.actor_id}"
    data["_links"] = {"self": f"{base}/workers/{worker.id}", "actor": base}
    return data
