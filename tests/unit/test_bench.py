"""Pure logic of the benchmarks: percentiles, phase intervals, operation names, targets, README table."""
from __future__ import annotations

from pathlib import Path

import pytest

from bench import readme, report, stats
from bench.latency import intervals
from bench.proxy import operation


def test_percentile_interpolates_between_closest_ranks() -> None:
    samples = [10.0, 20.0, 30.0, 40.0]
    assert stats.percentile(samples, 0) == 10.0
    assert stats.percentile(samples, 50) == 25.0
    assert stats.percentile(samples, 100) == 40.0
    assert stats.percentile([5.0], 99) == 5.0


def test_percentile_refuses_an_empty_sample_and_a_bad_rank() -> None:
    with pytest.raises(ValueError):
        stats.percentile([], 50)
    with pytest.raises(ValueError):
        stats.percentile([1.0], 101)


def test_summary_has_every_quantile_in_order() -> None:
    result = stats.summary([float(x) for x in range(1, 101)])
    assert result["n"] == 100
    assert result["min"] <= result["p50"] <= result["p95"] <= result["p99"] <= result["max"]
    assert result["p50"] == 50.5


def test_rate_and_ratio_do_not_divide_by_zero() -> None:
    assert stats.rate(10, 0) == 0.0
    assert stats.rate(10, 2) == 5.0
    assert stats.ratio(3, 0) is None
    assert stats.ratio(3, 2) == 1.5


def test_intervals_follow_time_and_skip_missing_phases() -> None:
    phases = {"finalised": 1.5, "post": 1.0, "received": 1.01, "claimed": 1.03, "started": 1.2}
    result = intervals(phases)
    assert list(result) == ["post->received", "received->claimed", "claimed->started", "started->finalised"]
    assert result["claimed->started"] == pytest.approx(170.0)


def test_operation_names_come_from_the_target_header_or_the_action() -> None:
    assert operation({"x-amz-target": "DynamoDB_20120810.GetItem"}, b"", "/") == "dynamodb.GetItem"
    assert operation({"x-amz-target": "AmazonSQS.ReceiveMessage"}, b"{}", "/") == "sqs.ReceiveMessage"
    assert operation({}, b"Action=SendMessage&QueueUrl=x", "/") == "query.SendMessage"
    assert operation({}, b"", "/?Action=ListQueues") == "query.ListQueues"
    assert operation({}, b"", "/bucket/key") == "other.HTTP"


def _report(**numbers: float | None) -> dict:
    keys = report.headline({})
    keys.update(numbers)
    return {**keys, "targets": report.targets(keys), "suites": {}, "label": "test run",
            "machine": {"cpus": 2}, "versions": {"python": "3.11"}, "load_average_end": [1.0]}


def test_targets_judge_each_bound_and_leave_missing_numbers_unjudged() -> None:
    verdicts = report.targets({"e2e_overhead_p50_ms": 49.0, "api_accept_p50_ms": 25.0, "throughput_ratio": 0.95,
                               "scale_from_zero_p50_s": 1.0, "idle_growth": None})
    assert verdicts["e2e_overhead_p50_ms"]["met"] is True
    assert verdicts["api_accept_p50_ms"]["met"] is False
    assert verdicts["throughput_ratio"]["met"] is True
    assert verdicts["scale_from_zero_p50_s"]["met"] is False  # strictly under 1 s
    assert verdicts["idle_growth"]["met"] is None


def test_readme_table_replaces_only_the_text_between_the_markers(tmp_path: Path) -> None:
    path = tmp_path / "README.md"
    path.write_text(f"# Title\n\nbefore\n{readme.BEGIN}\nold table\n{readme.END}\nafter\n")
    assert readme.update(path, _report(e2e_p50_ms=233.8, e2e_overhead_p50_ms=54.0))
    text = path.read_text()
    assert "old table" not in text
    assert text.startswith("# Title\n\nbefore\n") and text.endswith("after\n")
    assert "234 /" in text and "overhead p50 54.0 ms" in text and "**missed**" in text


def test_readme_without_markers_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "README.md"
    path.write_text("no markers here\n")
    assert not readme.update(path, _report())
    assert path.read_text() == "no markers here\n"


def test_notes_say_where_time_cpu_and_requests_go() -> None:
    report = _report()
    report["suites"] = {
        "latency": {"phases_ms": {"post->queued": {"p50": 6.2}, "queued->claimed": {"p50": 24.6}},
                    "baseline_phases_ms": {"create": {"p50": 10.0}, "start": {"p50": 146.0}}},
        "throughput": {"levels": [
            {"slots": 1, "ours_per_s": 2.0, "cpu_ms_per_execution": {"runner": 30.0}},
            {"slots": 4, "ours_per_s": 5.0, "cpu_ms_per_execution": {"runner": 40.0, "emulator": 120.0},
             "bare_cpu_ms_per_execution": {"engine": 60.0}}]},
        "idle": {"runner_requests_per_execution": {"total": 9.5, "by_operation": {
            "dynamodb.GetItem": 3.0, "sqs.ReceiveMessage": 0.2}, "background_per_min": 420.0}},
    }
    latency, cpu, requests = readme.notes(report)
    assert "post->queued 6, queued->claimed 25" in latency and "start 146" in latency
    assert cpu.startswith("CPU ms per execution at 4 slots: runner 40, emulator 120") and "engine 60" in cpu
    assert "9.5 (GetItem 3)" in requests and "ReceiveMessage" not in requests and "420 per minute" in requests


def test_intervals_of_a_warm_start_leave_out_the_container_made_before_the_post() -> None:
    phases = {"prestarted": 0.4, "created": 0.3, "post": 1.0, "queued": 1.005, "dequeued": 1.03,
              "claimed": 1.04, "started": 1.06, "exited": 1.09, "finalised": 1.1}
    result = intervals(phases)
    assert next(iter(result)) == "post->queued" and "claimed->started" in result
    assert all(value >= 0 for value in result.values())
