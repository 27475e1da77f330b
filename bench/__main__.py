"""``python -m bench [--quick] [--out DIR] [--suites a,b]``: run the benchmarks and write the report.

The full run (``make bench``) writes ``bench/results/latest.json``, the PNG plots next to it and the
README's results table. The smoke run (``make bench QUICK=1``, what CI runs) measures small counts and
writes to ``bench/results/quick/`` so it never overwrites the published numbers.

The nightly tier (``make soak [MINUTES=N]``: ``--suites load,soak [--minutes N]``) is separate, see
``bench.nightly``: its suites run only when named, on their own, and write ``nightly.json``.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import (
    api,
    baseline,
    execution_cost,
    idle,
    latency,
    nightly,
    plots,
    readme,
    report,
    scale,
    scale_run,
    sync,
    throughput,
    warm_start,
)
from bench.profile import FULL, QUICK, Profile
from bench.system import BenchSystem

RESULTS = Path(__file__).resolve().parent / "results"
README = Path(__file__).resolve().parent.parent / "README.md"
LOG = logging.getLogger("bench")

Suite = Callable[[BenchSystem, Profile, str], dict[str, Any]]
# In this order: every suite leaves executions behind, and the emulator's queries cost time in proportion to
# the whole table (moto scans it), so the quiet single-execution measurements come first. The API suite
# gets a fresh system of its own: its messages stay queued (open executions the duties keep looking at),
# and listing actors must not scan the idle suite's thousand.
# The execution-cost suite builds its own system (its API and runner behind a counting proxy) and runs first.
OWN_SYSTEM = {"api", "scale_run"}
SELF_CONTAINED = {"cost": execution_cost.run}
SUITES: dict[str, Suite] = {
    "cost": lambda _s, p, r: execution_cost.run(p, r),
    "sync": sync.run,  # the headline: what the user waits for, against bare docker run
    "latency": latency.run,
    "warm_start": warm_start.run,  # warm and cold side by side with the bare baseline
    "throughput": throughput.run,
    "scale_from_zero": lambda s, p, _r: scale.scale_from_zero(s, p),
    "scale_out": scale.scale_out,
    "idle": lambda s, p, _r: idle.run(s, p),
    "api": lambda s, p, _r: api.run(s, p),
    "scale_run": lambda s, p, _r: scale_run.run(s, p),  # 2,000 actors, several runners, a burst (issue 16)
}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke mode: small counts, a minute or two")
    parser.add_argument("--out", type=Path, help="output directory (default bench/results[/quick])")
    parser.add_argument("--suites", default=",".join(SUITES),
                        help=f"comma separated subset of {','.join(SUITES)}, or of the nightly tier's "
                             f"{','.join(nightly.SUITES)} (run on their own)")
    parser.add_argument("--minutes", type=float, default=30.0, help="nightly soak duration (default 30)")
    parser.add_argument("--baseline", type=Path, help="nightly: result file with the load p95 baseline "
                                                      "(default: the committed bench/results/nightly.json)")
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite README's results table")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s bench %(message)s")
    args = parse(argv)
    profile = QUICK if args.quick else FULL
    names = [n.strip() for n in args.suites.split(",") if n.strip()]
    if any(n in nightly.SUITES for n in names):
        if not all(n in nightly.SUITES for n in names):
            LOG.error("the nightly suites %s run on their own", list(nightly.SUITES))
            return 2
        return nightly.run(names, args.minutes, args.out, args.baseline)
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        LOG.error("unknown suite(s) %s; choose from %s", unknown, list(SUITES))
        return 2
    out = args.out or (RESULTS / "quick" if args.quick else RESULTS)
    out.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    machine, versions = report.machine(), report.versions()  # before the run: the code that runs
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"
    suites, durations = run_suites(names, profile, run_id)
    numbers = report.headline(suites)
    result = {**numbers, "label": f"{profile.name} {run_id}", "profile": profile.name,
              "started_at": started.isoformat(), "durations_s": durations, "targets": report.targets(numbers),
              "machine": machine, "versions": versions,
              "load_average_end": [round(x, 2) for x in os.getloadavg()], "suites": suites}
    (out / "latest.json").write_text(json.dumps(result, indent=1, sort_keys=False) + "\n")
    for path in plots.write_all(result, out):
        LOG.info("wrote %s", path)
    LOG.info("wrote %s", out / "latest.json")
    if profile is FULL and not args.no_readme and names == list(SUITES):
        LOG.info("README table %s", "updated" if readme.update(README, result) else "markers missing: not updated")
    print(readme.table(result))
    failed = [n for n, data in suites.items() if "error" in data]
    if failed:
        LOG.error("suite(s) failed: %s", failed)
    return 1 if failed else 0


def run_suites(names: list[str], profile: Profile, run_id: str) -> tuple[dict[str, Any], dict[str, float]]:
    """The suites on one shared system (those in OWN_SYSTEM on a fresh one each); a failing suite is
    recorded and the others still run."""
    suites: dict[str, Any] = {}
    durations: dict[str, float] = {}
    shared = [n for n in names if n not in OWN_SYSTEM and n not in SELF_CONTAINED]
    groups = ([shared] if shared else []) + [[n] for n in names if n in OWN_SYSTEM]
    try:
        for name in (n for n in names if n in SELF_CONTAINED):
            _run_one(None, name, profile, run_id, suites, durations)
        for group in groups:
            system = BenchSystem(runner_env=dict(profile.runner_env))
            LOG.info("starting a system for %s (logs in %s)", ", ".join(group), system.log_dir)
            try:
                system.start()
                for name in group:
                    _run_one(system, name, profile, run_id, suites, durations)
            finally:
                system.stop()
    finally:
        removed = baseline.remove_leftovers(run_id)
        if removed:
            LOG.warning("removed %d leftover baseline container(s)", removed)
    return suites, durations


def _run_one(system: BenchSystem | None, name: str, profile: Profile, run_id: str, suites: dict[str, Any],
             durations: dict[str, float]) -> None:
    if profile.isolate_suites and system is not None:
        system.wait_stopped()  # the previous suite's runner: its idle workers leave after their long poll
    LOG.info("suite %s ...", name)
    began = time.monotonic()
    try:
        if system is None:
            suites[name] = SELF_CONTAINED[name](profile, run_id)
        else:
            suites[name] = SUITES[name](system, profile, run_id)
    except Exception as exc:  # recorded in the report; the exit code says it failed
        LOG.error("suite %s failed: %s\n%s", name, exc, traceback.format_exc())
        suites[name] = {"error": f"{type(exc).__name__}: {exc}"}
    durations[name] = round(time.monotonic() - began, 1)
    LOG.info("suite %s done in %.0f s", name, durations[name])


if __name__ == "__main__":
    sys.exit(main())
