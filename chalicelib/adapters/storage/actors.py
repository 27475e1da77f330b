"""The actors table: PK ``tenant``, SK ``actor_id``. Tenant isolation is in the key itself."""
from __future__ import annotations

import json
from typing import Any

from chalicelib.adapters.storage.base import ConditionFailed, Table, from_dynamo, to_dynamo
from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.models import Actor, ActorStatus, utcnow
from chalicelib.wiring.resources import ACTORS
from chalicelib.wiring.settings import Settings

_JSON_FIELDS = frozenset({"hints", "default_environment", "state", "mounts"})


def _to_item(actor: Actor) -> dict[str, Any]:
    data = actor.model_dump(mode="json")
    data["actor_id"] = data.pop("id")
    return to_dynamo(data, _JSON_FIELDS)


def _from_item(item: dict[str, Any]) -> Actor:
    data = from_dynamo(item, _JSON_FIELDS)
    data["id"] = data.pop("actor_id")
    return Actor.model_validate(data)


def _key(tenant: str, actor_id: str) -> dict[str, Any]:
    return {"tenant": {"S": tenant}, "actor_id": {"S": actor_id}}


class ActorStore:
    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self._table = Table(ACTORS, settings, client)

    def create(self, actor: Actor) -> None:
        try:
            self._table.put(_to_item(actor), condition="attribute_not_exists(actor_id)")
        except ConditionFailed as exc:
            raise Conflict(f"Actor id {actor.id} already exists.") from exc

    def get(self, tenant: str, actor_id: str) -> Actor:
        item = self._table.get(_key(tenant, actor_id))
        if item is None:
            raise NotFound(f"Actor with identifier '{actor_id}' not found")
        return _from_item(item)

    def find(self, tenant: str, actor_id: str) -> Actor | None:
        item = self._table.get(_key(tenant, actor_id))
        return _from_item(item) if item else None

    def list(self, tenant: str) -> list[Actor]:
        actors = [_from_item(i) for i in self._table.query(tenant)]
        return sorted(actors, key=lambda a: a.create_time)

    def all(self) -> list[Actor]:
        """Every actor of every tenant (runner duties only; never exposed by the API)."""
        return [_from_item(i) for i in self._table.scan()]

    def replace(self, actor: Actor, expected_version: int, expected_failures: int = 0) -> Actor:
        """Full write, conditional on the version read (optimistic locking); bumps the version. The runner's
        start-failure count does not bump the version, so the write is conditional on it too: a count made
        after the read refuses the write instead of being undone by it."""
        new = actor.model_copy(update={"version": expected_version + 1, "last_update_time": utcnow()})
        condition = "version = :v AND (attribute_not_exists(start_failures) OR start_failures = :f)"
        try:
            self._table.put(_to_item(new), condition=condition,
                            values={":v": expected_version, ":f": expected_failures})
        except ConditionFailed as exc:
            raise Conflict("The actor was changed by another request; retry.") from exc
        return new

    def advance_cron(self, tenant: str, actor_id: str, expected: str, following: str) -> bool:
        """Move ``cron_next_ex`` from the slot read to the next one; False when another host (or a PUT)
        moved it first. The winner alone fires the slot, whatever the number of runner hosts."""
        try:
            self._table.update(_key(tenant, actor_id), "SET cron_next_ex = :new ADD version :one",
                               values={":new": following, ":old": expected, ":one": 1},
                               condition="cron_next_ex = :old")
        except ConditionFailed:
            return False
        return True

    def set_status(self, tenant: str, actor_id: str, status: ActorStatus, message: str = "",
                   only_from: set[ActorStatus] | None = None) -> Actor | None:
        """One conditional update; returns None when the actor is gone or not in ``only_from``."""
        condition = "attribute_exists(actor_id)"
        values: dict[str, Any] = {":s": status.value, ":m": message, ":t": utcnow(), ":one": 1}
        if only_from:
            names = [f":f{i}" for i, _ in enumerate(only_from)]
            condition += f" AND #st IN ({', '.join(names)})"
            values.update({n: s.value for n, s in zip(names, only_from, strict=True)})
        try:
            item = self._table.update(
                _key(tenant, actor_id),
                "SET #st = :s, status_message = :m, last_update_time = :t ADD version :one",
                values=values, names={"#st": "status"}, condition=condition)
        except ConditionFailed:
            return None
        return _from_item(item)

    def count_start_failure(self, tenant: str, actor_id: str) -> int:
        """One more consecutive container-start failure; returns the new count. Runner bookkeeping: it
        does not bump ``version`` (``replace`` checks the count itself)."""
        try:
            item = self._table.update(_key(tenant, actor_id), "ADD start_failures :one",
                                      values={":one": 1}, condition="attribute_exists(actor_id)")
        except ConditionFailed as exc:
            raise NotFound(f"Actor with identifier '{actor_id}' not found") from exc
        return int(item.get("start_failures", {}).get("N", "1"))

    def reset_start_failures(self, tenant: str, actor_id: str) -> None:
        try:
            self._table.update(_key(tenant, actor_id), "SET start_failures = :zero", values={":zero": 0},
                               condition="attribute_exists(actor_id)")
        except ConditionFailed:
            pass

    def set_state(self, tenant: str, actor_id: str, state: Any) -> Actor:
        try:
            item = self._table.update(
                _key(tenant, actor_id), "SET #state = :v, last_update_time = :t ADD version :one",
                values={":v": json.dumps(state), ":t": utcnow(), ":one": 1}, names={"#state": "state"},
                condition="attribute_exists(actor_id)")
        except ConditionFailed as exc:
            raise NotFound(f"Actor with identifier '{actor_id}' not found") from exc
        return _from_item(item)

    def delete(self, tenant: str, actor_id: str) -> None:
        self._table.delete(_key(tenant, actor_id))
