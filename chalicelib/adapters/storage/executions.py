"""The executions table: PK ``actor_dbid``, SK ``execution_id``; the sparse ``open`` index by runner pool.

Every runner write after the claim is conditional on the runner and the attempt number (the fencing
token), so a runner that lost its lease can never overwrite a newer attempt (reliability plan §1.3). Each
write's condition, and the status it writes, are built from the state machine's table
(``chalicelib.domain.execution_machine``): a write here names its move, never a status of its own.
``open_pool`` and the stored inbox message exist only while the execution is not terminal: the terminal
write removes them, so the ``open`` index holds exactly the work in flight.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from chalicelib.adapters.storage.base import ConditionFailed, Table, from_dynamo, to_dynamo
from chalicelib.domain import clock
from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.execution_machine import EXECUTION_MACHINE, Move
from chalicelib.domain.models import AttemptRecord, Execution, ExecutionStatus, utcnow
from chalicelib.wiring.resources import EXECUTIONS, OPEN_INDEX
from chalicelib.wiring.settings import Settings

_JSON_FIELDS = frozenset({"final_state", "attempts", "phases"})
_OPEN_ONLY = ("open_pool", "inbox_message", "lease_expires_at")  # removed by every terminal write
_FAIL_FROM = {ExecutionStatus.SUBMITTED: Move.FAIL_WAITING}  # ``fail(only_from=...)``: the moves it names


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


def condition_of(move: Move, execution: Execution | None = None) -> tuple[str, dict[str, Any]]:
    """The condition of ``move`` from the machine's table: the status is one of its sources, and for a
    move only the holder may make, the runner and attempt are ``execution``'s (the fencing token). The
    status is ``#st``; value names carry the move's name, so two moves' conditions can be combined."""
    rule = EXECUTION_MACHINE[move]
    values: dict[str, Any] = {f":{move.value}{i}": s.value for i, s in enumerate(sorted(rule.sources))}
    listed = ", ".join(values)
    condition = f"#st = {listed}" if len(values) == 1 else f"#st IN ({listed})"
    if rule.held:
        if execution is None:
            raise ValueError(f"{move} is fenced on an attempt: pass the held execution")
        condition += " AND runner_id = :runner AND attempt = :attempt"
        values.update({":runner": execution.runner_id, ":attempt": execution.attempt})
    return condition, values


def _moved(move: Move, fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` with the status ``move`` leaves (unchanged for a move that keeps the status)."""
    target = EXECUTION_MACHINE[move].target
    return fields if target is None else {**fields, "status": target.value}


def attempt_record(execution: Execution, reason: str, exit_code: int | None = None) -> dict[str, Any]:
    """The history entry closing the execution's current attempt."""
    return AttemptRecord(attempt=execution.attempt, runner_id=execution.runner_id or "",
                         worker_id=execution.worker_id, start_time=execution.start_time, end_time=utcnow(),
                         exit_code=exit_code, reason=reason).model_dump(mode="json")


class ClaimRefused(Exception):
    """The claim did not apply; ``execution`` is the current record (None when it is gone)."""

    def __init__(self, execution: Execution | None) -> None:
        super().__init__("claim refused")
        self.execution = execution


class ExecutionStore:
    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self._table = Table(EXECUTIONS, settings, client)

    # --- reads ----------------------------------------------------------------------------------
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

    def find(self, actor_dbid: str, execution_id: str) -> Execution | None:
        item = self._table.get(_key(actor_dbid, execution_id))
        return _from_item(item) if item else None

    def list(self, actor_dbid: str) -> list[Execution]:
        """All executions of an actor in creation order."""
        return sorted((_from_item(i) for i in self._table.query(actor_dbid)), key=lambda e: e.created_ns)

    def open_in_pool(self, pool: str) -> Iterator[Execution]:
        """Every SUBMITTED or RUNNING execution of a runner pool (one index query, whatever the number of
        idle actors). The index is eventually consistent: callers re-check with a conditional write."""
        for item in self._table.query_index(OPEN_INDEX, "open_pool", pool):
            yield _from_item(item)

    def for_tenant(self, tenant: str) -> list[Execution]:
        """Every execution of a tenant, including those of deleted actors (a scan: admin views only)."""
        return [e for e in (_from_item(i) for i in self._table.scan()) if e.tenant == tenant]

    # --- writes ---------------------------------------------------------------------------------
    def update_fields(self, execution: Execution, fields: dict[str, Any], condition: str | None = None,
                      values: dict[str, Any] | None = None, remove: tuple[str, ...] = ()) -> Execution:
        """SET the given fields (and REMOVE ``remove``) in one UpdateItem, optionally conditional.
        A condition refers to the status as ``#st``."""
        return self._update(execution.actor_dbid, execution.id, fields, condition, values, remove)

    def _update(self, actor_dbid: str, execution_id: str, fields: dict[str, Any], condition: str | None,
                values: dict[str, Any] | None, remove: tuple[str, ...] = ()) -> Execution:
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        vals = {f":v{i}": v for i, v in enumerate(_encode_fields(fields).values())}
        expression = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
        if remove:
            names.update({f"#r{i}": k for i, k in enumerate(remove)})
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
        if values:
            vals.update(values)
        if condition and "#st" in condition:
            names["#st"] = "status"
        try:
            item = self._table.update(_key(actor_dbid, execution_id), expression, values=vals,
                                      names=names, condition=condition or "attribute_exists(execution_id)")
        except ConditionFailed as exc:
            raise Conflict(f"Execution {execution_id} changed concurrently.") from exc
        return _from_item(item)

    def mark_sent(self, execution: Execution) -> Execution:
        """The inbox message is on SQS (again): record when, unless the execution finished meanwhile."""
        return self.move(Move.MARK_SENT, execution, {"enqueued": True, "last_sent_at": clock.now()})

    def move(self, move: Move, execution: Execution, fields: dict[str, Any],
             remove: tuple[str, ...] = ()) -> Execution:
        """One move of the machine: its condition and its status from the table, with ``fields``."""
        condition, values = condition_of(move, execution)
        return self.update_fields(execution, _moved(move, fields), condition=condition, values=values,
                                  remove=remove)

    def request_force_quit(self, execution: Execution) -> Execution:
        """DELETE on a running execution: the runner reads the flag about once a second and stops it."""
        return self.move(Move.FORCE_QUIT, execution, {"force_quit": True})

    def claim(self, execution: Execution, runner_id: str, worker_id: str, lease_seconds: float,
              max_attempts: int, message_id: str) -> Execution:
        """SUBMITTED -> RUNNING, or take over a RUNNING execution whose lease expired, while fewer than
        ``max_attempts`` attempts were charged. The read copy must be current: the condition checks that
        the attempt number did not move, so the history written here is the one that was read."""
        now = clock.now()
        history = [a.model_dump(mode="json") for a in execution.attempts]
        if execution.status == ExecutionStatus.RUNNING and execution.runner_id:
            history.append(attempt_record(execution, "runner_lost"))
        fields = _moved(Move.CLAIM, {
            "runner_id": runner_id, "worker_id": worker_id, "lease_expires_at": now + lease_seconds,
            "attempt": execution.attempt + 1, "charged": execution.charged + 1, "max_attempts": max_attempts,
            "attempts": history, "phases": dict(execution.phases, claimed=now), "message_id": message_id})
        claim, claim_values = condition_of(Move.CLAIM)
        take_over, take_over_values = condition_of(Move.TAKE_OVER)
        condition = (f"attempt = :seen AND charged < :max AND "
                     f"({claim} OR ({take_over} AND lease_expires_at < :now))")
        values = {**claim_values, **take_over_values, ":now": now, ":max": max_attempts, ":seen": execution.attempt}
        try:
            return self.update_fields(execution, fields, condition=condition, values=values)
        except Conflict as exc:
            raise ClaimRefused(self.find(execution.actor_dbid, execution.id)) from exc

    def claim_unread(self, actor_dbid: str, execution_id: str, runner_id: str, worker_id: str,
                     lease_seconds: float, max_attempts: int, message_id: str) -> Execution | None:
        """``claim`` of an execution never claimed before (attempt 0, SUBMITTED) without reading it first:
        the condition is the one ``claim`` checks on such a record, and nothing written depends on a read
        (the history of an attempt-0 record is empty and stays so; ``claimed`` is added to the returned
        copy's phases only, for the attempt's next write of its phases to carry). None when the condition
        fails (gone, claimed before, terminal): the caller then reads the record and claims as usual."""
        now = clock.now()
        fields = _moved(Move.CLAIM, {"runner_id": runner_id, "worker_id": worker_id,
                                     "lease_expires_at": now + lease_seconds, "attempt": 1, "charged": 1,
                                     "max_attempts": max_attempts, "message_id": message_id})
        claim, values = condition_of(Move.CLAIM)
        condition = f"attempt = :zero AND charged < :max AND {claim}"
        values.update({":zero": 0, ":max": max_attempts})
        try:
            claimed = self._update(actor_dbid, execution_id, fields, condition, values)
        except Conflict:
            return None
        return claimed.model_copy(update={"phases": dict(claimed.phases, claimed=now)})

    def renew(self, execution: Execution, lease_seconds: float, extra: dict[str, Any] | None = None) -> Execution:
        """Extend the lease (and record progress) only while we still hold this attempt."""
        return self.move(Move.RENEW, execution, {"lease_expires_at": clock.now() + lease_seconds, **(extra or {})})

    def finish(self, execution: Execution, fields: dict[str, Any], reason: str) -> Execution:
        """The terminal write, fenced on runner and attempt; closes the attempt in the history."""
        history = [a.model_dump(mode="json") for a in execution.attempts]
        history.append(attempt_record(execution, reason, fields.get("exit_code")))
        return self.move(Move.FINISH, execution, {**fields, "attempts": history}, remove=_OPEN_ONLY)

    def release(self, execution: Execution, reason: str, charge: bool = True) -> Execution:
        """Hand the execution back (RUNNING -> SUBMITTED) for another attempt, fenced on our attempt.
        ``charge=False`` gives the attempt back (the container never started, so a re-run is harmless)."""
        history = [a.model_dump(mode="json") for a in execution.attempts]
        history.append(attempt_record(execution, reason))
        fields: dict[str, Any] = {"attempts": history}
        if not charge:
            fields["charged"] = max(execution.charged - 1, 0)
        return self.move(Move.RELEASE, execution, fields, remove=("lease_expires_at", "runner_id"))

    def fail(self, execution: Execution, message: str, reason: str | None = None,
             fenced: bool = False, only_from: ExecutionStatus | None = None) -> Execution | None:
        """Non-terminal -> ERROR with a reason (fenced on our attempt when ``fenced``; only from the status
        ``only_from`` when given); None when the execution is already terminal or the condition failed."""
        fields: dict[str, Any] = {"status_message": message, "finish_time": utcnow(),
                                  "phases": dict(execution.phases, finalised=clock.now())}
        if reason:
            fields["attempts"] = [*(a.model_dump(mode="json") for a in execution.attempts),
                                  attempt_record(execution, reason)]
        move = Move.FAIL_HELD if fenced else _FAIL_FROM[only_from] if only_from is not None else Move.FAIL
        try:
            return self.move(move, execution, fields, remove=_OPEN_ONLY)
        except Conflict:
            return None


def _encode_fields(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: (json.dumps(v) if k in _JSON_FIELDS else v) for k, v in fields.items()}
