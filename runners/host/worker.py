"""One actor worker: a thread on a runner host that long-polls the actor's inbox and runs each message.

Lifecycle (reference §2.2): REQUESTED -> SPAWNER SETUP -> PULLING IMAGE -> READY (BUSY while it runs a
message, as its host's heartbeat says); it exits on
SHUTDOWN_REQUESTED, when its actor moves to a newer revision or to ERROR, when the inbox is deleted, after
the idle time to live (the ``sync`` hint keeps the lowest slot warm), or when the host shuts down; on the
way out it hands back every message it holds and deletes its own record. Idle, it *parks* instead
(``runners/host/parking.py``): after ``ABACO_WORKER_PARK_SECONDS``, at once after a registration, or when its
host needs its poller for another actor (``park``); its record stays READY and a message wakes it. It holds
one of the host's slots (``runners/host/slots.py``) only from a message's receive to the end of its
execution: idle workers never hold execution capacity.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace

from chalicelib.adapters import tracing
from chalicelib.adapters.queues import Received
from chalicelib.domain.errors import AbacoError, NotFound, Unavailable
from chalicelib.domain.models import Actor, ActorStatus, Worker, WorkerStatus, utcnow
from chalicelib.services import events
from chalicelib.wiring.backend import Backend
from runners.fence import Fence
from runners.host import parking
from runners.host.actor_view import ActorView, may_run
from runners.host.prefetched import Prefetched
from runners.host.slots import HostSlots, SlotHold, keeps_warm
from runners.metrics import Registry
from runners.pipeline import delivery as deliveries
from runners.pipeline import image_gate, pulls, warm
from runners.pipeline.consumer import InboxConsumer
from runners.pipeline.containers import ContainerSource
from runners.pipeline.engine import DockerEngine
from runners.pipeline.execution import ExecutionRunner
from runners.pipeline.lease import CONFIRM_MARGIN_SECONDS

LOG = logging.getLogger("abaco.runner")
ERROR_PAUSE_SECONDS = 2.0
CUT_OFF_PAUSE_SECONDS = 0.5  # how often a worker of a host cut off from the store looks again
STOPPING = {WorkerStatus.SHUTDOWN_REQUESTED, WorkerStatus.SHUTTING_DOWN}
SYNC_HINT = "sync"
# A long poll takes its messages for 2 s only; the worker then confirms them (visibility = the lease): the
# prefetched ones at once, the one it runs from its attempt's lease a second before the 2 s end, if the
# attempt still runs then. A poll abandoned at shutdown, or lost with its runner, so hands its messages back
# within 2 s by itself, and a stopping runner need not wait for its idle long polls.
RECEIVE_VISIBILITY_SECONDS = 2
ROOM_WAIT_SECONDS = 1.0  # a worker waits for a free slot before each long poll in steps of this
SLOT_STEP_SECONDS = 0.5  # a worker holding a message waits for a slot in steps of this (renewing it)


class WorkerThread(threading.Thread):
    def __init__(self, backend: Backend, runner_id: str, host_ip: str, tenant: str, actor_id: str,
                 worker_id: str, stop: threading.Event, kill: threading.Event, fence: Fence,
                 metrics: Registry, warm_pool: warm.WarmPool | None = None,
                 requested: Worker | None = None, slots: HostSlots | None = None,
                 activated: Worker | None = None) -> None:
        super().__init__(name=f"worker-{worker_id}", daemon=True)
        self.backend = backend
        self.settings = backend.settings
        self.runner_id = runner_id
        self.host_ip = host_ip
        self.tenant = tenant
        self.actor_id = actor_id
        self.worker_id = worker_id
        self.stop_event = stop  # host is shutting down: finish the current execution, take no more
        self.kill_event = kill  # second signal or grace over: stop the running container now
        self.fence = fence
        self.metrics = metrics
        self.warm_pool = warm_pool  # the host's bounds on pre-started containers (None: always cold)
        self.actor_dbid = f"{tenant}_{actor_id}"
        self.prefetched = Prefetched(backend.queues, "")
        self.busy = False  # between taking a message and finishing it; the host waits only for these
        self.last_execution_time: str | None = None  # when its last execution ended (the host's heartbeat)
        self.idle_since: float | None = None  # monotonic; None while starting up or busy
        self.keeps_warm = False  # the worker the ``sync`` hint keeps: never retired for another actor
        self.retiring = False  # parking or retiring: it takes no message any more
        self.hold = SlotHold(slots or HostSlots(self.settings.worker_slots))
        self.parked: Worker | None = None  # its record once parked: no longer this thread's to delete
        self._state = threading.Lock()  # ``busy`` and ``retiring`` change together under it
        self._parking = threading.Lock()  # ``park``, retire to mark: the thread leaving reads its outcome after
        self._source: ContainerSource | None = None
        self._record: Worker | None = None
        self._requested = requested  # the REQUESTED record as the host just read it (None: read it here)
        self._activated = activated  # a parked worker this host just took for a message: no set-up
        given = activated or requested  # the record's incarnation (its id is reused by a later request)
        self.incarnation = given.create_time if given is not None else None
        self._park_at_once = False  # started for a registration: nothing to run, so it parks when READY
        self.setting_up = True  # until READY (the host bounds set-ups under way)
        self._actor: Actor | None = None
        self._checked_at = self._checked_wall = 0.0
        self.actor_view = ActorView(backend, self.tenant, self.actor_id)

    def run(self) -> None:
        engine: DockerEngine | None = None
        try:
            worker = self._activated or self._setup()
            if worker is None:
                return
            self._record = worker
            self.metrics.inc("abaco_workers_activated_total" if self._activated else "abaco_workers_started_total")
            engine = DockerEngine(self.settings.docker_url)
            worker = self._ready(worker, engine)
            self.setting_up = False
            if worker is not None:
                self._loop(worker, engine)
        except Exception:
            LOG.exception("worker %s of actor %s crashed", self.worker_id, self.actor_id)
        finally:
            self.prefetched.release_all()
            self.hold.leave()
            if engine is not None:
                engine.close()
            self._remove_record()

    def hand_back(self) -> int:
        """Called by the host on the first signal (and when parking): prefetched messages go back at once."""
        released = self.prefetched.release_all()
        if released:
            self.metrics.inc("abaco_handed_back_total", released)
        return released

    def retirable(self, now: float, min_idle: float) -> bool:
        """Whether the host may take this worker's slot for another actor (an estimate; ``retire``
        decides): idle for ``min_idle`` seconds, holding no message, not the ``sync`` hint's warm one."""
        since = self.idle_since
        return (since is not None and now - since >= min_idle and not self.busy and not self.retiring
                and not self.keeps_warm and not self.prefetched.holding())

    def retire(self, now: float, min_idle: float) -> bool:
        """Atomically with taking a message (``_take``): from here the worker takes none. What its long
        poll still brings goes back at once (visibility 0) and it leaves after that poll."""
        with self._state:
            if not self.retirable(now, min_idle):
                return False
            self.retiring = True
        return True

    def park(self, now: float, min_idle: float) -> bool:
        """Retire (see ``retire``) and mark the record parked, so a message wakes it through the wake queue; the
        thread leaves after its poll under way and one more look at the inbox (``parking.look_once_more``). A
        record no longer READY (asked to stop) is not parked: the worker leaves and removes it as before."""
        with self._parking:  # the thread reads the outcome only once it is known (``_leave``)
            if not self.retire(now, min_idle):
                return False
            record = self._record
            parked = self.backend.workers.park(record) if record is not None else None
            if parked is not None:
                self.parked, self._record = parked, None
        return True

    def _take(self) -> bool:
        """Claim the right to run what was received, with its slot (``_slot_for``); False (slot given back) once
        retired or stopping, or while the host is cut off from the store (the caller hands the message back)."""
        with self._state:
            if self.retiring or self.stop_event.is_set() or self.fence.cut_off.is_set():
                self.hold.give_back()
                return False
            self.busy, self.idle_since = True, None
            return True

    def _idle(self) -> None:
        with self._state:
            self.hold.give_back()
            self.busy, self.idle_since = False, time.monotonic()

    # --- start-up ------------------------------------------------------------------------------
    def _setup(self) -> Worker | None:
        worker = self._requested or self.backend.workers.find(self.actor_dbid, self.worker_id)
        if worker is None:
            return None
        self._record = self.backend.workers.update(worker, {
            "status": WorkerStatus.SPAWNER_SETUP.value, "host_id": self.runner_id, "host_ip": self.host_ip,
            "last_health_check_time": utcnow()}, only_from={WorkerStatus.REQUESTED})
        return self._record

    def _ready(self, worker: Worker, engine: DockerEngine) -> Worker | None:
        """Pull and check the image; an activated worker only where another host set it up (and parked it)."""
        if self._activated is None:
            ready = self._pull(worker, engine)
            self._park_at_once = (not worker.woken and self.settings.worker_park_seconds >= 0 and
                                  self._actor is not None and SYNC_HINT not in self._actor.hints)
            return ready
        actor = self._actor = self.backend.actors.get(self.tenant, self.actor_id)
        if not may_run(worker, actor):
            return None
        here_before = self._requested is not None and self._requested.host_id == self.runner_id
        problem = None if here_before else image_gate.problem(engine, worker.image, actor, self.settings)
        if problem:
            LOG.error("worker %s: %s", self.worker_id, problem)
            events.on_status(self.backend.queues, self.backend.actors.set_status(
                self.tenant, self.actor_id, ActorStatus.ERROR, problem))
            return None
        self._checked(worker, actor)  # the activation's conditional write and this read are its health check
        return worker

    def _pull(self, worker: Worker, engine: DockerEngine) -> Worker | None:
        actor = self._actor = self.backend.actors.get(self.tenant, self.actor_id)
        self.actor_view.saw(actor)  # the message that woke the worker runs on this reading
        if actor.privileged and not self.settings.runner_privileged:
            LOG.error("worker %s: privileged actor %s on an unprivileged runner; refusing", self.worker_id, actor.id)
            return None
        worker = self.backend.workers.update(worker, {"status": WorkerStatus.PULLING_IMAGE.value}) or worker
        try:
            problem = image_gate.problem(engine, worker.image, actor, self.settings)
        except pulls.TransientPullError as exc:  # the registry's fault: the actor stays as it is
            LOG.warning("worker %s: %s; giving up this start, the actor is unchanged", self.worker_id, exc)
            return None
        if problem:  # missing, or refused by the pre-check: no container of it ever starts
            LOG.error("worker %s: %s", self.worker_id, problem)
            events.on_status(self.backend.queues, self.backend.actors.set_status(
                self.tenant, self.actor_id, ActorStatus.ERROR, problem))
            return None
        ready = self.backend.workers.update(worker, {  # not ``woken`` once polling: no host may activate it
            "status": WorkerStatus.READY.value, "location": engine.location, "woken": False,
            "cid": f"{self.runner_id}/{self.worker_id}", "last_health_check_time": utcnow()})
        if ready is not None:
            self._checked(ready, actor)  # just read and written: the first health check is done
            if actor.status == ActorStatus.SUBMITTED:  # a registration's first worker (conditional: once)
                events.on_status(self.backend.queues, self.backend.actors.set_status(
                    self.tenant, self.actor_id, ActorStatus.READY, " ", only_from={ActorStatus.SUBMITTED}))
        return ready

    # --- the loop ------------------------------------------------------------------------------
    def _loop(self, worker: Worker, engine: DockerEngine) -> None:
        inbox = self.backend.queues.inbox_url(self.tenant, self.actor_id)
        self.prefetched = Prefetched(self.backend.queues, inbox)
        self._idle()
        if not (self._park_at_once and self.park(time.monotonic(), 0)):  # a registration's: nothing to run
            self._poll(worker, inbox, engine)
        self._leave(inbox)

    def _leave(self, inbox: str) -> None:
        """Parked: look at the inbox once more (``parking.look_once_more``), once the park mark is written."""
        with self._parking:
            parked = self.parked
        if parked is not None:
            parking.look_once_more(self.backend, parked, inbox, self._actor)

    def _poll(self, worker: Worker, inbox: str, engine: DockerEngine) -> None:
        source = warm.source_for(self.settings, engine, self.warm_pool, self.metrics,
                                 deliveries.runner_root(deliveries.work_root(self.settings.runner_work_dir)))
        self._source, consumer = source, InboxConsumer(self.backend.queues, inbox)
        runner = ExecutionRunner(self.backend, engine, self.runner_id, self.worker_id, consumer, self.kill_event,
                                 self.fence, self.metrics, source=source,
                                 on_heartbeat=lambda: self.prefetched.extend(self.settings.visibility_timeout))
        try:
            self._serve(worker, inbox, runner)
        finally:
            source.close()  # the worker's pre-started container goes with it (revision, deletion, TTL, shutdown)

    def _serve(self, worker: Worker, inbox: str, runner: ExecutionRunner) -> None:
        self._idle()
        while not self.stop_event.is_set() and not self.retiring:
            if self.fence.cut_off.is_set():  # the host is fenced: receive nothing, write nothing
                self.hand_back()  # what it prefetched goes to another host now, not after its visibility
                self.stop_event.wait(CUT_OFF_PAUSE_SECONDS)
                self._idle()
                continue
            try:
                if not self._still_wanted(worker):
                    return
                park_after = self.settings.worker_park_seconds
                if park_after >= 0 and not self.keeps_warm and self.park(time.monotonic(), park_after):
                    return
                received = self._next(inbox)
                if received is None:
                    if self._idle_expired() and self._retire(worker, inbox, runner):
                        return
                    continue
                try:
                    if not self._run_one(worker, runner, received):
                        return
                finally:
                    self._idle()
            except NotFound:
                return  # the actor or its inbox was deleted
            except (Unavailable, AbacoError) as exc:
                LOG.warning("worker %s: %s; retrying", self.worker_id, exc)
                self.stop_event.wait(ERROR_PAUSE_SECONDS)

    def _next(self, inbox: str) -> Received | None:
        """The next message to run: a prefetched one, else what a long poll brings."""
        pending = self.prefetched.pop()
        if pending is None:
            return self._receive(inbox)
        if not (self._slot_for(inbox, [pending]) and self._take()):
            self.prefetched.add([pending])  # released on the way out
            return None
        return pending

    def _slot_for(self, inbox: str, received: list[Received]) -> bool:
        """A host slot for the message in hand: while every slot runs a container the worker holds it and waits,
        renewing its visibility a second before it ends, as the lease confirms it (a slot freed within the
        receive's 2 s costs no request; ``received`` is updated in place with the renewed end); False when it
        must stop (parked, stopping, fenced): the caller hands it back."""
        ends = [r.visible_until for r in received if r.visible_until is not None]
        due = min(ends) - CONFIRM_MARGIN_SECONDS if len(ends) == len(received) else time.monotonic()
        first = True
        while not self.hold.take(0 if first else max(0.0, min(SLOT_STEP_SECONDS, due - time.monotonic()))):
            first = False
            if self.retiring or self.stop_event.is_set() or self.fence.cut_off.is_set():
                return False
            if time.monotonic() >= due:
                self.backend.queues.set_visibility_many(inbox, [r.receipt for r in received],
                                                        self.settings.visibility_timeout)
                now = time.monotonic()
                received[:] = [replace(r, visible_until=now + self.settings.visibility_timeout) for r in received]
                due = now + self.settings.heartbeat_seconds
        return True

    def _receive(self, inbox: str) -> Received | None:
        if not self.hold.wait_room(ROOM_WAIT_SECONDS):  # every slot runs a container: poll once one frees
            return None
        received = self.backend.queues.receive(inbox, wait_seconds=self.settings.receive_wait_seconds,
                                               max_messages=self.settings.prefetch,
                                               visibility=RECEIVE_VISIBILITY_SECONDS)
        if not received:
            return None
        if not (self._slot_for(inbox, received) and self._take()):  # stopping, parked or fenced: all goes back
            self.prefetched.add(received)
            self.hand_back()
            return None
        if len(received) > 1:  # prefetched: hidden for as long as any held message (their lease need not)
            self.backend.queues.set_visibility_many(inbox, [r.receipt for r in received[1:]],
                                                    self.settings.visibility_timeout)
        self.prefetched.add([replace(r, visible_until=None) for r in received[1:]])
        # The first one is hidden for its attempt by the lease (runners/pipeline/lease.py), a second before its
        # RECEIVE_VISIBILITY_SECONDS end: a message done sooner (a warm no-op) costs no visibility request.
        return received[0]

    def _still_wanted(self, worker: Worker) -> bool:
        if time.monotonic() - self._checked_at < self.settings.worker_health_check_seconds:
            return True
        if not self.prefetched.holding() and not self.hold.wait_room(0):
            return True  # it can take nothing while every slot runs a container: checked once there is room
        # Half a read unit: a stop request written a moment ago is seen at the next check. A verdict that the
        # worker must go is confirmed by a consistent read: a stale record (one from before its activation
        # here) would otherwise leave a READY record with no thread behind. The check writes nothing: the
        # host's heartbeat lists its workers, and the API shows it as their last health check.
        for consistent in (False, True):  # a verdict to leave from the eventual read is read again, consistently
            current = self.backend.workers.find(self.actor_dbid, self.worker_id, consistent=consistent)
            gone = current is None or current.status in STOPPING or current.create_time != worker.create_time
            elsewhere = current is not None and not gone and (current.parked or current.host_id != self.runner_id)
            if not (gone or elsewhere):
                break
        if gone:
            return False
        if elsewhere:  # not ours any more: leave it alone
            self._record = None
            return False
        actor = self.actor_view.current(self._checked_wall) or self.backend.actors.get(self.tenant, self.actor_id)
        if not may_run(worker, actor):
            return False
        self._checked(worker, actor)
        return True

    def _checked(self, worker: Worker, actor: Actor) -> None:
        """A health check's verdict on the ``sync`` hint: its warm worker pins a slot (counted in scaling)."""
        self.actor_view.saw(actor)  # before the check's time: a reading is reused only once a later message names it
        self._actor, self._checked_at, self._checked_wall = actor, time.monotonic(), time.time()
        self.keeps_warm = SYNC_HINT in actor.hints and keeps_warm(self.backend, worker)
        self.hold.keep(self.keeps_warm)

    def _run_one(self, worker: Worker, runner: ExecutionRunner, received: Received) -> bool:
        """Run one taken message; False (and the message kept for the hand-back) when this worker may not.
        The actor is read when the message names another version than the last reading's (``actor_view``)."""
        actor = self.actor_view.for_message(received)
        if self.stop_event.is_set() or not may_run(worker, actor):
            self.prefetched.add([received])
            return False
        self._busy(worker, runner, received, actor)
        return True

    def _busy(self, worker: Worker, runner: ExecutionRunner, received: Received, actor: Actor) -> None:
        """Run it. The record stays READY: that it is BUSY, and when it last ran, ride on the host's heartbeat
        (``busy``, ``last_executions``; ``chalicelib/services/workers.py`` shows them), not on two writes of
        the worker item per execution."""
        outcome = None
        try:
            with tracing.segment("abaco-runner", received.trace_header, tenant=actor.tenant, actor_id=actor.id):
                outcome = runner.handle(received, actor)
        finally:
            self.actor_view.after(outcome)
            self.last_execution_time = utcnow()

    def _idle_expired(self) -> bool:
        ttl = self.settings.sync_max_idle_time if self.keeps_warm else self.settings.worker_ttl
        since = self.idle_since
        return ttl >= 0 and since is not None and time.monotonic() - since >= ttl

    def _retire(self, worker: Worker, inbox: str, runner: ExecutionRunner) -> bool:
        """Leave after the idle time to live without stranding a message sent meanwhile: mark the record
        SHUTTING_DOWN first (the API then starts a new worker for new messages), then look once more."""
        if self.backend.workers.update(worker, {"status": WorkerStatus.SHUTTING_DOWN.value},
                                       only_from={WorkerStatus.READY}) is None:
            return True
        late = self.backend.queues.receive(inbox, wait_seconds=0)
        if late and self._slot_for(inbox, late) and self._take():
            actor = self.backend.actors.get(self.tenant, self.actor_id)
            try:
                runner.handle(late[0], actor)
            finally:
                self._idle()
        elif late:
            self.prefetched.add(late)  # retired meanwhile: released on the way out
        return True

    def abandon(self) -> None:
        """The host stops without waiting for this idle worker's long poll (what the poll takes comes back
        by itself within 2 s): release what the worker holds now, its pre-started container and its record."""
        source = self._source
        if source is not None:
            try:
                source.close()
            except Exception as exc:  # the reaper of the next runner removes what is left
                LOG.warning("worker %s: closing its container source: %s", self.worker_id, exc)
        self._remove_record()

    def _remove_record(self) -> None:
        with self._parking:
            record = self._record
        if record is None:  # never ours (a repeated command for a worker that another thread runs)
            return
        try:
            self.backend.workers.delete(self.actor_dbid, self.worker_id, create_time=record.create_time)
        except Exception as exc:  # the reconciler removes it later
            LOG.warning("could not delete worker record %s: %s", self.worker_id, exc)
