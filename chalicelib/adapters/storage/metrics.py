"""The metrics table: PK ``tenant``, SK ``day`` (``YYYY-MM-DD``): Abaco's daily ``{date}-stats`` counters.

Counters only grow (one atomic ADD per event), so totals survive the deletion of what they count:
``/actors/utilization`` reports ``totalActors`` (every actor ever registered) from them.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from chalicelib.adapters.storage.base import Table
from chalicelib.wiring.resources import METRICS
from chalicelib.wiring.settings import Settings

ACTOR_TOTAL = "actor_total"


class MetricsStore:
    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self._table = Table(METRICS, settings, client)

    def increment(self, tenant: str, counter: str, by: int = 1) -> None:
        day = dt.datetime.now(dt.UTC).date().isoformat()
        self._table.update({"tenant": {"S": tenant}, "day": {"S": day}}, "ADD #c :n",
                           values={":n": by}, names={"#c": counter})

    def total(self, tenant: str, counter: str) -> int:
        return sum(int(item[counter]["N"]) for item in self._table.query(tenant) if counter in item)
