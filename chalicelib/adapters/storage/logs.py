"""The logs table: PK ``execution_key`` (``{actor_dbid}#{execution_id}``), SK ``chunk`` (number).

Logs are chunked under DynamoDB's 400 KB item limit by *encoded bytes* (``CHUNK_BYTES`` of UTF-8 per item,
cut on character boundaries): a chunk cut by characters could pass the limit with CJK text or replaced
undecodable output (3 bytes a character), and its write would fail the execution. Chunks are cut from the
start, so appending output never moves an earlier boundary: a flush while the container runs writes only
the chunks that changed since this process last wrote them (the last one, mostly), not the whole log each
second. Items carry an ``expires_at`` TTL attribute that reads filter on too (emulators, and AWS for up to
two days, keep expired items).
"""
from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from typing import Any

from chalicelib.adapters.storage.base import Table
from chalicelib.wiring.resources import LOGS
from chalicelib.wiring.settings import Settings

# UTF-8 bytes of text per item: the item's other attributes and names fit in the rest of DynamoDB's
# 400 KB (409,600 bytes) item limit.
CHUNK_BYTES = 350_000
TRUNCATION_MARKER = "LOG LIMIT EXCEEDED; this execution log was TRUNCATED!"  # Abaco's exact marker
WRITTEN_MEMO_KEYS = 1024  # executions whose written chunks a process remembers (a few bytes each)


def execution_key(actor_dbid: str, execution_id: str) -> str:
    return f"{actor_dbid}#{execution_id}"


def cap(text: str, max_length: int) -> str:
    """Truncate at the configured maximum and append Abaco's marker."""
    if len(text) <= max_length:
        return text
    return text[:max_length] + "\n" + TRUNCATION_MARKER


def chunks(text: str, limit: int = CHUNK_BYTES) -> list[str]:
    """``text`` cut into pieces of at most ``limit`` UTF-8 bytes, on character boundaries."""
    data = text.encode("utf-8")
    out: list[str] = []
    start = 0
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # never split a character's bytes
            end -= 1
        out.append(data[start:end].decode("utf-8"))
        start = end
    return out or [""]


class LogStore:
    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self._table = Table(LOGS, settings, client)
        self._written: OrderedDict[tuple[str, int], list[bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def write(self, key: str, text: str, expires_at: int | None, first_chunk: int = 0, attempt: int = 0) -> None:
        """Write ``text`` as chunks starting at ``first_chunk`` (chunks before it are unchanged), fenced on
        the execution's ``attempt``: once attempt k+1 wrote, a late write of attempt k is refused with
        ``ConditionFailed`` (a ``Conflict``), so a paused runner never replaces the result's logs. Chunks
        this process already wrote with the same text for this attempt are not written again."""
        memo_key = (key, attempt)
        with self._lock:
            done = list(self._written.get(memo_key, []))
        for offset, chunk in enumerate(chunks(text)):
            digest = hashlib.blake2b(chunk.encode("utf-8"), digest_size=16).digest()
            if offset < len(done) and done[offset] == digest:
                continue
            self._put(key, first_chunk + offset, chunk, expires_at, attempt)
            done[offset:offset + 1] = [digest]
        with self._lock:
            self._written[memo_key] = done
            self._written.move_to_end(memo_key)
            while len(self._written) > WRITTEN_MEMO_KEYS:
                self._written.popitem(last=False)

    def _put(self, key: str, chunk: int, text: str, expires_at: int | None, attempt: int) -> None:
        item: dict[str, Any] = {"execution_key": {"S": key}, "chunk": {"N": str(chunk)},
                                "text": {"S": text}, "attempt": {"N": str(attempt)}}
        if expires_at is not None:
            item["expires_at"] = {"N": str(expires_at)}
        self._table.put(item, condition="attribute_not_exists(attempt) OR attempt <= :attempt",
                        values={":attempt": attempt})

    def read(self, key: str) -> str:
        """The newest attempt's chunks (an earlier attempt may have left more chunks than it)."""
        now = time.time()
        parts: list[tuple[int, int, str]] = []
        for item in self._table.query(key):
            expires = item.get("expires_at")
            if expires is not None and float(expires["N"]) <= now:
                continue
            parts.append((int(item.get("attempt", {}).get("N", "0")), int(item["chunk"]["N"]), item["text"]["S"]))
        newest = max((attempt for attempt, _, _ in parts), default=0)
        return "".join(text for attempt, _, text in sorted(parts) if attempt == newest)

    def delete(self, key: str) -> None:
        keys = [{"execution_key": item["execution_key"], "chunk": item["chunk"]}
                for item in self._table.query(key)]
        self._table.delete_many(keys)
