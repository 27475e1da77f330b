"""Suite 2: executions per second on one runner with 1, 2, 4, 8 slots, against bare Docker at the same
concurrency. The best level is measured ``sync_rounds`` times in all, for the ratio's spread.

At each level the runner serves ``slots`` actors (one worker each, so ``slots`` containers can run at
once); the messages are spread evenly over them. Our rate is the executions over the time from the first
POST to the last ``finalised`` stamp; the bare rate is the same number of create+start+wait+logs+remove
cycles by ``slots`` threads, run just before on the same engine.
"""
from __future__ import annotations

import time
from typing import Any

from bench import baseline, stats
from bench.profile import Profile
from bench.system import NOOP_IMAGE, BenchError, BenchSystem, cpu_by_component


def run(system: BenchSystem, profile: Profile, run_id: str) -> dict[str, Any]:
    levels = [_level(system, slots, max(profile.throughput_min, profile.throughput_per_slot * slots), run_id)
              for slots in profile.throughput_slots]
    best = max(levels, key=lambda level: level["ours_per_s"])
    best_bare = max(levels, key=lambda level: level["bare_per_s"])
    # The best level again, so that the ratio comes with its spread over rounds (bare and ours alternate
    # inside every round, as in the first one).
    again = []
    for _ in range(profile.sync_rounds - 1):
        system.wait_stopped()  # the pool's previous runner gone before the same pool starts again
        again.append(_level(system, best["slots"], best["executions"], run_id))
    rounds = [round(r["ours_per_s"] / r["bare_per_s"], 3) for r in (best, *again) if r["bare_per_s"]]
    return {
        "levels": levels,
        "best_slots": best["slots"],
        "best_ours_per_s": best["ours_per_s"],
        "best_bare_per_s": best_bare["bare_per_s"],
        # our best rate over bare Docker's best rate (at whatever concurrency each peaks): the engine's limit
        "ratio": round(best["ours_per_s"] / best_bare["bare_per_s"], 3),
        "rounds_at_best": again,
        "ratio_rounds": rounds,  # ours / bare at the best level, each round on its own
        "ratio_spread": [min(rounds), max(rounds)] if rounds else None,
    }


def _level(system: BenchSystem, slots: int, total: int, run_id: str) -> dict[str, Any]:
    pool = f"tp{slots}"
    client = system.client()
    system.start_runner(pool, worker_slots=str(slots))
    try:
        actors = [client.create_actor(pool) for _ in range(slots)]
        client.wait_ready(actors)
        cpu_0 = cpu_by_component(system, pool)
        bare_wall, bare_rate = baseline.throughput(NOOP_IMAGE, run_id, slots, total)
        cpu_1 = cpu_by_component(system, pool)
        ours_wall, failed = _drain(system, client, actors, total)
        cpu_2 = cpu_by_component(system, pool)
    finally:
        client.close()
        system.stop_runner(pool)
    ours_rate = stats.rate(total, ours_wall)
    return {"slots": slots, "executions": total, "failed": failed, "ours_s": round(ours_wall, 2),
            "ours_per_s": round(ours_rate, 2), "bare_s": round(bare_wall, 2), "bare_per_s": round(bare_rate, 2),
            "ratio": round(ours_rate / bare_rate, 3),
            "cpu_ms_per_execution": _per_execution(cpu_1, cpu_2, total),
            "bare_cpu_ms_per_execution": _per_execution(cpu_0, cpu_1, total)}


def _per_execution(before: dict[str, float], after: dict[str, float], total: int) -> dict[str, float]:
    """CPU milliseconds per execution by component over a measurement (the bench's own process and the
    containers' shims are not counted)."""
    return {name: round((after[name] - before[name]) * 1000 / total, 1) for name in before}


def _drain(system: BenchSystem, client: Any, actors: list[str], total: int) -> tuple[float, int]:
    """Send ``total`` messages round robin and wait for all of them; (seconds, executions not COMPLETE)."""
    observer = system.observer
    assert observer is not None
    began = time.time()
    sent = [(actors[i % len(actors)], client.send(actors[i % len(actors)])) for i in range(total)]
    executions = observer.wait_all(sent, 60 + total)
    failed = sum(1 for e in executions if e.status.value != "COMPLETE")
    finals = [e.phases["finalised"] for e in executions if "finalised" in e.phases]
    if not finals:
        raise BenchError("no execution reached the finalised phase")
    return max(finals) - began, failed
