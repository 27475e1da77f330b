"""One attempt's heartbeat: renews the execution's lease and its message's visibility in its own thread,
from the claim to the terminal write. A message received with a short visibility (a worker's long poll) is
first hidden for the lease a second before that visibility ends, unless the attempt is over by then.

Creating and starting a container can take seconds on a loaded engine, longer than a lease; a heartbeat on
the worker thread would stall behind those calls and let another runner take the execution over while our
container starts. A write refused because a newer attempt holds the execution means the lease is lost:
the fence kills our container at once (reliability plan §1.3 step 3). A renewal extends the fence's
deadline from the moment it was sent (the store's lease counts from there), not from its answer: with a
slow store, the answer can come later than the margin, and the container must still die before the
store's lease ends.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from chalicelib.adapters.queues import Received
from chalicelib.domain.errors import AbacoError, Conflict
from chalicelib.domain.models import Execution
from chalicelib.wiring.backend import Backend
from runners.fence import Fence
from runners.metrics import Registry
from runners.pipeline.consumer import InboxConsumer

LOG = logging.getLogger("abaco.runner")
# The lease hides its message for the lease this long before the message's receive visibility ends.
CONFIRM_MARGIN_SECONDS = 1.0


class Lease:
    def __init__(self, backend: Backend, fence: Fence, key: str, execution: Execution, inbox: InboxConsumer,
                 received: Received, metrics: Registry, on_beat: Callable[[], None] | None = None) -> None:
        self._backend = backend
        self._fence = fence
        self._key = key
        self._execution = execution
        self._inbox = inbox
        self._received = received
        self._metrics = metrics
        self._on_beat = on_beat
        self._seconds = backend.settings.visibility_timeout
        self._every = backend.settings.heartbeat_seconds
        self._stop = threading.Event()
        self.lost = False
        self._thread = threading.Thread(target=self._run, name=f"lease-{execution.id}", daemon=True)

    def start(self) -> Lease:
        claimed = self._execution.phases.get("claimed", time.time())
        self._fence.watch(self._key, None, Fence.deadline(claimed, self._seconds))
        self._thread.start()
        return self

    def stop(self) -> None:
        """No more renewals (before the terminal write or a hand-back); the fence keeps watching."""
        self._stop.set()

    def _run(self) -> None:
        if not self._confirm():
            return
        while not self._stop.wait(self._every):
            self.beat()

    def _confirm(self) -> bool:
        """Hide the message for the lease before its receive visibility ends (``Received.visible_until``,
        ``runners/host/worker.py``); an attempt finished sooner needs no request. False once stopped."""
        until = self._received.visible_until
        if until is None:
            return True  # received with the queue's own visibility, or confirmed by the worker already
        wait = until - CONFIRM_MARGIN_SECONDS - time.monotonic()
        if wait >= self._every:
            return True  # the first heartbeat comes sooner
        if self._stop.wait(max(wait, 0.0)):
            return False
        if self.lost or self._fence.fenced(self._key):
            return False
        try:
            self._inbox.extend(self._received, self._seconds)
        except AbacoError as exc:  # the heartbeats try again; the claim keeps the execution ours meanwhile
            LOG.warning("visibility of %s not extended: %s", self._execution.id, exc)
        return True

    def beat(self) -> bool:
        """One renewal; False once a newer attempt owns the execution."""
        if self.lost or self._fence.fenced(self._key):  # a fenced attempt writes nothing more
            return False
        sent = time.time()  # the store's new lease counts from here, however long the answer takes
        try:
            self._backend.executions.renew(self._execution, self._seconds)
        except Conflict:
            if self._stop.is_set():  # the terminal write or a hand-back happened meanwhile
                return False
            LOG.warning("lost the lease on %s; stopping its container", self._execution.id)
            self.lost = True
            self._stop.set()
            self._metrics.inc("abaco_stale_write_rejected_total")
            self._fence.fence_now(self._key)
            return False
        except AbacoError as exc:  # Unavailable, or worse: keep trying; the fence kills the container if it lasts
            LOG.warning("heartbeat of %s failed: %s", self._execution.id, exc)
            return True
        self._fence.renewed(self._key, Fence.deadline(sent, self._seconds))
        try:
            self._inbox.extend(self._received, self._seconds)
            if self._on_beat is not None:
                self._on_beat()
        except AbacoError as exc:  # the heartbeat thread must outlive any error of SQS (or of the prefetch)
            LOG.warning("visibility of %s not extended: %s", self._execution.id, exc)
        return True
