"""The nightly tier (reliability plan T28): ``python -m bench --suites load,soak [--minutes N]``, or
``make soak [MINUTES=N]``. Not part of ``make test``: it takes 35 minutes with the full soak.

Each suite runs on a fresh private system (emulator, API, and for the soak one runner). The result goes
to ``bench/results/nightly.json`` with every pass/fail verdict next to its number (``bench.checks``); the
run exits 1 when a verdict is missed or a suite failed. The load test's p95 is judged against the p95 in
the committed ``nightly.json`` (``git show HEAD:...``), so a run never becomes its own baseline; committing
a run's file makes it the next baseline.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import checks, load, report, soak
from bench.system import BenchSystem

RESULTS = Path(__file__).resolve().parent / "results"
NIGHTLY_FILE = "nightly.json"
SUITES = ("load", "soak")
LOG = logging.getLogger("bench")


def run(names: list[str], minutes: float, out: Path | None = None, baseline: Path | None = None) -> int:
    """Run the named nightly suites, write the result, print the verdicts; the process exit code."""
    started = datetime.now(UTC)
    path = out / NIGHTLY_FILE if out else RESULTS / NIGHTLY_FILE
    baseline_p95 = load_baseline_p95(baseline)
    result: dict[str, Any] = {
        "label": f"nightly {started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}", "started_at": started.isoformat(),
        "soak_minutes": minutes, "machine": report.machine(), "versions": report.versions(),
        "suites": {}, "checks": {}}
    for name in names:
        data, verdicts = _run_suite(name, minutes, baseline_p95)
        result["suites"][name] = data
        result["checks"][name] = verdicts
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    result["passed"] = all(checks.passed(v) for v in result["checks"].values())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")
    LOG.info("wrote %s", path)
    print(summary(result))
    return 0 if result["passed"] else 1


def _run_suite(name: str, minutes: float, baseline_p95: float | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """One suite on its own system; a crash is recorded as a failed check (the other suite still runs)."""
    runners: dict[str, Callable[[BenchSystem], dict[str, Any]]] = {
        "load": load.run, "soak": lambda s: soak.run(s, minutes)}
    system = BenchSystem()
    LOG.info("nightly %s: starting a system (logs in %s)", name, system.log_dir)
    try:
        system.start()
        data = runners[name](system)
    except Exception as exc:  # recorded; the exit code says it failed
        LOG.error("nightly %s failed: %s\n%s", name, exc, traceback.format_exc())
        return {"error": f"{type(exc).__name__}: {exc}", "logs": str(system.log_dir)}, {
            "ran": {"value": False, "bound": "== true", "met": False}}
    finally:
        system.stop()
    verdicts = checks.load_checks(data, baseline_p95) if name == "load" else checks.soak_checks(data)
    return data, verdicts


def load_baseline_p95(path: Path | None = None) -> float | None:
    """The load test's p95 from ``path``, or by default from the committed nightly result (None if there
    is none: the first run records the baseline)."""
    try:
        if path is not None:
            text = path.read_text()
        else:
            text = subprocess.run(["git", "show", f"HEAD:bench/results/{NIGHTLY_FILE}"], cwd=RESULTS.parent.parent,
                                  capture_output=True, text=True, check=True).stdout
        return baseline_p95_of(json.loads(text))
    except (OSError, subprocess.CalledProcessError, ValueError):
        return None


def baseline_p95_of(result: dict[str, Any]) -> float | None:
    value = ((result.get("suites") or {}).get("load") or {}).get("latency_ms", {}).get("p95")
    return float(value) if isinstance(value, (int, float)) else None


def summary(result: dict[str, Any]) -> str:
    """One line per verdict, for the console and the CI log (pure)."""
    lines = [f"{result['label']}: {'PASSED' if result['passed'] else 'FAILED'}"]
    for suite, verdicts in result["checks"].items():
        for name, verdict in verdicts.items():
            mark = {True: "ok", False: "FAIL", None: "n/a"}[verdict["met"]]
            lines.append(f"  {suite:5} {name:20} {mark:4} {verdict['value']} (bound {verdict['bound']})")
    return "\n".join(lines)
