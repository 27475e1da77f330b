"""Suites 3 and 4: scale from zero (a message to an actor with no worker) and scale out (many messages
over many actors).

Scale from zero: each actor gets its first worker, which is then stopped through the API; once every
worker has left, each actor is idle with no worker, the state a worker leaves behind after its time to
live. One
message each, one at a time: the sample is the client's POST to the container's ``started`` stamp.
"""
from __future__ import annotations

import time
from typing import Any

import docker

from bench import baseline, stats
from bench.latency import SETTLE_SECONDS, intervals
from bench.profile import Profile
from bench.system import NOOP_IMAGE, BenchError, BenchSystem, containers_of, parallel, poll

ZERO_POOL = "zero"
OUT_BARE_CONCURRENCY = 8  # bare Docker's baseline for scale out: as many threads as the runner's default slots
OUT_POOL = "out"


def scale_from_zero(system: BenchSystem, profile: Profile) -> dict[str, Any]:
    observer = system.observer
    assert observer is not None
    client = system.client()
    engine_api = docker.APIClient(version="auto")
    # Two slots per actor: a woken worker keeps its slot for the time to live, and the autoscaler can
    # start a second one for the same message (it may see the execution before the API's worker record).
    system.start_runner(ZERO_POOL, worker_slots=str(2 * profile.zero_samples))
    samples: list[float] = []
    phase_runs: list[dict[str, float]] = []
    try:
        actors = [client.create_actor(ZERO_POOL) for _ in range(profile.zero_samples)]
        _idle_without_workers(system, client, actors)
        for actor_id in actors:
            posted = time.time()
            execution_id = client.send(actor_id)
            execution = observer.wait_phase(actor_id, execution_id, "started")
            if "started" not in execution.phases:
                raise BenchError(f"scale from zero: {execution_id} ended {execution.status.value} without starting")
            samples.append(execution.phases["started"] - posted)
            phase_runs.append(intervals({"post": posted, **execution.phases}))
            observer.wait_terminal(actor_id, execution_id)
            poll(lambda a=actor_id: containers_of(a, engine_api) == 0, 30, 0.02, "the container to be removed")
            time.sleep(SETTLE_SECONDS)
        woken = sum(len(observer.backend.workers.list(observer.dbid(a))) for a in actors)
    finally:
        engine_api.close()
        client.close()
        system.stop_runner(ZERO_POOL)
    names = [n for n in phase_runs[0]] if phase_runs else []
    return {"samples_s": [round(s, 3) for s in samples], "seconds": stats.summary(samples, 3),
            "phases_ms": {n: stats.summary([r[n] for r in phase_runs if n in r]) for n in names},
            "workers_per_woken_actor": round(woken / len(actors), 2)}


def _idle_without_workers(system: BenchSystem, client: Any, actors: list[str]) -> None:
    """Each actor READY with its first worker, then that worker stopped through the API and gone (it
    leaves after its current long poll): the state a worker leaves behind after its time to live."""
    observer = system.observer
    assert observer is not None
    client.wait_ready(actors)
    for actor_id in actors:
        for worker in client.workers(actor_id):
            client.ok("DELETE", f"/actors/{actor_id}/workers/{worker['id']}")
    wait = system.settings().receive_wait_seconds + 30
    poll(lambda: all(not observer.backend.workers.list(observer.dbid(a)) for a in actors), wait, 0.2,
         "the stopped workers to leave")


def scale_out(system: BenchSystem, profile: Profile, run_id: str) -> dict[str, Any]:
    """``out_messages`` over ``out_actors``; one runner with one slot per actor (see the README's notes).
    Bare Docker runs a fifth as many containers at OUT_BARE_CONCURRENCY just before, as the baseline of
    the same moment (a shared machine's load drifts over a long run)."""
    observer = system.observer
    assert observer is not None
    client = system.client()
    system.start_runner(OUT_POOL, worker_slots=str(profile.out_actors))
    try:
        actors = parallel(system, profile.out_actors, lambda c, _i: c.create_actor(OUT_POOL))
        client.wait_ready(actors, timeout=120 + profile.out_actors)
        bare_count = max(profile.out_messages // 5, OUT_BARE_CONCURRENCY)
        _, bare_rate = baseline.throughput(NOOP_IMAGE, run_id, OUT_BARE_CONCURRENCY, bare_count)
        began = time.time()
        per_actor = profile.out_messages // profile.out_actors
        sent = parallel(system, per_actor * len(actors),
                        lambda c, i: (actors[i % len(actors)], c.send(actors[i % len(actors)])))
        posted = time.time()
        total = len(sent)
        executions = observer.wait_all(sent, 120 + total)
    finally:
        client.close()
        system.stop_runner(OUT_POOL)
    finals = sorted(e.phases["finalised"] - began for e in executions if "finalised" in e.phases)
    latencies = [e.phases["finalised"] - _accepted(e.phases) for e in executions
                 if "finalised" in e.phases and _accepted(e.phases)]
    drain = finals[-1] if finals else 0.0
    failed = sum(1 for e in executions if e.status.value != "COMPLETE")
    return {"actors": len(actors), "messages": total, "failed": failed,
            "post_s": round(posted - began, 2), "drain_s": round(drain, 2),
            "per_s": round(stats.rate(total, drain), 2), "latency_s": stats.summary(latencies, 2),
            "bare_per_s": round(bare_rate, 2), "ratio": round(stats.rate(total, drain) / bare_rate, 3),
            "completions_s": [round(f, 2) for f in finals]}


def _accepted(phases: dict[str, float]) -> float | None:
    """When the API recorded the message (``queued``; ``received`` in older records)."""
    return phases.get("queued", phases.get("received"))
