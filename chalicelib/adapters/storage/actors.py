"""The actors table: PK ``tenant``, SK ``actor_id``. Tenant isolation is in the key itself.

Besides the actor's fields an item may carry totals that releases before the totals items
(``chalicelib/adapters/storage/totals.py``) added with terminal writes (``replace`` is an update that leaves
them alone; ``services/executions.py`` adds them to the new counters), the keys of the
owner and image indexes, and while a deletion runs the ``deleting`` key of the sparse index the cleanup
duty reads.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from chalicelib.adapters.storage.base import ConditionFailed, Table, epoch, from_dynamo, to_dynamo
from chalicelib.adapters.storage.totals import COUNTERS
from chalicelib.domain.errors import BadRequest, Conflict, NotFound
from chalicelib.domain.models import Actor, ActorStatus, utcnow
from chalicelib.domain.paging import Page, decode_cursor, encode_cursor
from chalicelib.wiring.resources import ACTORS, DELETING_INDEX, DELETING_KEY, IMAGE_INDEX, OWNER_INDEX
from chalicelib.wiring.settings import Settings

_JSON_FIELDS = frozenset({"hints", "default_environment", "state", "mounts"})


_STORE_ONLY = (*COUNTERS, "deleting", "deleting_since", "tenant_owner", "tenant_image")


def _to_item(actor: Actor) -> dict[str, Any]:
    data = actor.model_dump(mode="json")
    data["actor_id"] = data.pop("id")
    data.pop("config_names")  # a string set the configs store alone adds to and deletes from
    data["tenant_owner"] = f"{actor.tenant}#{actor.owner}"
    data["tenant_image"] = f"{actor.tenant}#{actor.image}"
    return to_dynamo(data, _JSON_FIELDS)


def _from_item(item: dict[str, Any]) -> Actor:
    data = from_dynamo(item, _JSON_FIELDS)
    data["id"] = data.pop("actor_id")
    for name in _STORE_ONLY:
        data.pop(name, None)
    return Actor.model_validate(data)


def is_deleting(item: dict[str, Any]) -> bool:
    return "deleting" in item


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
        """The actor, deleting or not (the runners see a deleting actor SHUTTING_DOWN and stop)."""
        item = self._table.get(_key(tenant, actor_id))
        return _from_item(item) if item else None

    def find_live(self, tenant: str, actor_id: str) -> Actor | None:
        """The actor unless it is gone or being deleted (what the API shows)."""
        item = self._table.get(_key(tenant, actor_id))
        return _from_item(item) if item and not is_deleting(item) else None

    def totals(self, tenant: str, actor_id: str) -> dict[str, int]:
        """The counters earlier releases kept on the actor item (``total_executions``, ``total_cpu``, ...)."""
        item = self._table.get(_key(tenant, actor_id)) or {}
        return {name: int(item.get(name, {}).get("N", "0")) for name in COUNTERS}

    def list(self, tenant: str) -> list[Actor]:
        """Every live actor of a tenant (runner duties and small tenants; the API pages with ``page``)."""
        actors = [_from_item(i) for i in self._table.query(tenant) if not is_deleting(i)]
        return sorted(actors, key=lambda a: a.create_time)

    def count(self, tenant: str, owner: str | None = None) -> int:
        """A tenant's live actors (of one owner, through its index), counted by DynamoDB (one request per
        megabyte of actors, none returned)."""
        if owner is not None:
            return self._table.count("tenant_owner", f"{tenant}#{owner}", index=OWNER_INDEX, unless="deleting")
        return self._table.count("tenant", tenant, unless="deleting")

    def page_with_deleting(self, tenant: str, limit: int,
                           cursor: str | None = None) -> tuple[list[tuple[Actor, bool]], str | None]:
        """At most ``limit`` actor items of a tenant, each with whether it is being deleted, and the cursor
        of the next page (admin totals)."""
        start = decode_cursor(cursor)
        if start is not None and start.get("tenant") != {"S": tenant}:
            raise BadRequest("cursor is not valid for this collection; use the value of _metadata.next_cursor.")
        items, last = self._table.query_page(tenant, limit, start)
        return [(_from_item(i), is_deleting(i)) for i in items], encode_cursor(last)

    def list_with_deleting(self, tenant: str) -> list[tuple[Actor, bool]]:
        """Every actor item of a tenant, each with whether it is being deleted (admin totals)."""
        items = sorted(self._table.query(tenant), key=lambda i: i.get("create_time", {}).get("S", ""))
        return [(_from_item(i), is_deleting(i)) for i in items]

    def page(self, tenant: str, limit: int, cursor: str | None = None, owner: str | None = None,
             image: str | None = None) -> Page:
        """At most ``limit`` live actors of a tenant in id order (of one owner or image through their
        index when given) and the cursor of the next page."""
        start = decode_cursor(cursor)
        if start is not None and start.get("tenant") != {"S": tenant}:
            raise BadRequest("cursor is not valid for this collection; use the value of _metadata.next_cursor.")
        if owner is not None:
            items, last = self._table.index_page(OWNER_INDEX, "tenant_owner", f"{tenant}#{owner}", limit, start)
        elif image is not None:
            items, last = self._table.index_page(IMAGE_INDEX, "tenant_image", f"{tenant}#{image}", limit, start)
        else:
            items, last = self._table.query_page(tenant, limit, start)
        return Page([_from_item(i) for i in items if not is_deleting(i)], encode_cursor(last))

    def walk(self, tenant: str, start: dict[str, Any] | None = None, owner: str | None = None,
             image: str | None = None) -> Iterator[tuple[Actor, dict[str, Any]]]:
        """A tenant's live actors in id order from ``start`` on (of one owner or image through their index),
        each with its position (searches)."""
        if start is not None and start.get("tenant") != {"S": tenant}:
            raise BadRequest("cursor is not valid for this collection; use the value of _metadata.next_cursor.")
        if owner is not None:
            rows = self._table.walk("tenant_owner", f"{tenant}#{owner}", ("tenant", "actor_id", "tenant_owner"),
                                    start, index=OWNER_INDEX)
        elif image is not None:
            rows = self._table.walk("tenant_image", f"{tenant}#{image}", ("tenant", "actor_id", "tenant_image"),
                                    start, index=IMAGE_INDEX)
        else:
            rows = self._table.walk("tenant", tenant, ("tenant", "actor_id"), start)
        for item, key in rows:
            if not is_deleting(item):
                yield _from_item(item), key

    def get_many(self, tenant: str, actor_ids: list[str]) -> list[Actor]:
        """The live actors among ``actor_ids`` (BatchGetItem, 100 a call)."""
        items = self._table.get_many([_key(tenant, a) for a in actor_ids])
        return [_from_item(i) for i in items if not is_deleting(i)]

    def mark_deleting(self, tenant: str, actor_id: str, message: str) -> Actor | None:
        """The actor goes SHUTTING_DOWN (Abaco's state while it is deleted) and onto the sparse
        ``deleting`` index: the API no longer shows it, its runners stop, the cleanup duty removes its
        executions, logs and inbox, then the item. None when it is gone or already being deleted."""
        try:
            item = self._table.update(
                _key(tenant, actor_id),
                "SET #st = :s, status_message = :m, last_update_time = :t, deleting = :d, deleting_since = :now "
                "ADD version :one",
                values={":s": ActorStatus.SHUTTING_DOWN.value, ":m": message, ":t": utcnow(), ":one": 1,
                        ":d": DELETING_KEY, ":now": epoch()},
                names={"#st": "status"}, condition="attribute_exists(actor_id) AND attribute_not_exists(deleting)")
        except ConditionFailed:
            return None
        return _from_item(item)

    def deleting(self, limit: int) -> list[tuple[str, str]]:
        """(tenant, actor id) of at most ``limit`` actors being deleted (the sparse index: a small query)."""
        items, _ = self._table.index_page(DELETING_INDEX, "deleting", DELETING_KEY, limit)
        return [(i["tenant"]["S"], i["actor_id"]["S"]) for i in items]

    def all(self) -> list[Actor]:
        """Every actor of every tenant (runner duties only; never exposed by the API)."""
        return [_from_item(i) for i in self._table.scan()]

    def replace(self, actor: Actor, expected_version: int, expected_failures: int = 0) -> Actor:
        """Full write, conditional on the version read (optimistic locking); bumps the version. The runner's
        start-failure count does not bump the version, so the write is conditional on it too: a count made
        after the read refuses the write instead of being undone by it."""
        new = actor.model_copy(update={"version": expected_version + 1, "last_update_time": utcnow()})
        condition = ("version = :v AND (attribute_not_exists(start_failures) OR start_failures = :f) "
                     "AND attribute_not_exists(deleting)")
        item = _to_item(new)
        item.pop("tenant")
        item.pop("actor_id")
        names = {f"#a{i}": name for i, name in enumerate(item)}
        expression = "SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(item)))
        gone = [name for name, value in new.model_dump().items() if value is None]
        if gone:  # fields set to None are removed, as the full put did (the counters stay)
            names.update({f"#g{i}": name for i, name in enumerate(gone)})
            expression += " REMOVE " + ", ".join(f"#g{i}" for i in range(len(gone)))
        typed = {f":a{i}": value for i, value in enumerate(item.values())}
        try:
            self._table.update_typed(_key(new.tenant, new.id), expression, names, typed, condition,
                                     {":v": expected_version, ":f": expected_failures})
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
        """One conditional update; returns None when the actor is gone, being deleted, or not in ``only_from``."""
        condition = "attribute_exists(actor_id) AND attribute_not_exists(deleting)"
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
