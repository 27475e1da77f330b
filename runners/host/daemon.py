"""The runner host daemon: takes start-worker commands for its pools and runs worker threads.

It keeps a record in the hosts table (pools, slots, workers) with a heartbeat, runs the periodic duties (leased ones
like the reconciler and autoscaler on one host at a time), watches running containers' leases (fencing: per attempt, and
the whole host when it loses the store, see ``runners.host.contact``) and serves Prometheus metrics. Two-stage shutdown
(rq, dramatiq): the first signal stops taking work and hands prefetched messages back at once, running executions get a
grace period; the second signal (or the end of the grace period) kills running containers and hands their messages back.

Capacity is running containers, not workers (architecture §7): ``ABACO_WORKER_SLOTS`` bounds executions
(``runners/host/slots.py``); an idle worker parks (``runners/host/parking.py``: READY, no thread, no poll), so every
registration's worker goes READY and a host serves any number of READY actors. Pollers are bounded
(``ABACO_WORKER_POLLERS``): at the bound a host parks its longest-idle one for a new request.

Start requests a message waits for (a parked worker's activation, a worker-less actor's request, a copy of an untaken
registration request marked woken: ``services.workers.wake_requested``) come on the pool's wake queue
(``resources.wake_queue``), which a host reads before the command queue, and set-ups of registrations' workers are
bounded: a message's worker never waits behind a pile of registrations. The first host to take a request claims its
record; a second copy finds it taken.
"""
from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import threading
import time
from typing import Any

from chalicelib.domain.errors import AbacoError
from chalicelib.domain.models import Host, HostStatus, WorkerStatus
from chalicelib.domain.queue_messages import DecodeError, StartWorkerCommand
from chalicelib.wiring.backend import Backend
from runners.duties.scheduler import Duty, DutyScheduler, standard_duties
from runners.fence import Fence
from runners.host import reaper, runtime_check
from runners.host.contact import StoreContact, heartbeat_period
from runners.host.parking import ParkedWorkers, woken_parked
from runners.host.slots import HostSlots
from runners.host.wake_waits import WakeWaits
from runners.host.worker import WorkerThread
from runners.metrics import MetricsServer, standard_registry
from runners.pipeline import delivery, network, warm
from runners.pipeline.engine import DockerEngine, EngineError

LOG = logging.getLogger("abaco.runner")
COMMAND_WAIT_SECONDS = 2  # command long poll; short so a host at its poller bound notices room quickly
REAP_SECONDS = 10.0  # how often a host looks for containers of dead runners on its engine
FULL_PAUSE_SECONDS = 0.5
# An idle poller is parked for another actor's request only after this long idle: a worker just started for
# a message takes it within one receive, well within this.
RETIRE_MIN_IDLE_SECONDS = 5.0
RETRY_VISIBILITY_SECONDS = 1  # a start request a host at its poller bound could not make room for, back after this
HAND_BACK_WAIT_SECONDS = 10.0
# Registrations' workers set up at most this many at a time (each reads and writes its record, checks its
# image, goes READY and parks): a pile of registrations never starves a woken worker of CPU and store.
MAX_SETTING_UP = 4
SETUP_PAUSE_SECONDS = 0.1


def new_runner_id() -> str:
    """``host:pid:random``: the pid lets a restarted runner on the same host recognise dead siblings."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class RunnerHost:
    def __init__(self, backend: Backend, runner_id: str | None = None) -> None:
        self.backend = backend
        self.settings = backend.settings
        self.runner_id = runner_id or new_runner_id()
        self.stop = threading.Event()
        self.kill = threading.Event()
        self.workers: dict[str, WorkerThread] = {}
        self.leaving: list[WorkerThread] = []  # parked for another actor's work, finishing their last poll
        self.slots = HostSlots(self.settings.worker_slots)  # running executions, not workers
        self.parked = ParkedWorkers(backend)
        self.pools = self.settings.served_pools
        self.wake_waits = WakeWaits()  # per pool, how long wake requests waited (the dashboard shows it)
        self.metrics = standard_registry()
        self.warm_pool = warm.WarmPool.from_settings(self.settings, self.metrics)
        self.status = HostStatus.RUNNING
        self.grace_seconds: float = self.settings.shutdown_grace_seconds  # a drain (lifecycle.py) may raise it
        self._fence_engine: DockerEngine | None = None
        self.fence = Fence(self._kill_container, on_fence=lambda _k: None,
                           lease_seconds=self.settings.visibility_timeout, on_cut_off=self._on_cut_off)
        self.contact = StoreContact(self.heartbeat, self.fence, heartbeat_period(
            self.settings.host_heartbeat_seconds, self.settings.visibility_timeout))
        self.duties = DutyScheduler(backend, self.runner_id,
                                    on_run=lambda name: self.metrics.inc("abaco_duty_runs_total", duty=name))
        self._metrics_server: MetricsServer | None = None
        self._hand_back_thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # --- lifecycle -----------------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        def on_signal(signum: int, _frame: Any) -> None:
            if not self.stop.is_set():
                LOG.info("runner %s: stopping (signal %d); running executions may finish", self.runner_id, signum)
                self.begin_shutdown()
            else:
                LOG.info("runner %s: second signal; killing running containers", self.runner_id)
                self.kill.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)

    def begin_shutdown(self) -> None:
        """First stage: take no more work and hand every prefetched message back now (a thread, so a
        signal handler never blocks on the network)."""
        self.stop.set()
        self._hand_back_thread = threading.Thread(target=self._hand_back_prefetched, name="hand-back", daemon=True)
        self._hand_back_thread.start()

    def run(self) -> None:
        LOG.info("runner %s serving pools %s with %d slots", self.runner_id, self.pools, self.settings.worker_slots)
        self._start_services()
        try:
            self._serve()
        finally:
            self._drain()
            self._stop_services()

    def _start_services(self) -> None:
        self._fence_engine = DockerEngine(self.settings.docker_url)
        runtime_check.check(self._fence_engine)
        if self.settings.container_network == "bridge":
            network.ensure_bridge(self._fence_engine, self.settings)
        self.fence.start()
        self.metrics.gauge_fn("abaco_workers", lambda: len(self.workers))
        self.metrics.gauge_fn("abaco_free_slots", lambda: self.slots.free)
        self.metrics.gauge_fn("abaco_pinned_slots", lambda: self.slots.pinned)
        self.metrics.gauge_fn("abaco_parked_workers", self.parked.count)
        self.metrics.gauge_fn("abaco_running_containers", self.fence.running)
        if self.settings.runner_metrics_port:
            self._metrics_server = MetricsServer(self.metrics, self.settings.runner_metrics_port).start()
        self.reap()
        delivery.sweep_dead_runners(delivery.work_root(self.settings.runner_work_dir))
        self._heartbeat_safely()
        self.contact.start()
        self.duties.register(Duty("reap-orphans", REAP_SECONDS, lambda _b, _n: self.reap(), leased=False))
        for duty in standard_duties(self.backend) if self.settings.runner_duties else ():
            self.duties.register(duty)
        self.duties.start()

    def _serve(self) -> None:
        """Each round reads every pool's wake queue (start requests a message waits for) before its command
        queue (registrations and the like), and the command queue only once no wake came: however many
        registrations wait, a woken actor's request waits for one round at most. The wake queue is long
        polled only while the command queues are empty (otherwise its reads would hold up their drain)."""
        queues = [(self.backend.queues.wake_url(pool), self.backend.queues.command_url(pool)) for pool in self.pools]
        self.wake_waits.queues = {wake_url: pool for pool, (wake_url, _) in zip(self.pools, queues, strict=True)}
        backlog = False
        while not self.stop.is_set():
            self._prune()
            self.parked.expire(self.settings.worker_ttl)
            free = self.settings.worker_pollers - len(self.workers)
            room = free if free > 0 else len(self._retirable())  # at the bound it can park idle pollers
            if room <= 0 or self.fence.cut_off.is_set():  # cut off: no new workers until the store answers
                self.stop.wait(FULL_PAUSE_SECONDS)
                continue
            setups = MAX_SETTING_UP - sum(1 for t in self._threads() if t.setting_up)
            backlog = self._serve_round(queues, min(room, 10), 0 if backlog else COMMAND_WAIT_SECONDS,
                                        min(room, setups, 10))
            if setups <= 0:  # registrations wait for set-ups under way; wakes are still read at once
                self.stop.wait(SETUP_PAUSE_SECONDS)

    def _serve_round(self, queues: list[tuple[str, str]], limit: int, wake_wait: int,
                     command_limit: int | None = None) -> bool:
        """One read of each pool's queues; True when a command queue had requests waiting (or was not read)."""
        backlog = False
        for wake_url, command_url in queues:
            if self.stop.is_set() or self.fence.cut_off.is_set():  # before each read, not once a round
                break
            if self._take_commands(wake_url, limit, wake_wait):
                backlog = True  # the wake queue is read again (without waiting) before any registration
                continue
            if command_limit is not None and command_limit <= 0:
                backlog = True
                continue
            taken = self._take_commands(command_url, limit if command_limit is None else command_limit, 0)
            backlog = taken > 0 or backlog
        return backlog

    def _take_commands(self, url: str, limit: int, wait: int = COMMAND_WAIT_SECONDS) -> int:
        """Receive and handle up to ``limit`` start requests; returns how many came."""
        try:
            received = self.backend.queues.receive(url, wait_seconds=wait, max_messages=limit)
        except AbacoError as exc:
            LOG.warning("runner %s: command queue: %s", self.runner_id, exc)
            self.stop.wait(2)
            return 0
        done: list[str] = []  # receipts of requests done with, deleted in one batch call per 10
        try:
            for message in received:
                self.wake_waits.note(url, message.sent_at)  # nothing unless url is a wake queue
                # Stopping, or fenced during the poll: the request goes back at once for another host.
                if self.stop.is_set() or self.fence.cut_off.is_set():
                    self._give_back(url, message.receipt)
                    continue
                try:
                    if self._handle_command(url, message.receipt, message.body):
                        done.append(message.receipt)
                except AbacoError as exc:  # the store did not answer: another host may take it at once
                    LOG.warning("runner %s: start request: %s", self.runner_id, exc)
                    self._give_back(url, message.receipt)
        finally:
            self._delete_done(url, done)
        return len(received)

    def _give_back(self, url: str, receipt: str) -> None:
        try:
            self.backend.queues.set_visibility(url, receipt, 0)
        except AbacoError as exc:  # it comes back after its visibility timeout anyway
            LOG.warning("runner %s: could not hand a start request back: %s", self.runner_id, exc)

    def _delete_done(self, url: str, receipts: list[str]) -> None:
        try:
            if receipts:
                self.backend.queues.delete_many(url, receipts)
        except AbacoError as exc:  # they come back after their visibility timeout and are found done with
            LOG.warning("runner %s: deleting start requests: %s", self.runner_id, exc)

    def _handle_command(self, url: str, receipt: str, body: str) -> bool:
        """True when the request is done with (started, stale, declined or malformed: to be deleted); False
        when it was put back for a later round."""
        try:
            command = StartWorkerCommand.decode(body)
        except DecodeError as exc:
            LOG.error("dropping a malformed command: %s", exc)
            return True
        if not self._start_worker(command):  # no room after all: back for a later round
            self.backend.queues.set_visibility(url, receipt, RETRY_VISIBILITY_SECONDS)
            return False
        return True

    def _start_worker(self, command: StartWorkerCommand) -> bool:
        """Start the worker (True: the command is done with); False when the host is at its poller bound
        and found no idle poller to park after all."""
        key = f"{command.tenant}_{command.actor_id}/{command.worker_id}"
        # Read the request before taking it: a host that cannot reach the store (raises) leaves it to
        # another host instead of deleting it for a worker thread that could not set itself up.
        record = self.backend.workers.find(f"{command.tenant}_{command.actor_id}", command.worker_id)
        if record is None or not (record.status == WorkerStatus.REQUESTED or woken_parked(record)):
            return True  # removed (stopped, reconciled) or taken meanwhile: the worker would refuse it too
        with self._lock:
            running = self.workers.get(key)
            if (running is not None and running.is_alive() and not running.retiring
                    and running.incarnation == record.create_time):
                return True  # a repeated command for a worker this host already runs (not a new record of its id)
            full = len(self.workers) >= self.settings.worker_pollers
        if full and not self._make_room(command):
            return False
        activated = None
        if record.status != WorkerStatus.REQUESTED:
            activated = self.backend.workers.activate(record, self.runner_id)
            if activated is None:
                return True  # another host took it, or it was stopped meanwhile
            self.parked.forget(key)
        thread = WorkerThread(self.backend, self.runner_id, "127.0.0.1", command.tenant, command.actor_id,
                              command.worker_id, self.stop, self.kill, self.fence, self.metrics,
                              warm_pool=self.warm_pool, requested=record, slots=self.slots, activated=activated)
        with self._lock:
            if running is not None:
                self.leaving.append(running)  # parking: it leaves after its last poll
            self.workers[key] = thread
        thread.start()
        return True

    def _make_room(self, command: StartWorkerCommand) -> bool:
        """At the poller bound: True when an idle poller of another actor was parked for this request."""
        dbid = f"{command.tenant}_{command.actor_id}"
        now = time.monotonic()
        for thread in self._retirable(now):
            if thread.actor_dbid != dbid and thread.park(now, RETIRE_MIN_IDLE_SECONDS):
                self._retired(thread, command)
                return True
        return False

    def _retirable(self, now: float | None = None) -> list[WorkerThread]:
        """Idle workers this host may retire, the longest idle first."""
        now = time.monotonic() if now is None else now
        with self._lock:
            idle = [t for t in self.workers.values() if t.is_alive() and t.retirable(now, RETIRE_MIN_IDLE_SECONDS)]
        return sorted(idle, key=lambda t: t.idle_since or now)

    def _retired(self, thread: WorkerThread, command: StartWorkerCommand) -> None:
        with self._lock:
            for key in [k for k, t in self.workers.items() if t is thread]:
                del self.workers[key]
            self.leaving.append(thread)
        self.metrics.inc("abaco_workers_retired_total")
        LOG.info("runner %s: parked idle worker %s of %s for a worker of %s", self.runner_id, thread.worker_id,
                 thread.actor_id, command.actor_id)

    def _prune(self) -> None:
        with self._lock:
            ended = [t for t in [*self.workers.values(), *self.leaving] if not t.is_alive()]
            for key in [k for k, t in self.workers.items() if not t.is_alive()]:
                del self.workers[key]
            self.leaving = [t for t in self.leaving if t.is_alive()]
        for thread in ended:
            if thread.parked is not None and f"{thread.actor_dbid}/{thread.worker_id}" not in self.workers:
                self.parked.add(thread.parked, thread.idle_since)  # (not when already woken and taken here)
            thread.parked = None


    def _threads(self) -> list[WorkerThread]:
        with self._lock:
            return [*self.workers.values(), *self.leaving]

    def _hand_back_prefetched(self) -> None:
        self.status = HostStatus.DRAINING
        for thread in self._threads():
            thread.hand_back()
        self._heartbeat_safely()

    def _drain(self) -> None:
        """Wait for workers to finish their current execution; after the grace period (or on a second signal)
        running containers are stopped and their messages handed back. Idle pollers are not waited for (what
        a poll takes comes back within 2 s: worker.RECEIVE_VISIBILITY_SECONDS); their records and those of
        the workers this host parked are removed here."""
        deadline = time.monotonic() + self.grace_seconds
        if self._hand_back_thread is not None:
            self._hand_back_thread.join(HAND_BACK_WAIT_SECONDS)
        for thread in self._threads():
            while thread.is_alive() and thread.busy:
                if not self.kill.is_set() and time.monotonic() >= deadline:
                    LOG.info("runner %s: grace period over; handing running executions back", self.runner_id)
                    self.kill.set()
                thread.join(0.2)
            if thread.is_alive():
                thread.abandon()
        self._prune()
        self.parked.expire(0)
        LOG.info("runner %s stopped", self.runner_id)

    def _stop_services(self) -> None:
        self.duties.stop(release=True)
        self.contact.stop()
        self.fence.stop()
        self.status = HostStatus.STOPPED
        with self._lock:
            self.workers.clear()
            self.leaving.clear()
        self._heartbeat_safely()
        if self._metrics_server is not None:
            self._metrics_server.stop()
        if self._fence_engine is not None:
            self._fence_engine.close()

    def running(self) -> int:
        """Containers running on this host now (what scale-in protection follows)."""
        return self.fence.running()

    def stopped(self) -> bool:
        return self.status == HostStatus.STOPPED

    # --- record, fencing, recovery -------------------------------------------------------------
    def heartbeat(self) -> Host:
        with self._lock:
            workers = sorted(self.workers)
            busy = sorted(key for key, thread in self.workers.items() if thread.busy)
            last = {key: t.last_execution_time for key, t in self.workers.items() if t.last_execution_time}
        host = Host(id=self.runner_id, hostname=socket.gethostname(), pid=os.getpid(), pools=self.pools,
                    privileged=self.settings.runner_privileged, slots=self.settings.worker_slots,
                    used_slots=self.slots.busy, pinned_slots=self.slots.pinned, idle_slots=len(self._retirable()),
                    parked_workers=self.parked.count(), warm_waiting=self.warm_pool.waiting(), workers=workers,
                    busy=busy, last_executions=last, status=self.status, wake_wait_s=self.wake_waits.longest(),
                    metrics_port=self._metrics_server.port if self._metrics_server else 0)
        return self.backend.hosts.put(host)

    def _heartbeat_safely(self) -> None:
        try:
            self.heartbeat()
            self.fence.contact()
        except AbacoError as exc:
            LOG.warning("runner %s: host heartbeat: %s", self.runner_id, exc)

    def _on_cut_off(self, cut_off: bool) -> None:
        """FENCED while the store is out of reach (the record says so once written again), else RUNNING."""
        if self.status not in (HostStatus.RUNNING, HostStatus.FENCED):
            return  # draining or stopped: that stays the truth
        self.status = HostStatus.FENCED if cut_off else HostStatus.RUNNING
        self.metrics.inc("abaco_host_fenced_total" if cut_off else "abaco_host_reconnected_total")

    def _kill_container(self, cid: str) -> None:
        if self._fence_engine is not None:
            self._fence_engine.stop(cid, 0)

    def reap(self) -> int:
        """Remove containers left by dead runners of this host and mark their attempts lost."""
        try:
            reaped = reaper.reap_orphans(self.backend, self.runner_id)
        except (EngineError, AbacoError) as exc:
            LOG.error("runner %s: reaping orphans: %s", self.runner_id, exc)
            return 0
        if reaped:
            self.metrics.inc("abaco_orphans_reaped_total", reaped)
        return reaped

