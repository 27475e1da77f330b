"""The configs table: PK ``tenant``, SK ``name``. Secret values arrive here already encrypted."""
from __future__ import annotations

from typing import Any

from chalicelib.adapters.storage.base import ConditionFailed, Table, from_dynamo, to_dynamo
from chalicelib.domain.errors import BadRequest, NotFound
from chalicelib.domain.models import ActorConfig, utcnow
from chalicelib.wiring.resources import CONFIGS
from chalicelib.wiring.settings import Settings

_JSON_FIELDS = frozenset({"actors", "actor_ids"})


def _key(tenant: str, name: str) -> dict[str, Any]:
    return {"tenant": {"S": tenant}, "name": {"S": name}}


def _to_item(config: ActorConfig) -> dict[str, Any]:
    return to_dynamo(config.model_dump(mode="json"), _JSON_FIELDS)


def _from_item(item: dict[str, Any]) -> ActorConfig:
    return ActorConfig.model_validate(from_dynamo(item, _JSON_FIELDS))


class ConfigStore:
    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self._table = Table(CONFIGS, settings, client)

    def create(self, config: ActorConfig) -> None:
        try:
            self._table.put(_to_item(config), condition="attribute_not_exists(#n)", names={"#n": "name"})
        except ConditionFailed as exc:
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
        return sorted((_from_item(i) for i in self._table.query(tenant)), key=lambda c: c.create_time)

    def replace(self, config: ActorConfig) -> ActorConfig:
        """Full replacement of an existing config (PUT)."""
        new = config.model_copy(update={"last_update_time": utcnow()})
        try:
            self._table.put(_to_item(new), condition="attribute_exists(#n)", names={"#n": "name"})
        except ConditionFailed as exc:
            raise NotFound(f"No config found: {config.name}.") from exc
        return new

    def delete(self, tenant: str, name: str) -> None:
        try:
            self._table.delete(_key(tenant, name), condition="attribute_exists(#n)", names={"#n": "name"})
        except ConditionFailed as exc:
            raise NotFound(f"No config found with name: {name}.") from exc
