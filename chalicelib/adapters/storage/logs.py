"""The logs table: PK ``execution_key`` (``{actor_dbid}#{execution_id}``), SK ``chunk`` (number).

Logs are chunked under DynamoDB's 400 KB item limit and capped per execution; items carry an
``expires_at`` TTL attribute that reads filter on too (emulators, and AWS for up to two days, keep
expired items).
"""
from __future__ import annotations

import time
from typing import Any

from chalicelib.adapters.storage.base import Table
from chalicelib.wiring.resources import LOGS
from chalicelib.wiring.settings import Settings

CHUNK_CHARS = 200_000  # characters per item; UTF-8 worst case stays under the 400 KB item limit
TRUNCATION_MARKER = "LOG LIMIT EXCEEDED; this execution log was TRUNCATED!"  # Abaco's exact marker


def execution_key(actor_dbid: str, execution_id: str) -> str:
    return f"{actor_dbid}#{execution_id}"


def cap(text: str, max_length: int) -> str:
    """Truncate at the configured maximum and append Abaco's marker."""
    if len(text) <= max_length:
        return text
    return text[:max_length] + "\n" + TRUNCATION_MARKER


class LogStore:
    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self._table = Table(LOGS, settings, client)

    def write(self, key: str, text: str, expires_at: int | None, first_chunk: int = 0, attempt: int = 0) -> None:
        """Write ``text`` as chunks starting at ``first_chunk`` (chunks before it are unchanged), fenced on
        the execution's ``attempt``: once attempt k+1 wrote, a late write of attempt k is refused with
        ``ConditionFailed`` (a ``Conflict``), so a paused runner never replaces the result's logs."""
        chunks = [text[i:i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)] or [""]
        for offset, chunk in enumerate(chunks):
            item: dict[str, Any] = {"execution_key": {"S": key}, "chunk": {"N": str(first_chunk + offset)},
                                    "text": {"S": chunk}, "attempt": {"N": str(attempt)}}
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
        for item in self._table.query(key):
            self._table.delete({"execution_key": item["execution_key"], "chunk": item["chunk"]})
