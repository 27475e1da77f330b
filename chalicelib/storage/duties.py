"""The duties table: PK ``name``. A lease per duty that must run once across all runner hosts.

A host runs a duty only while it holds the lease; it keeps the lease by renewing it on every pass, so one
host stays in charge while it is alive, and another takes over when its lease has expired.
"""
from __future__ import annotations

from typing import Any

from chalicelib.models import utcnow
from chalicelib.resources import DUTIES
from chalicelib.settings import Settings
from chalicelib.storage.base import ConditionFailed, Table, from_dynamo

_NO_JSON: frozenset[str] = frozenset()


class DutyLeases:
    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self._table = Table(DUTIES, settings, client)

    def acquire(self, name: str, holder: str, now: float, lease_seconds: float) -> bool:
        """Take or renew the lease on ``name``; False while another holder's lease is live."""
        try:
            self._table.update(
                {"name": {"S": name}},
                "SET holder = :me, lease_expires_at = :until, acquired_time = if_not_exists(acquired_time, :t)",
                values={":me": holder, ":until": now + lease_seconds, ":now": now, ":t": utcnow()},
                condition="attribute_not_exists(#n) OR holder = :me OR lease_expires_at < :now",
                names={"#n": "name"})
        except ConditionFailed:
            return False
        return True

    def record_run(self, name: str, holder: str, now: float, seconds: float, error: str = "") -> None:
        """What the last pass did (for operators); only the holder writes it."""
        try:
            self._table.update(
                {"name": {"S": name}},
                "SET last_run_at = :now, last_run_seconds = :s, last_error = :e ADD runs :one",
                values={":now": now, ":s": round(seconds, 4), ":e": error, ":one": 1, ":me": holder},
                condition="holder = :me")
        except ConditionFailed:
            pass

    def release(self, name: str, holder: str) -> None:
        try:
            self._table.update({"name": {"S": name}}, "SET lease_expires_at = :zero",
                               values={":zero": 0, ":me": holder}, condition="holder = :me")
        except ConditionFailed:
            pass

    def all(self) -> list[dict[str, Any]]:
        return sorted((from_dynamo(i, _NO_JSON) for i in self._table.scan()), key=lambda d: d["name"])
