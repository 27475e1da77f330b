"""The hosts table: PK ``host_id``. One record per runner host: what it serves, its heartbeat and its
workers, so operators (and the reconciler) can tell a live host from a dead one."""
from __future__ import annotations

import time
from typing import Any

from chalicelib.adapters.storage.base import Table, from_dynamo, to_dynamo
from chalicelib.domain.models import Host, utcnow
from chalicelib.wiring.resources import HOSTS
from chalicelib.wiring.settings import Settings

_JSON_FIELDS = frozenset({"pools", "workers", "busy", "last_executions", "wake_wait_s"})
RECORD_TTL_SECONDS = 86_400  # a host silent for a day disappears (reads filter on it too)


def _to_item(host: Host) -> dict[str, Any]:
    data = host.model_dump(mode="json")
    data["host_id"] = data.pop("id")
    data["expires_at"] = int(host.heartbeat_at + RECORD_TTL_SECONDS)
    return to_dynamo(data, _JSON_FIELDS)


def _from_item(item: dict[str, Any]) -> Host:
    data = from_dynamo(item, _JSON_FIELDS)
    data["id"] = data.pop("host_id")
    data.pop("expires_at", None)
    return Host.model_validate(data)


class HostStore:
    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self._table = Table(HOSTS, settings, client)

    def put(self, host: Host) -> Host:
        """Write the whole record with a fresh heartbeat (an upsert: it re-creates a record an
        emulator restart wiped)."""
        now = time.time()
        host = host.model_copy(update={"heartbeat_at": now, "last_heartbeat_time": utcnow()})
        self._table.put(_to_item(host))
        return host

    def get(self, host_id: str) -> Host | None:
        item = self._table.get({"host_id": {"S": host_id}})
        host = _from_item(item) if item else None
        return host if host is not None and _alive_record(host) else None

    def all(self) -> list[Host]:
        hosts = [_from_item(i) for i in self._table.scan()]
        return sorted((h for h in hosts if _alive_record(h)), key=lambda h: h.started_at)

    def delete(self, host_id: str) -> None:
        self._table.delete({"host_id": {"S": host_id}})


def _alive_record(host: Host) -> bool:
    return host.heartbeat_at + RECORD_TTL_SECONDS > time.time()
