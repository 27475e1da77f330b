"""A runner host's execution slots: how many containers of messages it runs at once (architecture §7).

Slots bound running executions, not workers: a worker polling an idle inbox holds none, so a host serves
any number of READY actors with ``ABACO_WORKER_SLOTS`` slots. A worker takes a slot for one message, from
just after its receive to the end of the execution, and gives it back. The ``sync`` hint's warm worker
*pins* one (it keeps it between executions, so a synchronous message never waits for another actor's
container; pins take at most half of a host's slots); pinned slots are published in the host record and
counted by the autoscaler and the scaling metric (``chalicelib/services/backlog.py``).
"""
from __future__ import annotations

import threading
import time

from chalicelib.domain.models import LIVE_WORKER_STATUSES, Worker
from chalicelib.wiring.backend import Backend

WAIT_STEP_SECONDS = 0.5  # how often a waiting worker looks at its stop flags


class HostSlots:
    """The host's slots: ``busy`` (an execution each) plus ``pinned`` never exceed ``total``."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.busy = 0
        self.pinned = 0
        self._freed = threading.Condition()

    @property
    def free(self) -> int:
        with self._freed:
            return self.total - self.busy - self.pinned

    def acquire(self, timeout: float) -> bool:
        """One slot for one execution, waiting up to ``timeout`` seconds for one to free up."""
        deadline = time.monotonic() + timeout
        with self._freed:
            while self.busy + self.pinned >= self.total:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._freed.wait(left)
            self.busy += 1
            return True

    def release(self) -> None:
        with self._freed:
            self.busy = max(self.busy - 1, 0)
            self._freed.notify_all()

    def pin(self) -> bool:
        """Keep a slot for a warm worker; False when none is free or pins hold half the slots already (the
        other actors always keep half the host), and the worker then runs like any other."""
        with self._freed:
            if self.busy + self.pinned >= self.total or self.pinned >= self.total // 2:
                return False
            self.pinned += 1
            return True

    def unpin(self) -> None:
        with self._freed:
            self.pinned = max(self.pinned - 1, 0)
            self._freed.notify_all()

    def wait_free(self, timeout: float) -> bool:
        """Whether a slot is free, waiting up to ``timeout``: a worker polls its inbox only then, so a host
        whose slots are all running containers does not take messages it cannot start."""
        deadline = time.monotonic() + timeout
        with self._freed:
            while self.busy + self.pinned >= self.total:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._freed.wait(min(left, WAIT_STEP_SECONDS))
            return True


class SlotHold:
    """One worker's use of the host's slots: the slot it holds for the execution under way, and its pin."""

    def __init__(self, slots: HostSlots) -> None:
        self.slots = slots
        self.pinned = False
        self.holding = False
        self._lock = threading.Lock()

    def take(self, timeout: float) -> bool:
        """A slot for the next execution (a pinned worker uses its own)."""
        with self._lock:
            if self.holding or self.pinned:
                self.holding = True
                return True
        if not self.slots.acquire(timeout):
            return False
        with self._lock:
            self.holding = True
        return True

    def give_back(self) -> None:
        with self._lock:
            if not self.holding:
                return
            self.holding = False
            if self.pinned:
                return
        self.slots.release()

    def keep(self, warm: bool) -> None:
        """Pin a slot while the worker is the ``sync`` hint's warm one, unpin when it stops being that.
        Called between executions only (a worker holding an execution's slot changes nothing now)."""
        with self._lock:
            if warm == self.pinned or self.holding:
                return
            if warm:
                self.pinned = self.slots.pin()
            else:
                self.pinned = False
                self.slots.unpin()

    def wait_room(self, timeout: float) -> bool:
        """Whether polling the inbox now makes sense (waiting up to ``timeout``): this worker has its pin or
        the host has a free slot."""
        return self.pinned or self.slots.wait_free(timeout)

    def leave(self) -> None:
        """The worker goes: its execution's slot (if any) and its pin go back."""
        self.give_back()
        self.keep(False)


def keeps_warm(backend: Backend, worker: Worker) -> bool:
    """The ``sync`` hint keeps one worker warm: the live one with the lowest slot of the revision."""
    live = [w for w in backend.workers.list(worker.actor_dbid)
            if w.status in LIVE_WORKER_STATUSES and w.revision == worker.revision]
    return all(w.slot >= worker.slot for w in live)
