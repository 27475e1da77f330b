"""An actor's totals (executions, cpu, io, runtime) as counters on its item, added with the terminal write.

Abaco's executions summary summed every execution of the actor on each request; at 30,000 executions the
answer passed Lambda's 6 MB. The counters ride on the terminal write of an execution in one
TransactWriteItems (the execution's conditional write and an ``ADD`` on the actor item), so a total is
counted exactly once: when the execution's condition fails nothing is added, and a retried terminal write
finds the execution terminal and fails its condition. An actor item that is gone (deleted under an older
release) must not be re-created by the ``ADD``: its condition fails and the execution is written alone.
"""
from __future__ import annotations

from typing import Any

from chalicelib.adapters.storage.base import Table, serialize
from chalicelib.domain.errors import Unavailable
from chalicelib.domain.models import Execution
from chalicelib.wiring.resources import ACTORS
from chalicelib.wiring.settings import Settings

COUNTERS = ("total_executions", "total_cpu", "total_io", "total_runtime")
_ADD = "ADD total_executions :one, total_cpu :cpu, total_io :io, total_runtime :rt"
_CONDITION_FAILED = "ConditionalCheckFailed"


def actor_key(tenant: str, actor_id: str) -> dict[str, Any]:
    return {"tenant": {"S": tenant}, "actor_id": {"S": actor_id}}


class ActorTotals:
    """Runs a terminal write of the executions table together with the actor's counters."""

    def __init__(self, settings: Settings, executions: Table) -> None:
        self._actors = ACTORS.physical(settings.resource_prefix)
        self._executions = executions

    def apply(self, write: dict[str, Any], execution: Execution, final: dict[str, Any]) -> bool:
        """Apply ``write`` (a TransactWriteItems ``Put`` or ``Update`` of the executions table) and add
        ``final``'s cpu, io and runtime to the actor; False when the write's own condition failed."""
        values = {":one": 1, ":cpu": int(final.get("cpu") or 0), ":io": int(final.get("io") or 0),
                  ":rt": int(final.get("runtime") or 0)}
        add = {"Update": {"TableName": self._actors, "Key": actor_key(execution.tenant, execution.actor_id),
                          "UpdateExpression": _ADD, "ConditionExpression": "attribute_exists(actor_id)",
                          "ExpressionAttributeValues": serialize(values)}}
        reasons = self._executions.transact([write, add])
        if not reasons:
            return True
        if reasons[0] == _CONDITION_FAILED:
            return False
        if len(reasons) > 1 and reasons[1] == _CONDITION_FAILED:  # the actor is gone: no counters to add
            return self._executions.transact([write]) == []
        raise Unavailable(f"terminal write of {execution.id} cancelled: {reasons}")  # a conflict: retry
