"""The workers table: PK ``actor_dbid``, SK ``worker_id``; a keys-only index by tenant counts a tenant's."""
from __future__ import annotations

from typing import Any

from chalicelib.adapters.storage.base import ConditionFailed, Table, from_dynamo, to_dynamo
from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.models import Worker, WorkerStatus
from chalicelib.wiring.resources import TENANT_WORKERS_INDEX, WORKERS
from chalicelib.wiring.settings import Settings

_NO_JSON: frozenset[str] = frozenset()


def _to_item(worker: Worker) -> dict[str, Any]:
    data = worker.model_dump(mode="json")
    data["worker_id"] = data.pop("id")
    data["actor_dbid"] = worker.actor_dbid
    return to_dynamo(data, _NO_JSON)


def _from_item(item: dict[str, Any]) -> Worker:
    data = from_dynamo(item, _NO_JSON)
    data["id"] = data.pop("worker_id")
    data.pop("actor_dbid", None)
    return Worker.model_validate(data)


def _key(actor_dbid: str, worker_id: str) -> dict[str, Any]:
    return {"actor_dbid": {"S": actor_dbid}, "worker_id": {"S": worker_id}}


class WorkerStore:
    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self._table = Table(WORKERS, settings, client)

    def create(self, worker: Worker) -> None:
        try:
            self._table.put(_to_item(worker), condition="attribute_not_exists(worker_id)")
        except ConditionFailed as exc:
            raise Conflict(f"Worker id {worker.id} already exists.") from exc

    def get(self, actor_dbid: str, worker_id: str) -> Worker:
        item = self._table.get(_key(actor_dbid, worker_id))
        if item is None:
            raise NotFound(f"Worker with id '{worker_id}' not found")
        return _from_item(item)

    def find(self, actor_dbid: str, worker_id: str, consistent: bool = True) -> Worker | None:
        item = self._table.get(_key(actor_dbid, worker_id), consistent=consistent)
        return _from_item(item) if item else None

    def list(self, actor_dbid: str) -> list[Worker]:
        return sorted((_from_item(i) for i in self._table.query(actor_dbid)), key=lambda w: w.create_time)

    def count(self, tenant: str) -> int:
        """A tenant's workers: a count of the keys-only tenant index (one request per megabyte of keys)."""
        return self._table.count("tenant", tenant, index=TENANT_WORKERS_INDEX)

    def all(self) -> list[Worker]:
        return [_from_item(i) for i in self._table.scan()]

    def update(self, worker: Worker, fields: dict[str, Any],
               only_from: set[WorkerStatus] | None = None) -> Worker | None:
        """SET fields in one conditional update; None when the record is gone, is another incarnation (a later
        request reusing the worker's id: its ``create_time`` differs) or is not in ``only_from``."""
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        values: dict[str, Any] = {f":v{i}": v for i, v in enumerate(fields.values())}
        values[":incarnation"] = worker.create_time
        condition = "attribute_exists(worker_id) AND create_time = :incarnation"
        if only_from:
            placeholders = [f":s{i}" for i, _ in enumerate(only_from)]
            values.update({p: s.value for p, s in zip(placeholders, only_from, strict=True)})
            condition += f" AND #st IN ({', '.join(placeholders)})"
            names["#st"] = "status"
        expression = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
        try:
            item = self._table.update(_key(worker.actor_dbid, worker.id), expression, values=values,
                                      names=names, condition=condition)
        except ConditionFailed:
            return None
        return _from_item(item)

    def wake(self, worker: Worker) -> bool:
        """Mark an untaken request woken (its start request goes to the wake queue), once: False when it
        was taken, removed or woken already. A full host declines only requests not woken, so a decline and
        a wake of one record cannot both succeed."""
        try:
            self._table.update(_key(worker.actor_dbid, worker.id), "SET woken = :t",
                               values={":t": True, ":r": WorkerStatus.REQUESTED.value, ":c": worker.create_time},
                               names={"#st": "status"},
                               condition="#st = :r AND create_time = :c AND NOT woken = :t")
        except ConditionFailed:
            return False
        return True

    def park(self, worker: Worker) -> Worker | None:
        """READY -> parked: its host stops polling the inbox, so a message must wake it (``wake_parked``).
        Conditional on this incarnation, READY and its host: None when it was asked to stop, taken over or
        removed meanwhile (the worker then leaves as before)."""
        return self._transition(worker, "SET parked = :t, woken = :f",
                                "#st = :ready AND create_time = :c AND host_id = :h AND NOT parked = :t",
                                {":h": worker.host_id})

    def wake_parked(self, worker: Worker) -> Worker | None:
        """Parked -> woken (its activation request goes to the wake queue), once: None when another message,
        the worker itself or a host's time-to-live sweep got there first. One wake, one request."""
        return self._transition(worker, "SET parked = :f, woken = :t",
                                "#st = :ready AND create_time = :c AND parked = :t")

    def activate(self, worker: Worker, host_id: str) -> Worker | None:
        """A host takes a woken parked worker (any host of the pool: a parked worker has no thread and no
        container): woken -> polling on ``host_id``. Exactly one host wins a wake; a copy delivered twice,
        or late, finds it taken and is dropped."""
        return self._transition(worker, "SET woken = :f, host_id = :h",
                                "#st = :ready AND create_time = :c AND woken = :t AND NOT parked = :t",
                                {":h": host_id})

    def _transition(self, worker: Worker, expression: str, condition: str,
                    extra: dict[str, Any] | None = None) -> Worker | None:
        values = {":t": True, ":f": False, ":ready": WorkerStatus.READY.value, ":c": worker.create_time,
                  **(extra or {})}
        used = {k: v for k, v in values.items() if k in expression or k in condition}
        try:
            item = self._table.update(_key(worker.actor_dbid, worker.id), expression, values=used,
                                      names={"#st": "status"}, condition=condition)
        except ConditionFailed:
            return None
        return _from_item(item)

    def delete(self, actor_dbid: str, worker_id: str, create_time: str | None = None,
               only_from: WorkerStatus | None = None, unless_woken: bool = False, only_parked: bool = False) -> bool:
        """Delete the record; with ``create_time``, only that incarnation of the worker id (a slot's id
        is reused by the next worker of the slot); with ``only_from``, only while it is in that status;
        with ``unless_woken``, only while no message has woken it; with ``only_parked``, only while parked
        (no host polls for it). False when a condition did not hold."""
        conditions, values, names = [], {}, {}
        if only_parked:
            conditions.append("parked = :p")
            values[":p"] = True
        if unless_woken:
            conditions.append("NOT woken = :w")
            values[":w"] = True
        if create_time is not None:
            conditions.append("create_time = :t")
            values[":t"] = create_time
        if only_from is not None:
            conditions.append("#st = :s")
            values[":s"] = only_from.value
            names["#st"] = "status"
        try:
            self._table.delete(_key(actor_dbid, worker_id), condition=" AND ".join(conditions) or None,
                               values=values or None, names=names or None)
        except ConditionFailed:
            return False
        return True
