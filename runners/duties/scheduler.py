"""Periodic duties of the runner hosts, and the small scheduler that runs them.

A duty is a name, an interval and ``run_once(backend, now)``. A *leased* duty (reconciler, autoscaler,
cron, events) must run on one host at a time: the host runs a pass only while it holds the duty's lease in
the duties table. The lease is long (``ABACO_DUTY_LEASE_SECONDS``, 30 s) and written only when a third of it
has passed, while the passes themselves run on their own interval (the events duty every second): an idle
system's AWS traffic was mostly these lease writes when every pass renewed its lease. A host that does not
hold a lease asks for it once per third of a lease, so another host takes over within about 1.3 leases
after the holder dies (at once when the holder stops and releases it). A *local* duty (host heartbeat,
orphan reaping) runs on every host. Register more with ``DutyScheduler.register`` (see
``standard_duties``); ``tick(now)`` runs one round, for tests.

Each duty runs in a thread of its own, so a long pass (a reconciler over a large backlog, a cleanup) never
delays the others; while a leased pass runs, the scheduler's keeper thread renews its lease when a third
of it has passed, so a pass longer than its lease is not taken over halfway.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.storage.duties import DutyRuns
from chalicelib.domain.errors import AbacoError
from chalicelib.wiring.backend import Backend

LOG = logging.getLogger("abaco.duties")
LEASE_INTERVALS = 3  # a lease lasts at least three intervals: one missed pass does not hand the duty over
RENEW_FRACTION = 1 / 3  # renew (and ask for a lease held by another) when a third of a lease has passed
TICK_SECONDS = 0.25
CLEANUP_SECONDS = 5.0  # a pass over deleted actors (bounded by ABACO_CLEANUP_BATCH executions)
ERROR_LOG_EVERY = 10.0  # at most one log line per duty per 10 s while its passes fail (T11)

RunOnce = Callable[[Backend, float], Any]


@dataclass(frozen=True)
class Duty:
    name: str
    interval: float
    run_once: RunOnce
    leased: bool = True  # False: every host runs it (its own heartbeat, its own containers)

    def lease_seconds(self, floor: float) -> float:
        return max(floor, self.interval * LEASE_INTERVALS)


class DutyScheduler:
    """Runs registered duties on their intervals in one daemon thread."""

    def __init__(self, backend: Backend, holder: str, clock: Callable[[], float] = time.time,
                 on_run: Callable[[str], None] | None = None) -> None:
        self.backend = backend
        self.holder = holder
        self._clock = clock
        self._on_run = on_run
        self._duties: dict[str, Duty] = {}
        self._next: dict[str, float] = {}
        self._last_error_log: dict[str, float] = {}
        self._lease_floor = backend.settings.duty_lease_seconds
        self._held_until: dict[str, float] = {}  # our leases' ends as last written
        self._ask_at: dict[str, float] = {}  # when to ask again for a lease another host holds
        self._runs: dict[str, DutyRuns] = {}  # passes not yet recorded (the next lease write carries them)
        self._running: set[str] = set()  # leased duties in a pass now (the keeper renews their leases)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def register(self, duty: Duty) -> None:
        self._duties[duty.name] = duty
        self._next.setdefault(duty.name, 0.0)

    def start(self) -> DutyScheduler:
        """One thread per duty, and the keeper that renews the leases of passes in progress."""
        self._threads = [threading.Thread(target=self._duty_loop, args=(d,), name=f"duty-{d.name}", daemon=True)
                         for d in self._duties.values()]
        self._threads.append(threading.Thread(target=self._keeper_loop, name="duty-leases", daemon=True))
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, release: bool = True) -> None:
        """Stop; with ``release``, give up the leases so another host takes over at once."""
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive() and threading.current_thread() is not thread:
                thread.join(10)
        if release:
            for duty in self._duties.values():
                if duty.leased:
                    self._held_until.pop(duty.name, None)
                    try:
                        self.backend.duties.release(duty.name, self.holder)
                    except AbacoError:
                        pass

    def tick(self, now: float | None = None) -> list[str]:
        """Run every duty that is due (and, if leased, whose lease we hold); returns the names run."""
        now = self._clock() if now is None else now
        ran = []
        for duty in list(self._duties.values()):
            if now < self._next[duty.name]:
                continue
            self._next[duty.name] = now + duty.interval
            if self._run(duty, now):
                ran.append(duty.name)
        return ran

    def _run(self, duty: Duty, now: float) -> bool:
        try:
            if duty.leased and not self._holds(duty, now):
                return False
            started = time.monotonic()
            with self._lock:
                self._running.add(duty.name)
            try:
                duty.run_once(self.backend, now)
            finally:
                with self._lock:
                    self._running.discard(duty.name)
            if duty.leased:
                with self._lock:
                    done = self._runs.get(duty.name)
                    self._runs[duty.name] = DutyRuns((done.count if done else 0) + 1, now,
                                                     time.monotonic() - started)
        except Exception as exc:  # a failing pass must not stop the other duties
            self._log_error(duty, exc)
            return False
        if self._on_run is not None:
            self._on_run(duty.name)
        return True

    def _holds(self, duty: Duty, now: float) -> bool:
        """Whether this host holds the duty's lease for a pass at ``now``. It writes only when a third of
        its lease has passed (a renewal, carrying the passes run since the last one), or, while another
        host holds the lease, once per third of a lease (a takeover once that lease has expired)."""
        lease = duty.lease_seconds(self._lease_floor)
        left = self._held_until.get(duty.name, 0.0) - now
        if left > lease * (1 - RENEW_FRACTION):
            return True
        if left <= 0 and now < self._ask_at.get(duty.name, 0.0):
            return False
        with self._lock:
            runs = self._runs.pop(duty.name, None)
        if self.backend.duties.acquire(duty.name, self.holder, now, lease, runs):
            self._held_until[duty.name] = now + lease
            return True
        self._held_until.pop(duty.name, None)
        self._ask_at[duty.name] = now + lease * RENEW_FRACTION
        return False

    def _log_error(self, duty: Duty, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_error_log.get(duty.name, -ERROR_LOG_EVERY) >= ERROR_LOG_EVERY:
            self._last_error_log[duty.name] = now
            if isinstance(exc, AbacoError):
                LOG.warning("duty %s: %s", duty.name, exc)
            else:
                LOG.exception("duty %s failed", duty.name)

    def _duty_loop(self, duty: Duty) -> None:
        while not self._stop.wait(TICK_SECONDS):
            now = self._clock()
            if now < self._next[duty.name]:
                continue
            self._next[duty.name] = now + duty.interval
            self._run(duty, now)

    def _keeper_loop(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            self.renew_running(self._clock())

    def renew_running(self, now: float) -> list[str]:
        """Renew the lease of every leased duty whose pass is running and whose lease is a third gone;
        returns the names renewed. A refused renewal leaves the pass to finish (its writes are conditional)
        and the next pass to ask again."""
        with self._lock:
            running = [self._duties[name] for name in self._running if self._duties[name].leased]
        renewed = []
        for duty in running:
            lease = duty.lease_seconds(self._lease_floor)
            if self._held_until.get(duty.name, 0.0) - now > lease * (1 - RENEW_FRACTION):
                continue
            try:
                if self.backend.duties.acquire(duty.name, self.holder, now, lease, None):
                    self._held_until[duty.name] = now + lease
                    renewed.append(duty.name)
            except AbacoError as exc:
                self._log_error(duty, exc)
        return renewed


def standard_duties(backend: Backend) -> list[Duty]:
    """The leased duties every runner host offers to run. Add cron and events here."""
    from chalicelib.services import cleanup
    from runners.duties import autoscaler, events, reconciler
    from runners.duties import cron as cron_duty

    settings = backend.settings
    return [
        Duty("reconciler", settings.reconcile_seconds, reconciler.run_once),
        Duty("autoscaler", settings.autoscale_seconds, autoscaler.run_once),
        Duty("events", events.INTERVAL_SECONDS, events.run_once),
        Duty("cron", settings.cron_seconds, cron_duty.run_once),
        Duty("cleanup", CLEANUP_SECONDS, cleanup.run_once),
    ]
