"""Pure logic of the warm-start bench suite: one sample from an execution's phases and its process stamp,
the side-by-side summary and its headline numbers."""
from __future__ import annotations

import pytest

from bench import readme, report
from bench.system import BenchError
from bench.warm_start import sample, summarise

LOGS = "    mode:         0\n    time.tv_sec:  1000\n    time.tv_usec: 25000\n    return value: 5\n"


def test_a_sample_measures_from_the_dequeue_and_the_post() -> None:
    phases = {"dequeued": 999.995, "started": 1000.020, "finalised": 1000.100, "prestarted": 990.0}
    got = sample(999.9, phases, LOGS)
    assert got["dequeue_to_running_ms"] == pytest.approx(30.0)
    assert got["start_to_running_ms"] == pytest.approx(5.0)
    assert got["e2e_ms"] == pytest.approx(200.0) and got["warm"] == 1.0
    assert sample(999.9, {k: v for k, v in phases.items() if k != "prestarted"}, LOGS)["warm"] == 0.0


def test_a_sample_without_its_stamp_or_phases_is_an_error() -> None:
    with pytest.raises(BenchError):
        sample(0.0, {"dequeued": 1.0, "started": 1.0, "finalised": 2.0}, "no stamp")
    with pytest.raises(BenchError):
        sample(0.0, {"started": 1.0}, LOGS)


def _row(e2e: float, warm: float) -> dict[str, float]:
    return {"dequeue_to_running_ms": e2e / 10, "start_to_running_ms": 1.0, "e2e_ms": e2e, "warm": warm}


def test_summary_counts_only_warm_runs_as_warm_and_compares_with_bare() -> None:
    data = summarise({"warm": [_row(100, 1.0), _row(900, 0.0), _row(120, 1.0)], "cold": [_row(400, 0.0)] * 3},
                     [300.0, 310.0, 320.0], {"cgroup_bytes": 400_000})
    assert data["warm_hits"] == 2 and data["runs"] == 3
    assert data["warm"]["e2e_ms"]["p50"] == 110.0 and data["cold"]["e2e_ms"]["p50"] == 400.0
    assert data["warm_e2e_below_bare_p50"] is True
    numbers = report.headline({"warm_start": data})
    assert numbers["warm_e2e_minus_bare_p50_ms"] == -200.0 and numbers["warm_hit_rate"] == 0.67
    assert numbers["warm_dequeue_to_running_p50_ms"] == 11.0 and numbers["warm_waiting_memory_bytes"] == 400_000
    verdicts = report.targets(numbers)
    assert verdicts["warm_dequeue_to_running_p50_ms"]["met"] and verdicts["warm_e2e_minus_bare_p50_ms"]["met"]
    rows = readme._warm_rows(numbers, {k: v["met"] for k, v in verdicts.items()})
    assert "110 / 400 ms" in rows[1][1] and "**met**" in rows[1][4]


def test_summary_without_warm_runs_reports_none() -> None:
    data = summarise({"warm": [_row(900, 0.0)], "cold": [_row(400, 0.0)]}, [300.0], {})
    assert data["warm"]["e2e_ms"] is None and data["warm_e2e_below_bare_p50"] is None
    assert report.headline({"warm_start": data})["warm_e2e_minus_bare_p50_ms"] is None
