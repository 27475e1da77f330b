"""Suite 5: what idle actors cost. Runner CPU and AWS requests per minute at two numbers of idle actors.

The runner of this suite talks to the emulator through a counting proxy on loopback, so every request
it makes is counted by operation; the API (which only registers the actors) talks to the emulator
directly and is not counted. After registration the system is left to settle (every worker that can
start has started), then each window counts requests and CPU with nothing else happening.

First, with a single actor, the runner's requests per execution are counted (where the per-execution
cost goes). Last, a message to one of the actors that never got a worker shows whether scale from zero
still works among many idle actors (with a deadline; ``None`` when it did not start in time).
"""
from __future__ import annotations

import time
from typing import Any

import docker

from bench import system as sysmod
from bench.profile import Profile
from bench.proxy import CountingProxy
from bench.system import BenchSystem, containers_of, cpu_seconds, parallel, poll

POOL = "idle"
TENANT = "BENCH-IDLE"
SETTLE_TIMEOUT_SECONDS = 400  # untaken start requests: declined by the full host, else reconciled after 120 s
COST_SETTLE_SECONDS = 0.5  # after the last container is gone: the worker is back in its long poll
READ_OPS = ("dynamodb.GetItem", "dynamodb.Query", "dynamodb.Scan", "dynamodb.BatchGetItem")
WRITE_OPS = ("dynamodb.PutItem", "dynamodb.UpdateItem", "dynamodb.DeleteItem", "dynamodb.BatchWriteItem",
             "dynamodb.TransactWriteItems")


def run(system: BenchSystem, profile: Profile) -> dict[str, Any]:
    emulator_port = int(system.endpoint.rsplit(":", 1)[1])
    proxy = CountingProxy(emulator_port).start()
    system.start_runner(POOL, env={"AWS_ENDPOINT_URL": proxy.url})
    slots = system.settings().worker_slots
    windows = []
    try:
        actors = parallel(system, 1, lambda c, _i: c.create_actor(POOL), tenant=TENANT)
        _settle(system, 1, profile.idle_settle_seconds)
        cost = _cost_per_execution(system, proxy, actors[0], profile.cost_messages, profile.cost_quiet_seconds)
        for count in profile.idle_counts:
            actors += parallel(system, count - len(actors), lambda c, _i: c.create_actor(POOL), tenant=TENANT)
            settled = _settle(system, min(count, slots), profile.idle_settle_seconds)
            windows.append({**_window(system, proxy, count, profile.idle_window_seconds), "settle_s": settled})
        wake = _wake(system, actors[-1], profile.idle_wake_timeout)
    finally:
        system.stop_runner(POOL)
        proxy.stop()
    low, high = windows[0], windows[-1]
    return {"slots": slots, "windows": windows, "wake_last_actor_s": wake, "runner_requests_per_execution": cost,
            "wake_timeout_s": profile.idle_wake_timeout,
            "growth": round(high["requests_per_min"] / low["requests_per_min"], 2) if low["requests_per_min"] else None}


def _settle(system: BenchSystem, expected_ready: int, quiet_seconds: float) -> float:
    """Until the steady idle state: ``expected_ready`` workers of this tenant READY (one per slot at most)
    and no start request left waiting (the actors beyond the slots get a REQUESTED worker at registration,
    which the full host declines, their actors having nothing to run, or the reconciler removes when no
    host took it in time); then a moment for the last start-up traffic to end. Returns the seconds it took
    (measurement windows never include that transient)."""
    observer = system.observer
    assert observer is not None
    began = time.monotonic()

    def steady() -> bool:
        statuses = [w.status.value for w in observer.backend.workers.all() if w.tenant == TENANT]
        return statuses.count("READY") >= expected_ready and "REQUESTED" not in statuses

    poll(steady, SETTLE_TIMEOUT_SECONDS, 1.0, f"{expected_ready} idle workers READY and no start request waiting")
    time.sleep(quiet_seconds)
    return round(time.monotonic() - began, 1)


def _cost_per_execution(system: BenchSystem, proxy: CountingProxy, actor_id: str, count: int,
                        quiet_seconds: float) -> dict[str, Any]:
    """The runner's AWS requests per execution, by operation: ``count`` messages one after another to an
    actor with a warm worker, counted from one long poll to the next (so each execution carries its own
    receive and the worker's health check). The runner's background traffic (duties, host heartbeat,
    command polls), measured over ``quiet_seconds`` just before, is subtracted at the same rate; the API's
    own requests are not counted (it is not behind the proxy)."""
    observer = system.observer
    assert observer is not None
    client = system.client(TENANT)
    engine_api = docker.APIClient(version="auto")
    try:
        quiet_before, quiet_began = proxy.snapshot(), time.monotonic()
        time.sleep(quiet_seconds)  # the background measurement: nothing else happens meanwhile
        before, began = proxy.snapshot(), time.monotonic()
        for _ in range(count):
            execution_id = client.send(actor_id)
            observer.wait_terminal(actor_id, execution_id, tenant=TENANT)
            poll(lambda: containers_of(actor_id, engine_api) == 0, 30, 0.02, "the container to be removed")
        time.sleep(COST_SETTLE_SECONDS)
        after, elapsed = proxy.snapshot(), time.monotonic() - began
    finally:
        client.close()
        engine_api.close()
    quiet = began - quiet_began
    background = {op: (before[op] - quiet_before[op]) / quiet for op in before}
    per = {op: round((after[op] - before[op] - background.get(op, 0.0) * elapsed) / count, 1)
           for op in sorted(after) if after[op] > before[op]}
    return {"total": round(sum(per.values()), 1), "by_operation": per,
            "background_per_min": round(sum(background.values()) * 60, 1)}


def _window(system: BenchSystem, proxy: CountingProxy, actors: int, seconds: float) -> dict[str, Any]:
    pid, emulator = system.runner_pid(POOL), system.emulator_pid
    before, cpu_before, began = proxy.snapshot(), cpu_seconds(pid), time.monotonic()
    emulator_before = cpu_seconds(emulator)
    time.sleep(seconds)  # the measurement itself: nothing else happens while the counters run
    after, cpu_after, elapsed = proxy.snapshot(), cpu_seconds(pid), time.monotonic() - began
    emulator_after = cpu_seconds(emulator)
    per_min = {op: round((after[op] - before[op]) * 60 / elapsed, 1) for op in sorted(after)
               if after[op] - before[op] > 0}
    total = sum(per_min.values())
    return {"actors": actors, "seconds": round(elapsed, 1), "requests_per_min": round(total, 1),
            "sqs_receives_per_min": per_min.get("sqs.ReceiveMessage", 0.0),
            "dynamodb_reads_per_min": round(sum(per_min.get(op, 0.0) for op in READ_OPS), 1),
            "dynamodb_writes_per_min": round(sum(per_min.get(op, 0.0) for op in WRITE_OPS), 1),
            "by_operation_per_min": per_min,
            "runner_cpu_percent": round((cpu_after - cpu_before) * 100 / elapsed, 2),
            # moto's cost per request grows with its tables (it scans them), so this depends on history
            "emulator_cpu_percent": round((emulator_after - emulator_before) * 100 / elapsed, 2)}


def _wake(system: BenchSystem, actor_id: str, timeout: float) -> float | None:
    """Seconds from POST to container start for an actor without a running worker, or None after
    ``timeout``."""
    observer = system.observer
    assert observer is not None
    client = system.client(TENANT)
    try:
        posted = time.time()
        execution_id = client.send(actor_id)
        try:
            execution = observer.wait_phase(actor_id, execution_id, "started", timeout=timeout, interval=0.1,
                                             tenant=TENANT)
        except sysmod.BenchError:
            return None
        started = execution.phases.get("started")
        return round(started - posted, 3) if started else None
    finally:
        client.close()
