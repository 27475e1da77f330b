"""Suite: what one execution costs, in CPU and AWS requests, for the whole system (API + runner + emulator).

The suite runs its own system whose API and runner both talk to the emulator through the counting proxy
(``bench.proxy``), so every AWS request of an execution is counted by operation, whoever makes it. Messages
are sent one after another to a warm-start no-op actor (the shipped settings) and waited for; the CPU of
the API (gunicorn and its workers), the runner and the emulator comes from ``/proc`` before and after. The
background (the runner's duties, heartbeats and idle long polls), measured over a quiet window just
before, is subtracted at the same rate; to keep that background (and its noise) small next to one
execution's cost, the runner's periodic duties that a warm actor's messages do not need (autoscaler,
reconciler, cron) run every ``QUIET_DUTY_SECONDS`` and its idle long polls last the shipped 20 s. The
bench watches the executions with one strongly consistent
GetItem every ``WATCH_SECONDS`` straight to the emulator (not counted as requests; its emulator CPU is,
about one read per execution, and is reported as ``observer_reads_per_execution``).
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import docker

from bench.latency import _settle
from bench.profile import Profile
from bench.proxy import CountingProxy
from bench.system import BenchSystem, Observer, cpu_of, process_tree
from local import emulator

POOL = "cost"
WATCH_SECONDS = 0.25  # the bench's own reads: few, so that the emulator's CPU is the system's
QUIET_DUTY_SECONDS = "600"
RUNNER_ENV = {"autoscale_seconds": QUIET_DUTY_SECONDS, "reconcile_seconds": QUIET_DUTY_SECONDS,
              "cron_seconds": QUIET_DUTY_SECONDS, "receive_wait_seconds": "20"}
QUIET_MIN_SECONDS = 20.0  # the background window: the duties run every 1 to 10 s, a shorter one is noise


def run(profile: Profile, _run_id: str) -> dict[str, Any]:
    log_dir = Path(tempfile.mkdtemp(prefix="abaco-bench-cost-"))
    port = emulator.free_port()
    moto = emulator.start(port, str(log_dir / "emulator.log"))
    proxy = CountingProxy(port).start()
    system = BenchSystem(log_dir=log_dir, runner_env=dict(profile.runner_env), emulator_url=proxy.url)
    try:
        system.start()
        system.observer = Observer(system.settings(f"http://127.0.0.1:{port}"))  # not through the proxy
        return measure(system, proxy, moto.pid, profile)
    finally:
        system.stop()
        proxy.stop()
        moto.terminate()
        moto.wait(10)


def measure(system: BenchSystem, proxy: CountingProxy, emulator_pid: int, profile: Profile) -> dict[str, Any]:
    observer = system.observer
    assert observer is not None
    client = system.client()
    system.start_runner(POOL, **RUNNER_ENV)
    engine_api = docker.APIClient(version="auto")
    actor_id = client.create_actor(POOL)
    client.wait_ready([actor_id])
    dbid = observer.dbid(actor_id)
    reads = [0]

    def cpu() -> dict[str, float]:
        api = system.stack.procs["api"].pid
        return {"api": cpu_of(process_tree(api)), "runner": cpu_of([system.runner_pid(POOL)]),
                "emulator": cpu_of([emulator_pid])}

    def one() -> None:
        execution_id = client.send(actor_id)
        while observer.execution(actor_id, execution_id).status.value not in ("COMPLETE", "ERROR"):
            reads[0] += 1
            time.sleep(WATCH_SECONDS)
        reads[0] += 1
        _settle(observer, dbid, engine_api, warm=True)

    try:
        for _ in range(3):  # warm-up: connections, imports, the first pre-started container
            one()
        reads[0] = 0
        quiet = (proxy.snapshot(), cpu(), time.monotonic())
        time.sleep(max(profile.cost_quiet_seconds, QUIET_MIN_SECONDS))
        before = (proxy.snapshot(), cpu(), time.monotonic())
        for _ in range(profile.cost_executions):
            one()
        after = (proxy.snapshot(), cpu(), time.monotonic())
    finally:
        engine_api.close()
        client.close()
        system.stop_runner(POOL)
    return {**per_execution(quiet, before, after, profile.cost_executions),
            "observer_reads_per_execution": round(reads[0] / profile.cost_executions, 2)}


Sample = tuple[Any, dict[str, float], float]  # (request counts by operation, CPU seconds by process, time)


def per_execution(quiet: Sample, before: Sample, after: Sample, count: int) -> dict[str, Any]:
    """Requests and CPU ms per execution, the quiet window's rate subtracted (pure; unit tested)."""
    quiet_s, busy_s = before[2] - quiet[2], after[2] - before[2]

    def net(first: float, second: float, third: float) -> float:
        background = (second - first) / quiet_s if quiet_s > 0 else 0.0
        return max(0.0, (third - second - background * busy_s) / count)

    ops = sorted(set(after[0]) | set(before[0]))
    by_op = {op: round(net(quiet[0].get(op, 0), before[0].get(op, 0), after[0].get(op, 0)), 2) for op in ops}
    cpu = {name: round(net(quiet[1][name], before[1][name], after[1][name]) * 1000, 1) for name in after[1]}
    return {"executions": count, "requests_per_execution": round(sum(by_op.values()), 1),
            "requests_by_operation": {op: v for op, v in by_op.items() if v >= 0.05},
            "cpu_ms_per_execution": cpu, "our_cpu_ms_per_execution": round(cpu["api"] + cpu["runner"], 1),
            "background_requests_per_min": round(sum(before[0].get(op, 0) - quiet[0].get(op, 0) for op in ops)
                                                 * 60 / quiet_s, 1) if quiet_s > 0 else None}
