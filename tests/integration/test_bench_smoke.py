"""The benchmark's smoke mode (``make bench QUICK=1``) runs end to end and writes its report and plots.

Benchmarks are never timing assertions: this checks only that every suite ran and reported numbers.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import SUITES

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = ("e2e_overhead_p50_ms", "e2e_p50_ms", "baseline_p50_ms", "throughput_ratio", "api_accept_p50_ms",
            "scale_from_zero_p50_s", "idle_requests_per_min_1000_actors", "sync_p50_ms", "sync_bare_p50_ms",
            "sync_ratio_p50", "sync_cold_ratio_p50", "our_cpu_ms_per_execution", "emulator_cpu_ms_per_execution",
            "aws_requests_per_execution")
SMOKE_TIMEOUT = 600  # seconds; the smoke run takes about a minute on a quiet 2-core machine


@pytest.mark.docker
@pytest.mark.timeout(SMOKE_TIMEOUT + 60)
@pytest.mark.nightly  # every suite of the quick bench: minutes of its own (.ci/nightly runs it)
def test_quick_bench_writes_every_number_and_every_plot(tmp_path: Path) -> None:
    readme_before = (ROOT / "README.md").read_text()
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=SMOKE_TIMEOUT, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((tmp_path / "latest.json").read_text())
    for key in REQUIRED:
        assert isinstance(report[key], (int, float)) and not isinstance(report[key], bool), (key, report[key])
    assert report["e2e_p50_ms"] > 0 and report["baseline_p50_ms"] > 0
    assert report["machine"]["cpus"] and report["versions"]["moto"]
    assert set(report["suites"]) == set(SUITES) and not any("error" in s for s in report["suites"].values())
    for name in SUITES:
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert (ROOT / "README.md").read_text() == readme_before  # the smoke mode never rewrites the results
