"""The permissions table: PK ``object_key`` (``tenant#kind#name``), SK ``username``, attribute ``level``.

A global secondary index on ``principal`` (``tenant#username``) answers "what may this user see" for
lists and search without scanning, and never across tenants: the tenant is in every key.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chalicelib.adapters.storage.base import Table
from chalicelib.domain.access import WORLD, Kind, Level
from chalicelib.domain.errors import BadRequest
from chalicelib.wiring.resources import PERMISSIONS
from chalicelib.wiring.settings import Settings

_INDEX = "by_principal"


def object_key(kind: Kind, tenant: str, name: str) -> str:
    return f"{tenant}#{kind.value}#{name}"


def _principal(tenant: str, username: str) -> str:
    return f"{tenant}#{username}"


class PermissionStore:
    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self._table = Table(PERMISSIONS, settings, client)

    def grant(self, kind: Kind, tenant: str, name: str, username: str, level: Level) -> None:
        """Upsert one user's level (``NONE`` keeps the user listed with no access, as Abaco does)."""
        self._table.put({
            "object_key": {"S": object_key(kind, tenant, name)},
            "username": {"S": username},
            "principal": {"S": _principal(tenant, username)},
            "level": {"N": str(int(level))},
            "kind": {"S": kind.value},
            "name": {"S": name},
            "tenant": {"S": tenant},
        })

    def levels_of(self, kind: Kind, tenant: str, name: str, usernames: tuple[str, ...]) -> dict[str, Level]:
        """The levels of ``usernames`` on one object (those with a grant): one BatchGetItem, however many
        users the object has granted (an authorisation check never reads the object's every grant)."""
        key = object_key(kind, tenant, name)
        keys = [{"object_key": {"S": key}, "username": {"S": u}} for u in dict.fromkeys(usernames)]
        items = self._table.get_many(keys, consistent=True)
        return {item["username"]["S"]: Level(int(item["level"]["N"])) for item in items}

    def exists(self, kind: Kind, tenant: str, name: str) -> bool:
        """Whether the object has any grant (creation always grants the owner): a query of one item."""
        items, _ = self._table.query_page(object_key(kind, tenant, name), 1, consistent=True)
        return bool(items)

    def first(self, kind: Kind, tenant: str, name: str, limit: int) -> dict[str, Level]:
        """At most ``limit`` users' levels on one object (one page: the API's map without paging parameters)."""
        items, _ = self._table.query_page(object_key(kind, tenant, name), limit, consistent=True)
        return {item["username"]["S"]: Level(int(item["level"]["N"])) for item in items}

    def walk(self, kind: Kind, tenant: str, name: str,
             start: dict[str, Any] | None = None) -> Iterator[tuple[str, Level, dict[str, Any]]]:
        """One object's grants in user order from ``start`` on: (user, level, position) (paged lists)."""
        key = object_key(kind, tenant, name)
        if start is not None and start.get("object_key") != {"S": key}:
            raise BadRequest("cursor is not valid for this collection; use the value of _metadata.next_cursor.")
        for item, position in self._table.walk("object_key", key, ("object_key", "username"), start):
            yield item["username"]["S"], Level(int(item["level"]["N"])), position

    def drop(self, kind: Kind, tenant: str, name: str) -> None:
        """Forget every grant on an object (it was deleted)."""
        key = object_key(kind, tenant, name)
        self._table.delete_many([{"object_key": {"S": key}, "username": item["username"]}
                                 for item in self._table.query(key)])  # 25 a request

    def granted(self, kind: Kind, tenant: str, username: str) -> dict[str, Level]:
        """Objects of ``kind`` in ``tenant`` with a grant to ``username`` or to everybody: name -> level."""
        found: dict[str, Level] = {}
        for user in (username, WORLD):
            for item in self._table.query_index(_INDEX, "principal", _principal(tenant, user),
                                                sk_prefix=("object_key", object_key(kind, tenant, ""))):
                if item.get("kind", {}).get("S") != kind.value:  # the key's prefix already says so
                    continue
                name, level = item["name"]["S"], Level(int(item["level"]["N"]))
                found[name] = max(found.get(name, Level.NONE), level)
        return found
