"""One actor worker: a thread on a runner host that long-polls the actor's inbox and runs each message.

Lifecycle (reference §2.2): REQUESTED -> SPAWNER SETUP -> PULLING IMAGE -> READY <-> BUSY; it exits on
SHUTDOWN_REQUESTED, when its actor moves to a newer revision, when the inbox is deleted, after the idle
time to live, or when the host shuts down; on the way out it deletes its own record.
"""
from __future__ import annotations

import logging
import threading
import time

from chalicelib.backend import Backend
from chalicelib.errors import AbacoError, NotFound, Unavailable
from chalicelib.models import Actor, ActorStatus, Worker, WorkerStatus, utcnow
from chalicelib.queues import Received
from runners.engine import DockerEngine, EngineError
from runners.execution import ExecutionRunner

LOG = logging.getLogger("abaco.runner")
ERROR_PAUSE_SECONDS = 2.0
STOPPING = {WorkerStatus.SHUTDOWN_REQUESTED, WorkerStatus.SHUTTING_DOWN}


class WorkerThread(threading.Thread):
    def __init__(self, backend: Backend, runner_id: str, host_ip: str, tenant: str, actor_id: str,
                 worker_id: str, stop: threading.Event, kill: threading.Event) -> None:
        super().__init__(name=f"worker-{worker_id}", daemon=True)
        self.backend = backend
        self.settings = backend.settings
        self.runner_id = runner_id
        self.host_ip = host_ip
        self.tenant = tenant
        self.actor_id = actor_id
        self.worker_id = worker_id
        self.stop_event = stop  # host is shutting down: finish the current execution, take no more
        self.kill_event = kill  # second signal: stop the running container now
        self.actor_dbid = f"{tenant}_{actor_id}"

    def run(self) -> None:
        engine: DockerEngine | None = None
        try:
            worker = self._setup()
            if worker is None:
                return
            engine = DockerEngine(self.settings.docker_url)
            worker = self._pull(worker, engine)
            if worker is not None:
                self._loop(worker, engine)
        except Exception:
            LOG.exception("worker %s of actor %s crashed", self.worker_id, self.actor_id)
        finally:
            if engine is not None:
                engine.close()
            self._remove_record()

    # --- start-up ------------------------------------------------------------------------------
    def _setup(self) -> Worker | None:
        worker = self.backend.workers.find(self.actor_dbid, self.worker_id)
        if worker is None:
            return None
        return self.backend.workers.update(worker, {"status": WorkerStatus.SPAWNER_SETUP.value,
                                                    "host_id": self.runner_id, "host_ip": self.host_ip,
                                                    "last_health_check_time": utcnow()},
                                           only_from={WorkerStatus.REQUESTED})

    def _pull(self, worker: Worker, engine: DockerEngine) -> Worker | None:
        worker = self.backend.workers.update(worker, {"status": WorkerStatus.PULLING_IMAGE.value}) or worker
        try:
            engine.ensure_image(worker.image)
        except EngineError as exc:
            LOG.error("worker %s: %s", self.worker_id, exc)
            self.backend.actors.set_status(self.tenant, self.actor_id, ActorStatus.ERROR, str(exc))
            return None
        ready = self.backend.workers.update(worker, {
            "status": WorkerStatus.READY.value, "location": engine.location,
            "cid": f"{self.runner_id}/{self.worker_id}", "last_health_check_time": utcnow()})
        if ready is not None:
            self.backend.actors.set_status(self.tenant, self.actor_id, ActorStatus.READY, " ",
                                           only_from={ActorStatus.SUBMITTED, ActorStatus.ERROR})
        return ready

    # --- the loop ------------------------------------------------------------------------------
    def _loop(self, worker: Worker, engine: DockerEngine) -> None:
        inbox = self.backend.queues.inbox_url(self.tenant, self.actor_id)
        runner = ExecutionRunner(self.backend, engine, self.runner_id, self.worker_id, inbox, self.kill_event)
        idle_since = time.monotonic()
        while not self.stop_event.is_set():
            try:
                if not self._still_wanted(worker):
                    return
                received = self.backend.queues.receive(inbox, wait_seconds=self.settings.receive_wait_seconds)
                if not received:
                    if self._idle_expired(idle_since) and self._retire(worker, inbox, runner):
                        return
                    continue
                actor = self.backend.actors.get(self.tenant, self.actor_id)
                if actor.revision > worker.revision:  # a newer revision's workers take over
                    self.backend.queues.set_visibility(inbox, received[0].receipt, 0)
                    return
                self._busy(worker, runner, received[0], actor)
                idle_since = time.monotonic()
            except NotFound:
                return  # the actor or its inbox was deleted
            except (Unavailable, AbacoError) as exc:
                LOG.warning("worker %s: %s; retrying", self.worker_id, exc)
                self.stop_event.wait(ERROR_PAUSE_SECONDS)

    def _still_wanted(self, worker: Worker) -> bool:
        current = self.backend.workers.find(self.actor_dbid, self.worker_id)
        if current is None or current.status in STOPPING:
            return False
        actor = self.backend.actors.get(self.tenant, self.actor_id)
        if actor.revision > worker.revision or actor.status == ActorStatus.SHUTTING_DOWN:
            return False
        self.backend.workers.update(current, {"last_health_check_time": utcnow()})
        return True

    def _busy(self, worker: Worker, runner: ExecutionRunner, received: Received, actor: Actor) -> None:
        self.backend.workers.update(worker, {"status": WorkerStatus.BUSY.value})
        try:
            runner.handle(received, actor)
        finally:
            self.backend.workers.update(worker, {"status": WorkerStatus.READY.value,
                                                 "last_execution_time": utcnow()},
                                        only_from={WorkerStatus.BUSY})

    def _idle_expired(self, idle_since: float) -> bool:
        ttl = self.settings.worker_ttl
        return ttl >= 0 and time.monotonic() - idle_since >= ttl

    def _retire(self, worker: Worker, inbox: str, runner: ExecutionRunner) -> bool:
        """Leave after the idle time to live without stranding a message sent meanwhile: mark the record
        SHUTTING_DOWN first (the API then starts a new worker for new messages), then look once more."""
        if self.backend.workers.update(worker, {"status": WorkerStatus.SHUTTING_DOWN.value},
                                       only_from={WorkerStatus.READY}) is None:
            return True
        late = self.backend.queues.receive(inbox, wait_seconds=0)
        if late:
            actor = self.backend.actors.get(self.tenant, self.actor_id)
            runner.handle(late[0], actor)
        return True

    def _remove_record(self) -> None:
        try:
            self.backend.workers.delete(self.actor_dbid, self.worker_id)
        except Exception as exc:  # the host's reconciliation removes it later
            LOG.warning("could not delete worker record %s: %s", self.worker_id, exc)
