"""The configs table (PK ``tenant``, SK ``name``) and its bindings (PK ``tenant#actor_id``, SK ``name``).

Secret values arrive here already encrypted. A config names up to 100 actors, which no GSI can index, so
each (actor, config) pair is a binding item kept beside the config: a runner reads its actor's bindings
(one Query) and the configs they name (one BatchGetItem), never the tenant's configs. The config item is
the truth, the bindings only an index, written so that no crash loses one that a config needs: bindings
of a config's new actors are put before the config, bindings of its dropped actors deleted after it. A
binding left by a crash between the two names a config that does not list the actor: the reader checks
the config's recipients, so it hands nothing over (``chalicelib/services/configs.py``).

Each actor item also keeps the names of its bound configs (``config_names``, a string set): a runner
queries the bindings only for an actor that has some, and most have none. A name is added (with the
actor's ``version``, so that a worker's reading of the actor is not reused: ``runners/host/actor_view.py``)
before the binding is put, and deleted after the binding is: a crash leaves a name too many, which costs
a query and hands nothing over, never one too few.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from chalicelib.adapters.storage.base import ConditionFailed, Table, from_dynamo, to_dynamo
from chalicelib.domain.errors import BadRequest, NotFound
from chalicelib.domain.models import ActorConfig, utcnow
from chalicelib.wiring.resources import ACTORS, CONFIG_BINDINGS, CONFIGS
from chalicelib.wiring.settings import Settings

_JSON_FIELDS = frozenset({"actors", "actor_ids"})
_KEYS = ("tenant", "name")


def _key(tenant: str, name: str) -> dict[str, Any]:
    return {"tenant": {"S": tenant}, "name": {"S": name}}


def _binding(tenant: str, actor_id: str, name: str) -> dict[str, Any]:
    return {"actor_key": {"S": f"{tenant}#{actor_id}"}, "name": {"S": name}}


def _to_item(config: ActorConfig) -> dict[str, Any]:
    return to_dynamo(config.model_dump(mode="json"), _JSON_FIELDS)


def _from_item(item: dict[str, Any]) -> ActorConfig:
    return ActorConfig.model_validate(from_dynamo(item, _JSON_FIELDS))


class ConfigStore:
    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self._table = Table(CONFIGS, settings, client)
        self._bindings = Table(CONFIG_BINDINGS, settings, client)
        self._actors = Table(ACTORS, settings, client)

    def create(self, config: ActorConfig, recipients: list[str]) -> None:
        """A new config and a binding for each of its ``recipients`` (the actor ids that get its values)."""
        self._bind(config.tenant, config.name, recipients)
        try:
            self._table.put(_to_item(config), condition="attribute_not_exists(#n)", names={"#n": "name"})
        except ConditionFailed as exc:  # bindings the config of this name holds stay; only ours go
            if exc.item:  # (unknown: leave ours, which the reader's check makes harmless)
                existing = _from_item(exc.item)
                held = {*existing.actor_ids, *existing.actors}  # ids bound to it, old configs' too
                self._unbind(config.tenant, config.name, [a for a in recipients if a not in held])
            raise BadRequest(f"Config {config.name} already exists.") from exc

    def find(self, tenant: str, name: str) -> ActorConfig | None:
        item = self._table.get(_key(tenant, name))
        return _from_item(item) if item else None

    def get(self, tenant: str, name: str) -> ActorConfig:
        item = self._table.get(_key(tenant, name))
        if item is None:
            raise NotFound(f"No config found: {name}.")
        return _from_item(item)

    def list(self, tenant: str) -> list[ActorConfig]:
        """Every config of a tenant (tests and the bindings' rebuild; the API pages with ``walk``)."""
        return sorted((_from_item(i) for i in self._table.query(tenant)), key=lambda c: c.create_time)

    def first(self, tenant: str, limit: int) -> list[ActorConfig]:
        """At most ``limit`` configs of a tenant (one page: the API's list without paging parameters)."""
        items, _ = self._table.query_page(tenant, limit, consistent=True)
        return [_from_item(i) for i in items]

    def walk(self, tenant: str, start: dict[str, Any] | None = None) -> Iterator[tuple[ActorConfig, dict[str, Any]]]:
        """A tenant's configs in name order from ``start`` on, each with its position (paged lists)."""
        if start is not None and start.get("tenant") != {"S": tenant}:
            raise BadRequest("cursor is not valid for this collection; use the value of _metadata.next_cursor.")
        for item, key in self._table.walk("tenant", tenant, _KEYS, start):
            yield _from_item(item), key

    def get_many(self, tenant: str, names: Iterable[str], consistent: bool = False) -> list[ActorConfig]:
        """The configs among ``names`` (BatchGetItem, 100 a call), in no particular order."""
        items = self._table.get_many([_key(tenant, n) for n in dict.fromkeys(names)], consistent=consistent)
        return [_from_item(i) for i in items]

    def for_actor(self, tenant: str, actor_id: str) -> list[ActorConfig]:
        """The configs bound to an actor: one Query of its bindings, then one BatchGetItem of those configs
        (none when it has no binding), both strongly consistent: a config written before a message reaches
        its execution. The caller keeps only configs that still list the actor."""
        names = [i["name"]["S"] for i in self._bindings.query(f"{tenant}#{actor_id}")]
        return self.get_many(tenant, names, consistent=True) if names else []

    def replace(self, config: ActorConfig, previous: list[str], recipients: list[str]) -> ActorConfig:
        """Full replacement of an existing config (PUT); ``previous`` and ``recipients`` are the actor ids
        bound before and after."""
        new = config.model_copy(update={"last_update_time": utcnow()})
        self._bind(config.tenant, config.name, [a for a in recipients if a not in previous])
        try:
            self._table.put(_to_item(new), condition="attribute_exists(#n)", names={"#n": "name"})
        except ConditionFailed as exc:
            raise NotFound(f"No config found: {config.name}.") from exc
        self._unbind(config.tenant, config.name, [a for a in previous if a not in recipients])
        return new

    def delete(self, tenant: str, name: str, recipients: list[str]) -> None:
        try:
            self._table.delete(_key(tenant, name), condition="attribute_exists(#n)", names={"#n": "name"})
        except ConditionFailed as exc:
            raise NotFound(f"No config found with name: {name}.") from exc
        self._unbind(tenant, name, recipients)

    def rebind(self, config: ActorConfig, recipients: list[str]) -> None:
        """(Re)write the bindings of a stored config: for configs written before bindings existed."""
        self._bind(config.tenant, config.name, recipients)

    def _bind(self, tenant: str, name: str, actor_ids: list[str]) -> None:
        for actor_id in actor_ids:
            self._mark(tenant, actor_id, "ADD config_names :n, version :one", {":n": {name}, ":one": 1})
        self._bindings.put_many([{**_binding(tenant, a, name), "tenant": {"S": tenant}} for a in actor_ids])

    def _unbind(self, tenant: str, name: str, actor_ids: list[str]) -> None:
        self._bindings.delete_many([_binding(tenant, a, name) for a in actor_ids])
        for actor_id in actor_ids:
            self._mark(tenant, actor_id, "DELETE config_names :n", {":n": {name}})

    def _mark(self, tenant: str, actor_id: str, expression: str, values: dict[str, Any]) -> None:
        """The config's name added to or deleted from the actor's item; an actor that is gone has no item."""
        try:
            self._actors.update({"tenant": {"S": tenant}, "actor_id": {"S": actor_id}}, expression, values=values,
                                condition="attribute_exists(actor_id)")
        except ConditionFailed:
            pass
