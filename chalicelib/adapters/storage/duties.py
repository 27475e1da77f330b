"""The duties table: PK ``name``. A lease per duty that must run once across all runner hosts.

A host runs a duty only while it holds the lease; it keeps the lease by renewing it when a third of it has
passed (``runners/duties/scheduler.py``), so one host stays in charge while it is alive, and another takes over when
its lease has expired. The renewal also records the passes run since the previous one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.storage.base import ConditionFailed, Table, from_dynamo
from chalicelib.domain.models import utcnow
from chalicelib.wiring.resources import DUTIES
from chalicelib.wiring.settings import Settings

_NO_JSON: frozenset[str] = frozenset()


@dataclass(frozen=True)
class DutyRuns:
    """Passes a holder ran since it last wrote its lease: how many, and the last one's start and length."""

    count: int
    last_at: float
    last_seconds: float


class DutyLeases:
    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self._table = Table(DUTIES, settings, client)

    def acquire(self, name: str, holder: str, now: float, lease_seconds: float,
                runs: DutyRuns | None = None) -> bool:
        """Take or renew the lease on ``name``; False while another holder's lease is live. ``runs``: the
        passes since the last renewal, recorded in the same write (for operators)."""
        sets = ["holder = :me", "lease_expires_at = :until", "acquired_time = if_not_exists(acquired_time, :t)"]
        values: dict[str, Any] = {":me": holder, ":until": now + lease_seconds, ":now": now, ":t": utcnow()}
        expression = ""
        if runs is not None and runs.count:
            sets += ["last_run_at = :ran", "last_run_seconds = :s", "last_error = :e"]
            values.update({":ran": runs.last_at, ":s": round(runs.last_seconds, 4), ":e": "", ":n": runs.count})
            expression = " ADD runs :n"
        try:
            self._table.update(
                {"name": {"S": name}}, "SET " + ", ".join(sets) + expression, values=values,
                condition="attribute_not_exists(#n) OR holder = :me OR lease_expires_at < :now",
                names={"#n": "name"})
        except ConditionFailed:
            return False
        return True

    def release(self, name: str, holder: str) -> None:
        try:
            self._table.update({"name": {"S": name}}, "SET lease_expires_at = :zero",
                               values={":zero": 0, ":me": holder}, condition="holder = :me")
        except ConditionFailed:
            pass

    def all(self) -> list[dict[str, Any]]:
        return sorted((from_dynamo(i, _NO_JSON) for i in self._table.scan()), key=lambda d: d["name"])
