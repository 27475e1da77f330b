"""The nightly tier's pass/fail rules (reliability plan T28) and its report, on made-up numbers."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import checks, load, nightly


def _load_result(**over: Any) -> dict[str, Any]:
    result = {"requests": 4000, "errors": 0, "window_rates": [33.0, 34.1, 32.9], "latency_ms": {"p95": 100.0}}
    return {**result, **over}


def test_histogram_percentile_is_nearest_rank() -> None:
    histogram = {10.0: 90, 200.0: 9, 900.0: 1}
    assert checks.histogram_percentile(histogram, 50) == 10.0
    assert checks.histogram_percentile(histogram, 90) == 10.0
    assert checks.histogram_percentile(histogram, 95) == 200.0
    assert checks.histogram_percentile(histogram, 100) == 900.0
    with pytest.raises(ValueError):
        checks.histogram_percentile({}, 95)


def test_window_rates_skip_the_ramp_and_the_partial_end_and_count_stalls() -> None:
    per_second = {s: 30 for s in range(100, 131)}  # 31 seconds
    per_second[120] = 0
    del per_second[121]  # a second without any request is a zero, not a gap
    rates = checks.window_rates(per_second, window=10, ramp=5)
    assert rates == [30.0, 24.0]  # 105-114, 115-124 (one stalled second and one empty); 125-130 is partial
    assert checks.window_rates({}) == []


def test_load_passes_within_every_bound() -> None:
    verdicts = checks.load_checks(_load_result(errors=19), baseline_p95_ms=80.0)  # 0.475% errors, +25%
    assert [v["met"] for v in verdicts.values()] == [True, True, True]
    assert verdicts["p95_regression"]["value"] == 0.25
    assert checks.passed(verdicts)


@pytest.mark.parametrize(("over", "failing"), [
    ({"errors": 20}, "error_rate"),  # exactly 0.5% is not below it
    ({"window_rates": [33.0, 19.9, 35.0]}, "min_window_rps"),  # one slow window is enough
    ({"window_rates": []}, "min_window_rps"),  # no whole window: no sustained rate shown
    ({"latency_ms": {"p95": 131.0}}, "p95_regression"),  # 100 ms baseline: more than 30% slower
])
def test_load_fails_on_each_bound(over: dict[str, Any], failing: str) -> None:
    verdicts = checks.load_checks(_load_result(**over), baseline_p95_ms=100.0)
    assert [name for name, v in verdicts.items() if v["met"] is False] == [failing]
    assert not checks.passed(verdicts)


def test_without_a_baseline_the_p95_is_recorded_not_judged() -> None:
    verdicts = checks.load_checks(_load_result(), baseline_p95_ms=None)
    assert verdicts["p95_regression"]["met"] is None and checks.passed(verdicts)


def _soak_result(**over: Any) -> dict[str, Any]:
    result = {"executions": 300, "complete": 300, "quiet_start": {"rss_kb": 100_000, "fds": 180},
              "quiet_end": {"rss_kb": 110_000, "fds": 189}, "leftovers": {"containers": 0, "files": 0, "payloads": 0}}
    return {**result, **over}


def test_soak_passes_and_reports_growth_in_megabytes() -> None:
    verdicts = checks.soak_checks(_soak_result())
    assert verdicts["rss_growth_mb"]["value"] == 9.77 and verdicts["fd_drift"]["value"] == 9
    assert checks.passed(verdicts)


@pytest.mark.parametrize(("over", "failing"), [
    ({"quiet_end": {"rss_kb": 100_000 + 20 * 1024, "fds": 180}}, "rss_growth_mb"),
    ({"quiet_end": {"rss_kb": 100_000, "fds": 191}}, "fd_drift"),
    ({"quiet_end": {"rss_kb": 100_000, "fds": 169}}, "fd_drift"),  # a drop is drift too
    ({"leftovers": {"containers": 1, "files": 0, "payloads": 0}}, "leftover_containers"),
    ({"leftovers": {"containers": 0, "files": 2, "payloads": 0}}, "leftover_files"),
    ({"leftovers": {"containers": 0, "files": 0, "payloads": 1}}, "leftover_payloads"),
    ({"complete": 299}, "not_complete"),
])
def test_soak_fails_on_each_bound(over: dict[str, Any], failing: str) -> None:
    verdicts = checks.soak_checks(_soak_result(**over))
    assert [name for name, v in verdicts.items() if v["met"] is False] == [failing]
    assert not checks.passed(verdicts)


def test_locust_statistics_are_merged_across_request_names() -> None:
    entries = [
        {"name": "GET /actors/{id}", "num_requests": 7, "num_failures": 0,
         "num_reqs_per_sec": {"100": 3, "101": 4}, "response_times": {"10": 6, "50": 1}},
        {"name": "POST /actors/{id}/messages", "num_requests": 3, "num_failures": 1,
         "num_reqs_per_sec": {"101": 2, "102": 1}, "response_times": {"30": 2, "400": 1}},
    ]
    summary = load.summarise(entries)
    assert summary["requests"] == 10 and summary["errors"] == 1
    assert summary["latency_ms"] == {"p50": 10.0, "p95": 400.0, "p99": 400.0}
    assert summary["mix"] == {"get": 0.7, "post": 0.3, "list": 0.0}
    assert summary["by_request"]["POST /actors/{id}/messages"]["latency_ms"]["p50"] == 30.0
    assert summary["mean_rps"] == round(10 / 3, 1)


def test_the_baseline_is_the_load_p95_of_a_result_file(tmp_path: Path) -> None:
    path = tmp_path / "nightly.json"
    path.write_text(json.dumps({"suites": {"load": {"latency_ms": {"p95": 120.0}}}}))
    assert nightly.load_baseline_p95(path) == 120.0
    path.write_text(json.dumps({"suites": {"soak": {}}}))
    assert nightly.load_baseline_p95(path) is None
    assert nightly.load_baseline_p95(tmp_path / "missing.json") is None


def test_summary_names_every_verdict() -> None:
    result = {"label": "nightly x", "passed": False,
              "checks": {"load": checks.load_checks(_load_result(errors=400), 100.0)}}
    text = nightly.summary(result)
    assert text.splitlines()[0] == "nightly x: FAILED"
    assert "error_rate" in text and "FAIL" in text and "p95_regression" in text
