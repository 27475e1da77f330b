"""The rate-limits table: one fixed-window request counter per (principal, window), expired by TTL.

The token bucket of ``chalicelib/edge/limits.py`` lives in one process, so N gunicorn workers or N warm
Lambda instances give a principal N times its rate. This counter is shared by every API process: one
conditional ``ADD`` per request that passed the in-process bucket, refused once the window's count reaches
the limit. Items expire with their window (TTL), and reads never need to filter them: a key names its window.
"""
from __future__ import annotations

import math
import time
from typing import Any

from chalicelib.adapters.storage.base import ConditionFailed, Table
from chalicelib.wiring.resources import RATE_LIMITS
from chalicelib.wiring.settings import Settings

EXPIRY_GRACE_SECONDS = 60  # kept a little past its window; DynamoDB deletes expired items within days anyway


class RateLimitStore:
    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self._table = Table(RATE_LIMITS, settings, client)

    def take(self, key: str, limit: int, window_seconds: int, now: float | None = None) -> int:
        """Count one request of ``key`` in the current window. Returns 0 when it is within ``limit``, else
        the whole seconds until the window ends (nothing is counted then: a refused request costs nothing)."""
        now = time.time() if now is None else now
        start = int(now // window_seconds) * window_seconds
        end = start + window_seconds
        try:
            self._table.update({"counter": {"S": f"{key}#{start}"}}, "ADD #n :one SET expires_at = :expires",
                               values={":one": 1, ":limit": limit, ":expires": end + EXPIRY_GRACE_SECONDS},
                               names={"#n": "requests"}, condition="attribute_not_exists(#n) OR #n < :limit")
        except ConditionFailed:
            return max(1, math.ceil(end - now))
        return 0
