"""The aliases table: PK ``tenant``, SK ``alias``. The key makes an alias unique in its tenant."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from chalicelib.adapters.storage.base import ConditionFailed, Table, from_dynamo, to_dynamo
from chalicelib.domain.errors import BadRequest, NotFound
from chalicelib.domain.models import Alias
from chalicelib.wiring.resources import ALIASES
from chalicelib.wiring.settings import Settings

_NO_JSON: frozenset[str] = frozenset()


def _key(tenant: str, alias: str) -> dict[str, Any]:
    return {"tenant": {"S": tenant}, "alias": {"S": alias}}


def _to_item(alias: Alias) -> dict[str, Any]:
    """The item mapping: every field under its own name (``tenant`` and ``alias`` are the key)."""
    return to_dynamo(alias.model_dump(mode="json"), _NO_JSON)


def _from_item(item: dict[str, Any]) -> Alias:
    return Alias.model_validate(from_dynamo(item, _NO_JSON))


class AliasStore:
    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self._table = Table(ALIASES, settings, client)

    def create(self, alias: Alias) -> None:
        """Conditional put: two concurrent requests for one name cannot both win."""
        try:
            self._table.put(_to_item(alias), condition="attribute_not_exists(alias)")
        except ConditionFailed as exc:
            raise BadRequest(f"Alias {alias.alias} already exists.") from exc

    def find(self, tenant: str, alias: str) -> Alias | None:
        item = self._table.get(_key(tenant, alias))
        return _from_item(item) if item else None

    def get(self, tenant: str, alias: str) -> Alias:
        found = self.find(tenant, alias)
        if found is None:
            raise NotFound(f"No alias found: {alias}.")
        return found

    def list(self, tenant: str) -> list[Alias]:
        return sorted((_from_item(i) for i in self._table.query(tenant)), key=lambda a: a.create_time)

    def first(self, tenant: str, limit: int) -> list[Alias]:
        """At most ``limit`` aliases of a tenant (one page: the API's list without paging parameters)."""
        items, _ = self._table.query_page(tenant, limit, consistent=True)
        return [_from_item(i) for i in items]

    def walk(self, tenant: str, start: dict[str, Any] | None = None) -> Iterator[tuple[Alias, dict[str, Any]]]:
        """A tenant's aliases in name order from ``start`` on, each with its position (paged lists)."""
        if start is not None and start.get("tenant") != {"S": tenant}:
            raise BadRequest("cursor is not valid for this collection; use the value of _metadata.next_cursor.")
        for item, key in self._table.walk("tenant", tenant, ("tenant", "alias"), start):
            yield _from_item(item), key

    def get_many(self, tenant: str, names: Iterable[str]) -> list[Alias]:
        """The aliases among ``names`` (BatchGetItem, 100 a call), in no particular order."""
        return [_from_item(i) for i in self._table.get_many([_key(tenant, n) for n in dict.fromkeys(names)])]

    def for_actor(self, tenant: str, actor_id: str) -> list[Alias]:
        return [a for a in self.list(tenant) if a.actor_id == actor_id]

    def repoint(self, alias: Alias, actor_id: str) -> Alias:
        """Point an existing alias at another actor (the name itself never changes)."""
        try:
            item = self._table.update(_key(alias.tenant, alias.alias), "SET actor_id = :a",
                                      values={":a": actor_id}, condition="attribute_exists(alias)")
        except ConditionFailed as exc:
            raise NotFound(f"No alias found: {alias.alias}.") from exc
        return _from_item(item)

    def delete(self, tenant: str, alias: str) -> None:
        try:
            self._table.delete(_key(tenant, alias), condition="attribute_exists(alias)")
        except ConditionFailed as exc:
            raise NotFound(f"No alias found: {alias}.") from exc
