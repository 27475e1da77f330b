"""Nightly T28 (a): the API under locust, 20 users for 2 minutes, 70% GETs, 25% POST messages, 5% lists.

The "fake executor" is no executor: the actors sit in a runner pool that no runner serves (as in the API
suite), so the messages posted queue up and start no container. Twenty users posting at full speed would
otherwise ask this 2-core machine for tens of containers a second, and the test would measure Docker, not
the API. The emulator still does all the work a POST costs (PutItem, SendMessage, the conditional
mark-sent UpdateItem); the reliability plan measured about 290 conditional writes a second on moto, which
bounds what the API can accept.

Locust runs as a child process (``bench/locustfile.py``; gevent must not patch this process) and writes
its final statistics as JSON; the numbers here are computed from its per-second counts and response-time
histograms.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import checks
from bench.system import BenchError, BenchSystem, cpu_of, parallel, process_tree

POOL = "load"
TENANT = "BENCH-LOAD"
LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
USERS = 20
SECONDS = 120
SPAWN_PER_S = 10  # users started per second (all 20 within 2 s, inside the unjudged ramp)
USER_RPS = 2.0  # tasks per second per user: 40 requests/s offered, twice the pass bound
ACTORS = 20  # POSTs spread over them: about 10 a second for 2 minutes stays near 60 queued per inbox
LOCUST_GRACE_SECONDS = 120  # beyond the run time, for locust to start and write its report


def run(system: BenchSystem, users: int = USERS, seconds: int = SECONDS) -> dict[str, Any]:
    """Run the load and summarise it (the verdicts are added by the caller, which knows the baseline)."""
    actors = parallel(system, ACTORS, lambda c, _i: c.create_actor(POOL), tenant=TENANT)
    targets = parallel(system, ACTORS, lambda c, i: f"{actors[i]}:{c.send(actors[i], 'seed')}", tenant=TENANT)
    out = system.log_dir / "locust"
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "ABACO_LOAD_TARGETS": ",".join(targets), "ABACO_LOAD_TENANT": TENANT,
           "ABACO_LOAD_USER_RPS": str(USER_RPS)}
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--users", str(users),
            "--spawn-rate", str(SPAWN_PER_S), "--run-time", f"{seconds}s", "--host", system.stack.api_url,
            "--json-file", str(out / "stats"), "--csv", str(out / "locust"), "--only-summary",
            "--loglevel", "WARNING", "--logfile", str(out / "locust.log")]
    cpu_before, began = _cpu(system), time.monotonic()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=seconds + LOCUST_GRACE_SECONDS,
                          check=False)
    cpu_after, wall = _cpu(system), time.monotonic() - began
    stats_file = out / "stats.json"
    if not stats_file.exists():
        raise BenchError(f"locust wrote no statistics (exit {done.returncode}): {done.stderr[-2000:]}")
    result = summarise(json.loads(stats_file.read_text()))
    # Locust exits 1 when any request failed; the error rate judges that, so only a crash is an error here.
    if done.returncode not in (0, 1):
        raise BenchError(f"locust exited {done.returncode}: {done.stderr[-2000:]}")
    return {"users": users, "seconds": seconds, "user_rps": USER_RPS, "offered_rps": users * USER_RPS,
            "actors": ACTORS, "executor": f"none: pool {POOL!r} has no runner", **result,
            # share of one core over the run (locust's start-up included): where the time goes
            "cpu_percent": {k: round((cpu_after[k] - cpu_before[k]) * 100 / wall, 1) for k in cpu_before}}


def _cpu(system: BenchSystem) -> dict[str, float]:
    """CPU seconds so far of the API (gunicorn and its workers) and of the emulator."""
    api = system.stack.procs["api"].pid
    return {"api": cpu_of(process_tree(api)), "emulator": cpu_of([system.emulator_pid])}


def summarise(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals, the rate per 10 s window, latency percentiles overall and per request name, from locust's
    JSON statistics (one entry per request name, each with per-second counts and a histogram)."""
    if not entries:
        raise BenchError("locust recorded no request")
    per_second: dict[int, int] = {}
    histogram: dict[float, int] = {}
    by_name: dict[str, Any] = {}
    for entry in entries:
        for second, count in entry["num_reqs_per_sec"].items():
            per_second[int(second)] = per_second.get(int(second), 0) + count
        times = {float(ms): n for ms, n in entry["response_times"].items()}
        for ms, n in times.items():
            histogram[ms] = histogram.get(ms, 0) + n
        by_name[entry["name"]] = {"requests": entry["num_requests"], "errors": entry["num_failures"],
                                  "latency_ms": _percentiles(times)}
    requests = sum(e["num_requests"] for e in entries)
    errors = sum(e["num_failures"] for e in entries)
    seconds = max(per_second) - min(per_second) + 1
    windows = checks.window_rates(per_second)
    return {"requests": requests, "errors": errors, "mean_rps": round(requests / seconds, 1),
            "window_rates": [round(r, 1) for r in windows], "latency_ms": _percentiles(histogram),
            "by_request": by_name, "mix": _mix(by_name, requests)}


def _percentiles(histogram: dict[float, int]) -> dict[str, float]:
    if not histogram:
        return {}
    return {f"p{q}": checks.histogram_percentile(histogram, q) for q in (50, 95, 99)}


def _mix(by_name: dict[str, Any], total: int) -> dict[str, float]:
    """The share of reads, posts and lists actually sent (the locustfile's weights, as executed)."""
    lists = {"GET /actors", "GET /actors/{id}/executions"}
    shares = {"get": 0, "post": 0, "list": 0}
    for name, data in by_name.items():
        kind = "post" if name.startswith("POST") else "list" if name in lists else "get"
        shares[kind] += data["requests"]
    return {k: round(v / total, 3) for k, v in shares.items()} if total else {}
