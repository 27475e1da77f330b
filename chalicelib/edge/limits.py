"""Request limits: body and header sizes, the ``limit`` clamp, per-principal token buckets (reliability plan §4.4).

In AWS, API Gateway enforces its own caps (10 MB payloads, throttling through usage plans and API keys,
429s); these in-process checks give the same contract locally and a second line behind the gateway.
A token bucket lives in one API process: with N gunicorn workers a principal gets up to N times the
rate, which is acceptable for a local system and documented in the README.
"""
from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from chalicelib.domain.errors import HeadersTooLarge, PayloadTooLarge, TooManyRequests
from chalicelib.domain.paging import DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, clamp_limit  # noqa: F401 (re-exported)

MAX_BUCKETS = 10_000  # principals remembered per process (least recently used are forgotten)
BINARY_TYPE = "application/octet-stream"


def header_bytes(headers: Mapping[str, str]) -> int:
    return sum(len(k) + len(v) + 4 for k, v in headers.items())  # "name: value\r\n"


def check_headers(headers: Mapping[str, str], max_header_bytes: int) -> None:
    if header_bytes(headers) > max_header_bytes:
        raise HeadersTooLarge(f"Request headers are larger than {max_header_bytes} bytes.")


def body_limit(content_type: str, max_body_bytes: int, max_binary_bytes: int) -> int:
    return max_binary_bytes if content_type == BINARY_TYPE else max_body_bytes


def check_body(content_type: str, length: int, max_body_bytes: int, max_binary_bytes: int) -> None:
    """Binary messages may be large; every other body is capped at ``max_body_bytes``."""
    limit = body_limit(content_type, max_body_bytes, max_binary_bytes)
    if length > limit:
        raise PayloadTooLarge(f"Request body is larger than {limit} bytes.")


class TokenBuckets:
    """One token bucket per key: ``rate`` tokens a second, at most ``burst`` saved up. Thread-safe."""

    def __init__(self, rate: float, burst: int, clock: Any = time.monotonic) -> None:
        self.rate, self.burst, self._clock = rate, burst, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, what: str = "Too many requests") -> None:
        """Spend one token or raise ``TooManyRequests`` with the seconds until one is available."""
        wait = self._take(key, spend=True)
        if wait > 0:
            raise TooManyRequests(f"{what}; retry after {math.ceil(wait)} s.", math.ceil(wait))

    def check(self, key: str, what: str) -> None:
        """Raise like ``take`` when the bucket is empty, without spending (used for failure budgets)."""
        wait = self._take(key, spend=False)
        if wait > 0:
            raise TooManyRequests(f"{what}; retry after {math.ceil(wait)} s.", math.ceil(wait))

    def _take(self, key: str, spend: bool) -> float:
        if self.rate <= 0:
            return 0.0
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            wait = 0.0
            if tokens >= 1.0:
                if spend:
                    tokens -= 1.0
            else:
                wait = (1.0 - tokens) / self.rate
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > MAX_BUCKETS:
                self._buckets.popitem(last=False)
            return wait
