"""The nightly tier's pass/fail rules (reliability plan T28), as pure functions over measured numbers.

Benchmarks report; the nightly tier judges. Every bound is a named constant here, every verdict is
written into the JSON result next to the number it judges (``{"value", "bound", "met"}``), and the run
exits non-zero when one is missed. ``met`` is None when the number could not be judged (no baseline
yet): that never fails a run.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

# T28 (a): load
LOAD_MAX_ERROR_RATE = 0.005  # errors < 0.5% of requests
LOAD_MIN_RPS = 20.0  # at least this many requests per second in every window
LOAD_MAX_P95_REGRESSION = 0.30  # p95 more than 30% above the committed baseline fails
RATE_WINDOW_SECONDS = 10  # "sustained": the rate over each 10 s window, not the average of the run
RAMP_SECONDS = 5  # the first seconds (users still starting) and the last partial window are not judged
# T28 (b): soak
SOAK_MAX_RSS_GROWTH_MB = 20.0
SOAK_MAX_FD_DRIFT = 10  # open file descriptors end - start, either way
SOAK_MAX_LEFTOVERS = 0  # containers, FIFOs and temp files, S3 payload objects


def check(value: float | int | None, op: str, bound: float | int) -> dict[str, Any]:
    """One judged number; ``met`` None when there is no value to judge."""
    tests = {"<": lambda v: v < bound, "<=": lambda v: v <= bound, ">=": lambda v: v >= bound,
             "abs<=": lambda v: abs(v) <= bound}
    met = None if value is None else bool(tests[op](value))
    return {"value": value, "bound": f"{op} {bound:g}", "met": met}


def passed(checks: Mapping[str, Mapping[str, Any]]) -> bool:
    """A run passes when no check is missed (an unjudged check does not fail it)."""
    return all(c["met"] is not False for c in checks.values())


def histogram_percentile(counts: Mapping[float, int], q: float) -> float:
    """The ``q``-th percentile (0..100) of a histogram {value: count}, nearest rank (locust's own
    response-time histograms are bucketed, so interpolating between buckets would invent precision)."""
    total = sum(counts.values())
    if total <= 0:
        raise ValueError("percentile of an empty histogram")
    rank = max(1, math.ceil(total * q / 100.0))
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= rank:
            return float(value)
    raise AssertionError("unreachable: the ranks add up to the total")


def window_rates(per_second: Mapping[int, int], window: int = RATE_WINDOW_SECONDS,
                 ramp: int = RAMP_SECONDS) -> list[float]:
    """Requests per second over consecutive whole windows of ``window`` seconds, after the first ``ramp``
    seconds; a second with no request inside the run counts as zero (a stall must show)."""
    if not per_second:
        return []
    first, last = min(per_second) + ramp, max(per_second)
    rates = []
    start = first
    while start + window - 1 < last:  # the last second is partial: never the end of a judged window
        rates.append(sum(per_second.get(s, 0) for s in range(start, start + window)) / window)
        start += window
    return rates


def load_checks(result: Mapping[str, Any], baseline_p95_ms: float | None) -> dict[str, dict[str, Any]]:
    """T28 (a): errors < 0.5%, >= 20 requests/s in every window, p95 within 30% of the baseline."""
    requests = result["requests"]
    error_rate = result["errors"] / requests if requests else None
    windows = result.get("window_rates") or []
    p95 = result.get("latency_ms", {}).get("p95")
    regression = (p95 / baseline_p95_ms - 1) if p95 is not None and baseline_p95_ms else None
    return {
        "error_rate": check(None if error_rate is None else round(error_rate, 5), "<", LOAD_MAX_ERROR_RATE),
        # no whole window at all means the run was too short to show a sustained rate: that fails
        "min_window_rps": check(min(windows), ">=", LOAD_MIN_RPS) if windows else {
            **check(None, ">=", LOAD_MIN_RPS), "met": False},
        "p95_regression": {**check(None if regression is None else round(regression, 3), "<=",
                                   LOAD_MAX_P95_REGRESSION), "baseline_p95_ms": baseline_p95_ms},
    }


def soak_checks(result: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """T28 (b): RSS growth < 20 MB and fds within 10 between the quiet points; nothing left over; every
    execution finished COMPLETE."""
    start, end = result["quiet_start"], result["quiet_end"]
    left = result["leftovers"]
    return {
        "rss_growth_mb": check(round((end["rss_kb"] - start["rss_kb"]) / 1024, 2), "<", SOAK_MAX_RSS_GROWTH_MB),
        "fd_drift": check(end["fds"] - start["fds"], "abs<=", SOAK_MAX_FD_DRIFT),
        "leftover_containers": check(left["containers"], "<=", SOAK_MAX_LEFTOVERS),
        "leftover_files": check(left["files"], "<=", SOAK_MAX_LEFTOVERS),
        "leftover_payloads": check(left["payloads"], "<=", SOAK_MAX_LEFTOVERS),
        "not_complete": check(result["executions"] - result["complete"], "<=", 0),
    }
