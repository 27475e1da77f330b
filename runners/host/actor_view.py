"""The actor as a worker last read it, and whether a message may run on that reading without another.

The API reads the actor to accept a message and sends the actor's ``version`` with it, as a message
attribute (``chalicelib/adapters/queues.py``, ``send_inbox``). Every write of the actor's definition or
status adds one to the version (``chalicelib/adapters/storage/actors.py``: ``replace``, ``set_status``,
``set_state``, ``advance_cron``; binding a config too: ``chalicelib/adapters/storage/configs.py``), so a
reading with the message's version is the actor as the API saw it when it accepted the message, and the
worker saves the read (a GetItem per execution). What does not move the version is the runner's count of
start failures: a reading with failures counted is never reused (their reset is due), and neither is the
one in hand when an attempt ends other than by running (a start failure, a fenced or failed attempt may
have changed the actor). A message without a version (sent by an earlier release, or re-sent by the
reconciler) is run on a fresh read, as before.

The worker's health check reuses the reading too (``current``) when a message sent since the previous
check named its version: the actor was at that version then, which is what a read would have said; only a
worker with no such message reads the actor in its check.

So a message runs on the actor it was accepted for. One consequence: when the actor is updated while
messages accepted before the update wait, the worker of the old revision may still run those (their
version is the one it read) until its next health check (``ABACO_WORKER_HEALTH_CHECK_SECONDS``, 5 s)
or a message accepted after the update makes it read again; then it stops and the new revision's worker
takes the rest. Before, each message read the actor, so only the message in hand ran on the old revision.
"""
from __future__ import annotations

import time

from chalicelib.adapters.queues import Received
from chalicelib.domain.models import Actor, ActorStatus, Worker
from chalicelib.wiring.backend import Backend
from runners.pipeline.outcomes import Kind, Outcome

REUSABLE_AFTER = {Kind.RAN, Kind.DUPLICATE, Kind.LEASED}


def may_run(worker: Worker, actor: Actor) -> bool:
    """Whether a worker may still run the actor's messages (a newer revision takes over; an actor in ERROR
    runs nothing until it is updated)."""
    return actor.revision <= worker.revision and actor.status not in (ActorStatus.ERROR, ActorStatus.SHUTTING_DOWN)


class ActorView:
    def __init__(self, backend: Backend, tenant: str, actor_id: str) -> None:
        self._backend, self._tenant, self._actor_id = backend, tenant, actor_id
        self._actor: Actor | None = None
        self._as_of = 0.0  # epoch seconds at which the reading in hand was known current

    def for_message(self, received: Received) -> Actor:
        """The actor to run ``received`` with: the reading in hand when it has the message's version, else
        a fresh read (NotFound when the actor is gone)."""
        version = received.actor_version  # None: sent by an earlier release, or re-sent by the reconciler
        held = self._actor
        if held is not None and version is not None and held.version == version:
            self._as_of = max(self._as_of, received.sent_at or 0.0)  # SQS's clock: the API read it just before
            return held
        actor = self._backend.actors.get(self._tenant, self._actor_id)
        self.saw(actor)
        return actor

    def saw(self, actor: Actor) -> None:
        """A reading made elsewhere (the worker's health check) is as good as ours."""
        if actor is self._actor:  # the reading in hand, handed back: not known current any later
            return
        self._actor = None if actor.start_failures else actor
        self._as_of = time.time()

    def current(self, since: float) -> Actor | None:
        """The reading in hand if it was known current after ``since`` (epoch seconds), else None."""
        return self._actor if self._actor is not None and self._as_of > since else None

    def after(self, outcome: Outcome | None) -> None:
        """Keep the reading only after an attempt that ran (or left the message to its holder)."""
        if outcome is None or outcome.kind not in REUSABLE_AFTER:
            self._actor = None
