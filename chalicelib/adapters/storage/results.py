"""The results table: PK ``execution_key`` (``{actor_dbid}#{execution_id}``), SK ``seq`` (number).

Each datagram an execution sends on ``/_abaco_results.sock`` is one item (Abaco's per-execution results
queue). ``GET .../results`` pops the oldest: a read, then a delete conditional on the item still being
there, so two concurrent pops never return the same result. Items carry an ``expires_at`` TTL that reads
filter on too (DynamoDB deletes expired items only eventually, emulators never).
"""
from __future__ import annotations

import time
from typing import Any

from chalicelib.adapters.storage.base import ConditionFailed, Table
from chalicelib.wiring.resources import RESULTS
from chalicelib.wiring.settings import Settings

MAX_RESULT_BYTES = 131_072  # Abaco: one result datagram is at most 128 KiB
SEQ_PER_ATTEMPT = 1_000_000_000  # seq = attempt * this + counter: results of a later attempt sort after
_POP_RETRIES = 5


def result_seq(attempt: int, counter: int) -> int:
    return attempt * SEQ_PER_ATTEMPT + counter


class ResultStore:
    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self._table = Table(RESULTS, settings, client)

    def append(self, key: str, seq: int, data: bytes, expires_at: int) -> None:
        if len(data) > MAX_RESULT_BYTES:
            raise ValueError(f"a result is at most {MAX_RESULT_BYTES} bytes")
        self._table.put({"execution_key": {"S": key}, "seq": {"N": str(seq)}, "data": {"B": data},
                         "expires_at": {"N": str(expires_at)}})

    def pop(self, key: str) -> bytes | None:
        """The oldest live result, removed; None when there is none."""
        for _ in range(_POP_RETRIES):
            item = self._oldest(key)
            if item is None:
                return None
            try:
                self._table.delete(_key(item), condition="attribute_exists(seq)")
            except ConditionFailed:
                continue  # another reader popped it first
            return bytes(item["data"]["B"])
        return None

    def count(self, key: str) -> int:
        now = time.time()
        return sum(1 for item in self._table.query(key) if not _expired(item, now))

    def delete_all(self, key: str) -> None:
        for item in self._table.query(key):
            self._table.delete(_key(item))

    def _oldest(self, key: str) -> dict[str, Any] | None:
        now = time.time()
        for item in self._table.query(key):  # ascending by seq
            if not _expired(item, now):
                return item
        return None


def _key(item: dict[str, Any]) -> dict[str, Any]:
    return {"execution_key": item["execution_key"], "seq": item["seq"]}


def _expired(item: dict[str, Any], now: float) -> bool:
    expires = item.get("expires_at")
    return expires is not None and float(expires["N"]) <= now
