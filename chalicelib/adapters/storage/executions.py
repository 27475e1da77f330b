"""The executions table: PK ``actor_dbid``, SK ``execution_id``; the sparse ``open`` index by runner pool.

Every runner write after the claim is conditional on the runner and the attempt number (the fencing
token), so a runner that lost its lease can never overwrite a newer attempt (reliability plan §1.3). Each
write's condition, and the status it writes, are built from the state machine's table
(``chalicelib.domain.execution_machine``): a write here names its move, never a status of its own.
``open_pool`` and the stored inbox message exist only while the execution is not terminal: the terminal
write removes them, so the ``open`` index holds exactly the work in flight. ``open_pool`` is stored
write-sharded (``{pool}#{n}``) and read back as the pool name; the index is read whole (one Scan), so no
reader depends on the number of shards.

The terminal write (``finish``, ``fail``, a legacy record) also sets the ``expires_at`` TTL (the
``execution_ex`` setting); once it applied, the execution is added to the actor's totals
(``chalicelib/adapters/storage/totals.py``: never twice), so the summary reads four counters instead of
the actor's whole history.
Reads are paged (``page``): no call reads a whole partition.
"""
from __future__ import annotations

import json
import zlib
from collections.abc import Collection, Iterator
from typing import Any

from chalicelib.adapters.storage import totals
from chalicelib.adapters.storage.base import ConditionFailed, Table, epoch, from_dynamo, to_dynamo
from chalicelib.domain import clock
from chalicelib.domain.errors import BadRequest, Conflict, NotFound
from chalicelib.domain.execution_machine import EXECUTION_MACHINE, Move
from chalicelib.domain.expiry import execution_expires_at
from chalicelib.domain.models import AttemptRecord, Execution, ExecutionStatus, utcnow
from chalicelib.domain.paging import Page, decode_cursor, encode_cursor
from chalicelib.wiring.resources import EXECUTIONS, OPEN_INDEX, TENANT_TIME_INDEX
from chalicelib.wiring.settings import Settings

_JSON_FIELDS = frozenset({"final_state", "attempts"})
_READ_AS_JSON = _JSON_FIELDS | {"phases"}  # phases: a map of numbers now, JSON text in older items
_OPEN_ONLY = ("open_pool", "inbox_message", "lease_expires_at")  # removed by every terminal write
# Write units are billed per 1 KB of the larger item before and after a write: a finished execution stays
# under 1 KB (bench/item_size.py). Defaults are not stored, phases are a map of numbers to the ms, and the
# attempt ``finish`` closes is only its reason (``closing_reason``), rebuilt from the execution on reading.
_DEFAULTS_NOT_STORED = {"status_message": "", "force_quit": False, "enqueued": False, "final_state": {},
                        "attempts": [], "cpu": 0, "io": 0, "runtime": 0}
CLOSING_REASON = "closing_reason"
_FAIL_FROM = {ExecutionStatus.SUBMITTED: Move.FAIL_WAITING}  # ``fail(only_from=...)``: the moves it names
# The item mapping: model fields stored under another name, and attributes only the store writes (``_expression``).
_ATTRIBUTES = {"id": "execution_id"}
_FIELDS = {attribute: field for field, attribute in _ATTRIBUTES.items()}
_STORE_ONLY = ("actor_dbid", "expires_at")


def open_shard(pool: str, execution_id: str, shards: int) -> str:
    """The sharded ``open`` index key of an execution: its pool and a stable shard of its id."""
    return f"{pool}#{zlib.crc32(execution_id.encode()) % shards}"


def _to_item(execution: Execution, shards: int = 1) -> dict[str, Any]:
    data = {_ATTRIBUTES.get(name, name): value for name, value in execution.model_dump(mode="json").items()
            if name not in _DEFAULTS_NOT_STORED or value != _DEFAULTS_NOT_STORED[name]}
    data["phases"] = _to_ms(data.get("phases") or {})
    data["actor_dbid"] = execution.actor_dbid
    if execution.open_pool:
        data["open_pool"] = open_shard(execution.open_pool, execution.id, shards)
    return to_dynamo(data, _JSON_FIELDS)


def _from_item(item: dict[str, Any]) -> Execution:
    data = {_FIELDS.get(name, name): value for name, value in from_dynamo(item, _READ_AS_JSON).items()
            if name not in _STORE_ONLY}
    if data.get("open_pool"):
        data["open_pool"] = data["open_pool"].rsplit("#", 1)[0]
    reason = data.pop(CLOSING_REASON, None)
    if reason is not None:  # the attempt ``finish`` closed: the execution's own fields (see above)
        data["attempts"] = [*data.get("attempts", []), AttemptRecord(
            attempt=data.get("attempt", 0), runner_id=data.get("runner_id") or "", worker_id=data.get("worker_id"),
            start_time=data.get("start_time"), end_time=data.get("finish_time"), exit_code=data.get("exit_code"),
            reason=reason).model_dump(mode="json")]
    return Execution.model_validate(data)


def _to_ms(phases: dict[str, float]) -> dict[str, float]:
    return {name: round(stamp, 3) for name, stamp in phases.items()}


_KEYS = ("actor_dbid", "execution_id")


def _check_start(start: dict[str, Any] | None, pk: str, value: str) -> None:
    if start is not None and start.get(pk) != {"S": value}:
        raise BadRequest("cursor is not valid for this collection; use the value of _metadata.next_cursor.")


def _live(item: dict[str, Any] | None) -> dict[str, Any] | None:
    """None for an item whose TTL passed (DynamoDB deletes expired items within days; emulators never)."""
    if item is None:
        return None
    expires = item.get("expires_at")
    return None if expires is not None and float(expires["N"]) <= epoch() else item


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
        self._settings = settings
        self._totals = totals.ActorTotals(settings, client)

    # --- reads ----------------------------------------------------------------------------------
    def create(self, execution: Execution) -> None:
        """A new execution (a conditional put); a terminal one (a legacy record) also counts in the totals."""
        item = _to_item(execution, self._settings.open_index_shards)
        condition = "attribute_not_exists(execution_id)"
        if execution.status not in (ExecutionStatus.COMPLETE, ExecutionStatus.ERROR):
            try:
                self._table.put(item, condition=condition)
            except ConditionFailed as exc:
                raise Conflict(f"Execution id {execution.id} already exists.") from exc
            return
        expires = execution_expires_at(self._settings, execution.tenant)
        if expires is not None:
            item["expires_at"] = {"N": str(expires)}
        try:
            self._table.put(item, condition=condition)
        except ConditionFailed as exc:
            raise Conflict(f"Execution id {execution.id} already exists.") from exc
        self._totals.add(execution, execution.model_dump())

    def get(self, actor_dbid: str, execution_id: str) -> Execution:
        found = self.find(actor_dbid, execution_id)
        if found is None:
            raise NotFound(f"Execution with id '{execution_id}' not found")
        return found

    def find(self, actor_dbid: str, execution_id: str) -> Execution | None:
        item = _live(self._table.get(_key(actor_dbid, execution_id)))
        return _from_item(item) if item else None

    def list(self, actor_dbid: str) -> list[Execution]:
        """All executions of an actor in creation order (tests and small actors only: use ``page``)."""
        live = (i for i in self._table.query(actor_dbid) if _live(i))
        return sorted((_from_item(i) for i in live), key=lambda e: e.created_ns)

    def page(self, actor_dbid: str, limit: int, cursor: str | None = None) -> Page:
        """At most ``limit`` executions of an actor (in id order, expired ones left out) and the cursor of
        the next page. A cursor of another actor's partition is a 400."""
        start = decode_cursor(cursor)
        _check_start(start, "actor_dbid", actor_dbid)
        items, last = self._table.query_page(actor_dbid, limit, start, live_after=epoch())
        return Page([_from_item(i) for i in items], encode_cursor(last))

    def walk(self, actor_dbid: str, start: dict[str, Any] | None = None) -> Iterator[tuple[Execution, dict[str, Any]]]:
        """An actor's executions in id order from ``start`` on, each with its position (searches)."""
        _check_start(start, "actor_dbid", actor_dbid)
        for item, key in self._table.walk("actor_dbid", actor_dbid, _KEYS, start):
            if _live(item):
                yield _from_item(item), key

    def walk_tenant(self, tenant: str, start: dict[str, Any] | None = None, since: str = "0",
                    until: str = "~", actor_dbid: str | None = None) -> Iterator[tuple[Execution, dict[str, Any]]]:
        """A tenant's executions in ``message_received_time`` order within [since, until], through the
        keys-only time index and a BatchGetItem per page, each with its position (tenant-wide searches).
        ``actor_dbid`` keeps one actor's: the index keys name the actor, so others are never fetched."""
        _check_start(start, "tenant", tenant)
        keys = ("tenant", "message_received_time", *_KEYS)
        batch: list[dict[str, Any]] = []
        for _item, key in self._table.walk("tenant", tenant, keys, start, index=TENANT_TIME_INDEX,
                                          sk_range=("message_received_time", since, until), page=100):
            if actor_dbid is not None and key["actor_dbid"]["S"] != actor_dbid:
                continue
            batch.append(key)
            if len(batch) == 100:
                yield from self._fetch(batch)
                batch = []
        yield from self._fetch(batch)

    def _fetch(self, positions: list[dict[str, Any]]) -> Iterator[tuple[Execution, dict[str, Any]]]:
        found = {(i["actor_dbid"]["S"], i["execution_id"]["S"]): i
                 for i in self._table.get_many([{k: p[k] for k in _KEYS} for p in positions])}
        for position in positions:
            item = _live(found.get((position["actor_dbid"]["S"], position["execution_id"]["S"])))
            if item:
                yield _from_item(item), position

    def keys_page(self, actor_dbid: str, limit: int) -> list[tuple[str, str]]:
        """(execution id, status) of at most ``limit`` of an actor's executions, expired ones included:
        what the cleanup of a deleted actor removes in one bounded pass."""
        items, _ = self._table.query_page(actor_dbid, limit, consistent=True,
                                          projection="execution_id, #st")
        return [(i["execution_id"]["S"], i.get("status", {}).get("S", "")) for i in items]

    def delete_many(self, actor_dbid: str, execution_ids: list[str]) -> None:
        self._table.delete_many([_key(actor_dbid, e) for e in execution_ids])

    def open_executions(self, pools: Collection[str]) -> Iterator[tuple[str, Execution]]:
        """Every SUBMITTED or RUNNING execution of ``pools``, with its pool: one paginated Scan of the sparse
        ``open`` index for every pool and shard at once (one request per megabyte of the index), whatever the
        number of idle actors. The index holds only the work in flight, so it is as large as the backlog,
        which the duties read in full anyway (they serve every pool: a Query per pool and shard read the same
        items in more requests); the items of a pool not asked for are read and left out. Lazy: a page at a
        time, as far as the caller iterates. The index is eventually consistent and projects only what the
        autoscaler, the reconciler and the health gauges read (no history, no message): callers that write
        re-read with ``find`` and re-check with a conditional write."""
        for item in self._table.scan_index(OPEN_INDEX):
            execution = _from_item(item)
            pool = execution.open_pool  # without its write shard
            if pool is not None and pool in pools:
                yield pool, execution

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
        expression, names, vals = _expression(fields, condition, values, remove)
        try:
            item = self._table.update(_key(actor_dbid, execution_id), expression, values=vals,
                                      names=names, condition=condition or "attribute_exists(execution_id)")
        except ConditionFailed as exc:
            raise Conflict(f"Execution {execution_id} changed concurrently.") from exc
        return _from_item(item)

    def _terminal(self, execution: Execution, fields: dict[str, Any], condition: str, values: dict[str, Any],
                  remove: tuple[str, ...]) -> Execution:
        """The terminal write: ``fields`` (with the TTL), one conditional update; then, since only one writer
        gets past its condition, the execution's addition to the actor's totals."""
        expires = execution_expires_at(self._settings, execution.tenant)
        stored = {**fields, "expires_at": expires} if expires is not None else dict(fields)
        done = self._update(execution.actor_dbid, execution.id, stored, condition, values, remove)
        self._totals.add(execution, fields)
        return done

    def totals(self, actor_dbid: str) -> dict[str, int]:  # kept by the terminal writes (storage/totals.py)
        return self._totals.read(actor_dbid)

    def forget_totals(self, actor_dbid: str) -> None:
        self._totals.forget(actor_dbid)

    def mark_sent(self, execution: Execution) -> Execution:
        """The inbox message is on SQS (again): record when, unless the execution finished meanwhile."""
        return self.move(Move.MARK_SENT, execution, {"enqueued": True, "last_sent_at": clock.now()})

    def move(self, move: Move, execution: Execution, fields: dict[str, Any],
             remove: tuple[str, ...] = ()) -> Execution:
        """One move of the machine: its condition and its status from the table, with ``fields``."""
        condition, values = condition_of(move, execution)
        return self.update_fields(execution, _moved(move, fields), condition=condition, values=values,
                                  remove=remove)

    def terminal_move(self, move: Move, execution: Execution, fields: dict[str, Any]) -> Execution:
        """A move into a terminal status: the machine's condition, with the TTL and the actor's totals in the
        same transaction (``_terminal``); the open-index attributes go."""
        condition, values = condition_of(move, execution)
        return self._terminal(execution, _moved(move, fields), condition, values, _OPEN_ONLY)

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
        """The terminal write, fenced on runner and attempt; closes the attempt in the history (stored as
        ``closing_reason``: the entry is the execution's own fields, see ``_DEFAULTS_NOT_STORED``)."""
        stored = {**fields, CLOSING_REASON: reason}
        if execution.attempts:
            stored["attempts"] = [a.model_dump(mode="json") for a in execution.attempts]
        return self.terminal_move(Move.FINISH, execution, stored)

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
            return self.terminal_move(move, execution, fields)
        except Conflict:
            return None


def _expression(fields: dict[str, Any], condition: str | None, values: dict[str, Any] | None,
                remove: tuple[str, ...]) -> tuple[str, dict[str, str], dict[str, Any]]:
    """SET ``fields`` and REMOVE ``remove``: the expression, its names and its (plain) values."""
    names = {f"#f{i}": _ATTRIBUTES.get(k, k) for i, k in enumerate(fields)}
    vals = {f":v{i}": v for i, v in enumerate(_encode_fields(fields).values())}
    expression = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
    if remove:
        names.update({f"#r{i}": _ATTRIBUTES.get(k, k) for i, k in enumerate(remove)})
        expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
    if values:
        vals.update(values)
    if condition and "#st" in condition:
        names["#st"] = "status"
    return expression, names, vals


def _encode_fields(fields: dict[str, Any]) -> dict[str, Any]:
    fields = {**fields, "phases": _to_ms(fields["phases"])} if fields.get("phases") else fields
    return {k: (json.dumps(v) if k in _JSON_FIELDS else v) for k, v in fields.items()}
