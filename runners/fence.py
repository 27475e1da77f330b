"""Self-fencing: a container whose lease could not be renewed in time is killed by a watchdog.

The worker thread renews the lease on its heartbeat, but a call to an unreachable store can block it for
many seconds; so a separate thread watches every running container's lease deadline (last successful
renewal + lease - margin) and kills the container when it passes. The worker then writes nothing for that
attempt: another runner may already own the next one (reliability plan §1.3 step 3).

The same watchdog fences the whole host ("a runner cut off from the store fences itself"): when
no call to the store has succeeded for the lease minus the margin (the host's own heartbeat thread makes
one every few seconds, each lease renewal counts too), the host is cut off. Every watched container is
killed at once, whatever its own deadline, new attempts are fenced as soon as they are watched, and the
host and its workers take no work until a call succeeds again (``contact``).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

LOG = logging.getLogger("abaco.runner")
CHECK_SECONDS = 0.5
MARGIN_FRACTION = 0.2  # fence when less than a fifth of the lease is left (at least 1 s)


@dataclass
class _Watched:
    cid: str | None  # None until the container exists: fencing then only forbids creating it
    deadline: float
    fenced: bool = False


class Fence:
    def __init__(self, kill: Callable[[str], None], on_fence: Callable[[str], None] | None = None,
                 lease_seconds: float | None = None, on_cut_off: Callable[[bool], None] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        """``lease_seconds`` turns on host-wide fencing (None: per attempt only); ``on_cut_off`` hears
        True when the host is cut off and False when the store answers again."""
        self._kill = kill
        self._on_fence = on_fence
        self._lock = threading.Lock()
        self._watched: dict[str, _Watched] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fence", daemon=True)
        self._lease_seconds = lease_seconds
        self._on_cut_off = on_cut_off
        self._clock = clock
        self._last_contact = clock()
        self.cut_off = threading.Event()  # set while the host is fenced: take no work, write nothing

    @staticmethod
    def deadline(renewed_at: float, lease_seconds: float) -> float:
        margin = max(1.0, lease_seconds * MARGIN_FRACTION)
        return renewed_at + lease_seconds - margin

    def start(self) -> Fence:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def watch(self, key: str, cid: str | None, deadline: float) -> None:
        """Watch a new attempt; fenced from the start while the host is cut off."""
        with self._lock:
            self._watched[key] = _Watched(cid, deadline, fenced=self.cut_off.is_set())

    def contact(self) -> bool:
        """A call to the store succeeded: the host is in contact (again); True when it had been cut off."""
        now = self._clock()
        with self._lock:
            self._last_contact = max(self._last_contact, now)
            restored = self.cut_off.is_set()
            self.cut_off.clear()
        if restored:
            LOG.warning("the store answers again: the host takes work again")
            if self._on_cut_off is not None:
                self._on_cut_off(False)
        return restored

    def attach(self, key: str, cid: str) -> bool:
        """The attempt's container exists now; False (and killed) when the attempt was fenced already."""
        with self._lock:
            watched = self._watched.get(key)
            if watched is None:
                return True
            watched.cid = cid
            fenced = watched.fenced
        if fenced:
            self._kill_quietly(cid)
        return not fenced

    def renewed(self, key: str, deadline: float) -> None:
        with self._lock:
            watched = self._watched.get(key)
            if watched is not None and not watched.fenced:
                watched.deadline = deadline
        self.contact()

    def fenced(self, key: str) -> bool:
        with self._lock:
            watched = self._watched.get(key)
            return watched is not None and watched.fenced

    def unwatch(self, key: str) -> bool:
        """Stop watching; True when the container had been fenced."""
        with self._lock:
            watched = self._watched.pop(key, None)
        return watched is not None and watched.fenced

    def running(self) -> int:
        with self._lock:
            return sum(1 for w in self._watched.values() if w.cid)

    def fence_now(self, key: str) -> None:
        """A write told us a newer attempt owns the execution: kill ours at once."""
        with self._lock:
            watched = self._watched.get(key)
            if watched is not None:
                watched.deadline = 0.0
        self.check()

    def check(self, now: float | None = None) -> list[str]:
        """Fence every container past its deadline, or all of them when the host is cut off; returns
        their keys (the thread calls this)."""
        now = self._clock() if now is None else now
        with self._lock:
            cut = self._newly_cut_off(now)
            due = [(k, w) for k, w in self._watched.items() if not w.fenced and (cut or w.deadline <= now)]
            for _, watched in due:
                watched.fenced = True
        if cut:
            LOG.error("no answer from the store for %.1f s: fencing the host (%d container(s))",
                      now - self._last_contact, len(due))
            if self._on_cut_off is not None:
                self._on_cut_off(True)
        for key, watched in due:
            LOG.warning("lease of %s not renewed in time: fencing it", key)
            if watched.cid:
                self._kill_quietly(watched.cid)
            if self._on_fence is not None:
                self._on_fence(key)
        return [k for k, _ in due]

    def _newly_cut_off(self, now: float) -> bool:
        """Under the lock: the host just passed its contact deadline."""
        if self._lease_seconds is None or self.cut_off.is_set():
            return False
        if now < self.deadline(self._last_contact, self._lease_seconds):
            return False
        self.cut_off.set()
        return True

    def _kill_quietly(self, cid: str) -> None:
        try:
            self._kill(cid)
        except Exception as exc:  # the engine may be gone too; the reaper removes it later
            LOG.error("could not kill fenced container %s: %s", cid[:12], exc)

    def _run(self) -> None:
        while not self._stop.wait(CHECK_SECONDS):
            self.check()
