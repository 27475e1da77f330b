"""T27, second machine: actor updates under optimistic locking (reliability plan §2, "Optimistic locking").

Several API clients read an actor and PUT it back later, interleaved with the other writers of the actor
item (POST state, the runner's status changes). The real service applies each PUT over the copy that
client read (``actors.apply_update``); the model is the last acknowledged value of every field. No
acknowledged write is ever lost: a PUT from a stale read must fail with ``Conflict``, which the API's one
error table answers with 409, and must change nothing.
"""
from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from chalicelib.domain.errors import Conflict
from chalicelib.domain.models import Actor, ActorStatus
from chalicelib.edge import http
from chalicelib.services import actors as actor_service
from tests.model.world import World, model_settings

CLIENTS = ("c1", "c2", "c3")
IMAGES = ("abacosamples/test", "abacosamples/py3_func")
DESCRIPTIONS = st.sampled_from(["", "first", "second", "third"])


class ActorVersionMachine(RuleBasedStateMachine):
    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world
        self.backend = world.backend
        self.read: dict[str, Actor] = {}  # what each client last read
        self.expected: dict[str, Any] = {}
        self.actor: Actor | None = None

    @initialize()
    def register(self) -> None:
        self.actor = actor_service.register(self.backend, self.world.caller, {"image": IMAGES[0], "stateless": False})
        self.expected = {"version": self.actor.version, "image": IMAGES[0], "description": "", "state": {},
                         "revision": self.actor.revision, "status": self.actor.status.value, "start_failures": 0}

    def teardown(self) -> None:
        if self.actor is not None:
            self.world.forget(self.actor)

    def _current(self) -> Actor:
        assert self.actor is not None
        return self.backend.actors.get(self.actor.tenant, self.actor.id)

    # --- rules ----------------------------------------------------------------------------------
    @rule(client=st.sampled_from(CLIENTS))
    def get(self, client: str) -> None:
        assert self.actor is not None
        self.read[client] = actor_service.get(self.backend, self.world.caller, self.actor.id)

    @rule(client=st.sampled_from(CLIENTS), image=st.sampled_from(IMAGES), description=DESCRIPTIONS)
    @precondition(lambda self: self.read)
    def put(self, client: str, image: str, description: str) -> None:
        """PUT /actors/{id} from what this client read, however long ago."""
        seen = self.read.get(client)
        if seen is None:
            return
        before = self._current()
        body = {"image": image, "description": description, "stateless": False}
        stale = seen.version != self.expected["version"] or seen.start_failures != self.expected["start_failures"]
        try:
            updated = actor_service.apply_update(self.backend, self.world.caller, seen, body)
        except Conflict as exc:
            assert stale, "a PUT from a current read was refused"
            assert _status(exc) == 409
            assert self._current() == before, "a refused PUT changed the actor"
            return
        assert not stale, "a PUT from a stale read was accepted: lost update"
        new_revision = image != self.expected["image"]
        self.expected.update(version=seen.version + 1, image=image, description=description)
        if new_revision:  # a new revision counts its container starts afresh
            self.expected.update(revision=self.expected["revision"] + 1, status=ActorStatus.SUBMITTED.value,
                                 start_failures=0)
        assert updated.version == self.expected["version"]
        self.read[client] = updated  # the client's copy is the one it wrote

    @rule(value=st.integers(min_value=1, max_value=9))
    def set_state(self, value: int) -> None:
        """POST /actors/{id}/state: an atomic write of one field that bumps the version."""
        assert self.actor is not None
        actor_service.set_state(self.backend, self.world.caller, self.actor.id, {"n": value})
        self.expected.update(version=self.expected["version"] + 1, state={"n": value})

    @rule(status=st.sampled_from([ActorStatus.READY, ActorStatus.ERROR]))
    def runner_sets_status(self, status: ActorStatus) -> None:
        """A runner marks the actor READY or ERROR (one conditional update that bumps the version)."""
        assert self.actor is not None
        assert self.backend.actors.set_status(self.actor.tenant, self.actor.id, status) is not None
        self.expected.update(version=self.expected["version"] + 1, status=status.value)

    @rule()
    def runner_counts_a_start_failure(self) -> None:
        """A container of the actor could not start: runner bookkeeping, outside the version."""
        assert self.actor is not None
        count = self.backend.actors.count_start_failure(self.actor.tenant, self.actor.id)
        self.expected["start_failures"] += 1
        assert count == self.expected["start_failures"]

    @rule()
    def runner_resets_start_failures(self) -> None:
        """A container started: the consecutive failures are over."""
        assert self.actor is not None
        self.backend.actors.reset_start_failures(self.actor.tenant, self.actor.id)
        self.expected["start_failures"] = 0

    # --- invariant ------------------------------------------------------------------------------
    @invariant()
    def every_acknowledged_write_is_there(self) -> None:
        if self.actor is None:
            return
        current = self._current()
        seen = {"version": current.version, "image": current.image, "description": current.description,
                "state": current.state, "revision": current.revision, "status": current.status.value,
                "start_failures": current.start_failures}
        assert seen == self.expected


def _status(exc: Exception) -> int:
    """The HTTP status the API's one error table gives ``exc``."""
    return http.status_for(exc)


def test_actor_updates_never_lose_a_write(world: World) -> None:
    run_state_machine_as_test(lambda: ActorVersionMachine(world), settings=model_settings("actor"))
