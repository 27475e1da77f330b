"""The executions table: PK ``actor_dbid``, SK ``execution_id``.

Every runner write after the claim is conditional on the attempt number (the fencing token), so a
runner that lost its lease can never overwrite a newer attempt (reliability plan §1.3).
"""
from __future__ import annotations

import json
import time
from typing import Any

from chalicelib.errors import Conflict, NotFound
from chalicelib.models import AttemptRecord, Execution, ExecutionStatus, utcnow
from chalicelib.resources import EXECUTIONS
from chalicelib.settings import Settings
from chalicelib.storage.base import ConditionFailed, Table, from_dynamo, to_dynamo

_JSON_FIELDS = frozenset({"final_state", "attempts", "phases"})
_TERMINAL = (ExecutionStatus.COMPLETE.value, ExecutionStatus.ERROR.value)


def _to_item(execution: Execution) -> dict[str, Any]:
    data = execution.model_dump(mode="json")
    data["execution_id"] = data.pop("id")
    data["actor_dbid"] = execution.actor_dbid
    return to_dynamo(data, _JSON_FIELDS)


def _from_item(item: dict[str, Any]) -> Execution:
    data = from_dynamo(item, _JSON_FIELDS)
    data["id"] = data.pop("execution_id")
    data.pop("actor_dbid", None)
    data.pop("expires_at", None)
    return Execution.model_validate(data)


def _key(actor_dbid: str, execution_id: str) -> dict[str, Any]:
    return {"actor_dbid": {"S": actor_dbid}, "execution_id": {"S": execution_id}}


class ClaimRefused(Exception):
    """The claim did not apply; ``execution`` tells why (terminal, leased elsewhere, or exhausted)."""

    def __init__(self, execution: Execution | None) -> None:
        super().__init__("claim refused")
        self.execution = execution


class ExecutionStore:
    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self._table = Table(EXECUTIONS, settings, client)

    def create(self, execution: Execution) -> None:
        try:
            self._table.put(_to_item(execution), condition="attribute_not_exists(execution_id)")
        except ConditionFailed as exc:
            raise Conflict(f"Execution id {execution.id} already exists.") from exc

    def get(self, actor_dbid: str, execution_id: str) -> Execution:
        item = self._table.get(_key(actor_dbid, execution_id))
        if item is None:
            raise NotFound(f"Execution with id '{execution_id}' not found")
        return _from_item(item)

    def list(self, actor_dbid: str) -> list[Execution]:
        """All executions of an actor in creation order."""
        return sorted((_from_item(i) for i in self._table.query(actor_dbid)), key=lambda e: e.created_ns)

    def update_fields(self, execution: Execution, fields: dict[str, Any], condition: str | None = None,
                      values: dict[str, Any] | None = None) -> Execution:
        """SET the given fields in one UpdateItem, optionally conditional."""
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        vals = {f":v{i}": v for i, v in enumerate(_encode_fields(fields).values())}
        expression = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
        if values:
            vals.update(values)
        try:
            item = self._table.update(_key(execution.actor_dbid, execution.id), expression, values=vals,
                                      names={**names, "#st": "status"} if condition and "#st" in condition
                                      else names, condition=condition or "attribute_exists(execution_id)")
        except ConditionFailed as exc:
            raise Conflict(f"Execution {execution.id} changed concurrently.") from exc
        return _from_item(item)

    def claim(self, execution: Execution, runner_id: str, worker_id: str, lease_seconds: float,
              max_attempts: int) -> Execution:
        """SUBMITTED -> RUNNING, or take over a RUNNING execution whose lease expired."""
        now = time.time()
        current = execution
        history = list(current.attempts)
        if current.status == ExecutionStatus.RUNNING and current.runner_id:
            history.append(AttemptRecord(attempt=current.attempt, runner_id=current.runner_id,
                                         worker_id=current.worker_id, start_time=current.start_time,
                                         end_time=utcnow(), reason="runner_lost"))
        phases = dict(current.phases, claimed=now)
        fields = {"status": ExecutionStatus.RUNNING.value, "runner_id": runner_id, "worker_id": worker_id,
                  "lease_expires_at": now + lease_seconds, "attempt": current.attempt + 1,
                  "attempts": [a.model_dump(mode="json") for a in history], "phases": phases}
        condition = ("(#st = :submitted) OR (#st = :running AND lease_expires_at < :now "
                     "AND attempt < :max AND attempt = :seen)")
        values = {":submitted": ExecutionStatus.SUBMITTED.value, ":running": ExecutionStatus.RUNNING.value,
                  ":now": now, ":max": max_attempts, ":seen": current.attempt}
        try:
            return self.update_fields(current, fields, condition=condition, values=values)
        except Conflict as exc:
            latest = self._find(current)
            raise ClaimRefused(latest) from exc

    def renew(self, execution: Execution, lease_seconds: float, extra: dict[str, Any] | None = None) -> Execution:
        """Extend the lease (and record progress) only while we still hold this attempt."""
        fields = {"lease_expires_at": time.time() + lease_seconds, **(extra or {})}
        return self.update_fields(execution, fields, condition=_HOLDER, values=_holder_values(execution))

    def finish(self, execution: Execution, fields: dict[str, Any]) -> Execution:
        """The terminal write, fenced on runner and attempt."""
        return self.update_fields(execution, fields, condition=_HOLDER, values=_holder_values(execution))

    def fail(self, execution: Execution, message: str) -> Execution | None:
        """Any non-terminal execution -> ERROR with a reason; None when it is already terminal."""
        fields = {"status": ExecutionStatus.ERROR.value, "status_message": message, "finish_time": utcnow()}
        try:
            return self.update_fields(execution, fields, condition="NOT #st IN (:c, :e)",
                                      values={":c": _TERMINAL[0], ":e": _TERMINAL[1]})
        except Conflict:
            return None

    def _find(self, execution: Execution) -> Execution | None:
        item = self._table.get(_key(execution.actor_dbid, execution.id))
        return _from_item(item) if item else None


_HOLDER = "#st = :running AND runner_id = :runner AND attempt = :attempt"


def _holder_values(execution: Execution) -> dict[str, Any]:
    return {":running": ExecutionStatus.RUNNING.value, ":runner": execution.runner_id,
            ":attempt": execution.attempt}


def _encode_fields(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: (json.dumps(v) if k in _JSON_FIELDS else v) for k, v in fields.items()}
