"""Parked workers: READY actors that cost nothing while idle (architecture §7).

A worker idle for ``ABACO_WORKER_PARK_SECONDS`` (or at once after a registration, which has nothing to
run) *parks*: its record stays READY with ``parked`` set, its thread, its inbox long poll, its health checks
and its pre-started container go away, and it holds no slot. So a host serves any number of READY actors,
and its idle AWS requests do not grow with them. A message to a parked worker wakes it: the API (or the
autoscaler, for a backlog) flips ``parked`` to ``woken`` with one conditional write and puts an activation
request on the pool's wake queue (``chalicelib/services/workers.py``, ``wake_requested``), which every host
of the pool reads before anything else; the first host to take it (``WorkerStore.activate``) starts a
poller for it, skipping the set-up.

No message is stranded by a park. The API sends a message and then reads the workers; a worker marks
itself parked and then looks at its inbox once more (``look_once_more``). If the API's read came before the
mark, the look comes after the send and sees the message: the worker hands it back and wakes itself, as the
API would have. If the read came after the mark, the API wakes it. Either way one conditional write wins and
one activation request is sent. The autoscaler's wake of a backlogged actor is the backstop. (Within 2 s of a
read that found one of the actor's workers taking messages the API skips the read: none of them parks for
idleness that soon after a message, ``chalicelib/services/taking.py``.)

A parked worker leaves (its record is deleted) after the worker time to live, counted from its last work,
unless a message woke it first: the host that parked it keeps the list (``ParkedWorkers``).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from chalicelib.domain.errors import AbacoError
from chalicelib.domain.models import Actor, Worker, WorkerStatus
from chalicelib.services import workers as worker_service
from chalicelib.wiring.backend import Backend

LOG = logging.getLogger("abaco.runner")
LOOK_VISIBILITY_SECONDS = 2  # what the last look takes is handed straight back; this bounds a lost hand-back


def look_once_more(backend: Backend, parked: Worker, inbox: str, actor: Actor | None) -> bool:
    """After the park mark: a message already on the inbox wakes the worker (True when it did)."""
    try:
        waiting = backend.queues.receive(inbox, wait_seconds=0, max_messages=1, visibility=LOOK_VISIBILITY_SECONDS)
        if not waiting:
            return False
        backend.queues.set_visibility_many(inbox, [r.receipt for r in waiting], 0)
        actor = actor or backend.actors.get(parked.tenant, parked.actor_id)
        return worker_service.wake_requested(backend, actor, [parked])
    except AbacoError as exc:  # the autoscaler wakes a backlogged actor's parked worker (its backstop)
        LOG.warning("parked worker %s: last look at the inbox: %s", parked.id, exc)
        return False


def woken_parked(record: Worker) -> bool:
    """A parked worker a message woke: READY, ``woken``, not parked any more (``WorkerStore.wake_parked``)."""
    return record.status == WorkerStatus.READY and record.woken and not record.parked


@dataclass
class _Entry:
    record: Worker
    idle_since: float  # monotonic


class ParkedWorkers:
    """The workers this host parked, until their time to live ends or a message wakes them."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def add(self, record: Worker, idle_since: float | None) -> None:
        with self._lock:
            self._entries[f"{record.actor_dbid}/{record.id}"] = _Entry(record, idle_since or time.monotonic())

    def forget(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def count(self) -> int:
        with self._lock:
            return len(self._entries)

    def expire(self, ttl: int, now: float | None = None) -> int:
        """Delete the records parked longer than ``ttl`` idle seconds (conditional on still being parked: a
        woken one is left alone); returns how many went."""
        if ttl < 0:
            return 0
        now = time.monotonic() if now is None else now
        with self._lock:
            due = [(k, e) for k, e in self._entries.items() if now - e.idle_since >= ttl]
            for key, _entry in due:
                del self._entries[key]
        removed = 0
        for _key, entry in due:
            try:
                removed += self.backend.workers.delete(entry.record.actor_dbid, entry.record.id,
                                                       create_time=entry.record.create_time, only_parked=True)
            except AbacoError as exc:  # the reconciler removes the records of a dead host; this one retries
                LOG.warning("parked worker %s: removing after its time to live: %s", entry.record.id, exc)
                self.add(entry.record, entry.idle_since)
        return removed
