"""Summaries of samples: percentiles, rates and ratios (pure functions, unit tested)."""
from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation between closest ranks (numpy's default).

    Raises on an empty sample: a benchmark that measured nothing must not report a number."""
    if not samples:
        raise ValueError("percentile of an empty sample")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    if low == high:
        return float(ordered[low])
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def summary(samples: Sequence[float], digits: int = 1) -> dict[str, float]:
    """n, mean, min, p50, p95, p99 and max, rounded for the report."""
    if not samples:
        raise ValueError("summary of an empty sample")
    return {
        "n": len(samples),
        "mean": round(sum(samples) / len(samples), digits),
        "min": round(min(samples), digits),
        "p50": round(percentile(samples, 50), digits),
        "p95": round(percentile(samples, 95), digits),
        "p99": round(percentile(samples, 99), digits),
        "max": round(max(samples), digits),
    }


def rate(count: int, seconds: float) -> float:
    """Events per second; zero when no time passed (nothing to divide by)."""
    return count / seconds if seconds > 0 else 0.0


def ratio(ours: float, baseline: float) -> float | None:
    """ours / baseline, or None when the baseline is zero (a ratio to nothing means nothing)."""
    return ours / baseline if baseline else None
