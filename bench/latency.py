"""Suite 1: one message to a warm no-op actor, POST to COMPLETE, against the bare container lifecycle.

Runs alternate (bare, ours, bare, ours, ...) so that the noise of a shared machine hits both sides alike.
Between runs the system is left to settle (the container removed, the worker back in its long poll).

End to end is measured from the client's POST to the runner's ``finalised`` stamp, taken just before the
terminal write (same host, same clock). The time at which the bench first *read* COMPLETE (polling the
store every 20 ms) is reported next to it as an upper bound that also includes that write.
"""
from __future__ import annotations

import itertools
import time
from typing import Any

import docker

from bench import stats
from bench.baseline import BASE_PHASES, Bare, BareRun
from bench.profile import Profile
from bench.system import NOOP_IMAGE, BenchError, BenchSystem, containers_of, poll

POOL = "lat"
SETTLE_SECONDS = 0.1  # after the container is gone: let the worker return to its long poll
# Our phases in lifecycle order (execution ``phases``); "post" is the client's send time.
PHASE_ORDER = ("post", "received", "queued", "claimed", "created", "started", "exited", "finalised")


def intervals(phases: dict[str, float]) -> dict[str, float]:
    """Milliseconds between consecutive phases present, named ``a->b`` (pure; unit tested)."""
    present = [p for p in PHASE_ORDER if p in phases]
    return {f"{a}->{b}": (phases[b] - phases[a]) * 1000 for a, b in itertools.pairwise(present)}


def run(system: BenchSystem, profile: Profile, run_id: str, pool: str = POOL,
        runner_env: dict[str, str] | None = None) -> dict[str, Any]:
    """``pool`` and ``runner_env`` let a variant (a warm-start runner, say) run the same measurement."""
    client = system.client()
    system.start_runner(pool, env=runner_env)
    actor_id = client.create_actor(pool)
    client.wait_ready([actor_id])
    bare = Bare(NOOP_IMAGE, run_id)
    engine_api = docker.APIClient(version="auto")
    ours: list[dict[str, Any]] = []
    bares: list[BareRun] = []
    try:
        for index in range(profile.latency_warmup + profile.latency_runs):
            bare_run = bare.run_once()
            time.sleep(SETTLE_SECONDS)
            our_run = _one(system, client, actor_id, engine_api)
            if index >= profile.latency_warmup:
                bares.append(bare_run)
                ours.append(our_run)
    finally:
        bare.close()
        engine_api.close()
        client.close()
        system.stop_runner(pool)
    return summarise(ours, bares)


def _one(system: BenchSystem, client: Any, actor_id: str, engine_api: docker.APIClient) -> dict[str, Any]:
    assert system.observer is not None
    posted = time.time()
    execution_id = client.send(actor_id)
    accepted = time.time()
    execution, seen = system.observer.wait_terminal(actor_id, execution_id)
    if execution.status.value != "COMPLETE" or execution.exit_code != 0:
        raise BenchError(f"execution {execution_id}: {execution.status.value} {execution.status_message}")
    poll(lambda: containers_of(actor_id, engine_api) == 0, 30, 0.02, "the container to be removed")
    time.sleep(SETTLE_SECONDS)
    phases = {"post": posted, **execution.phases}
    if "finalised" not in phases:
        raise BenchError(f"execution {execution_id} has no finalised phase: {sorted(phases)}")
    return {"accept_ms": (accepted - posted) * 1000, "e2e_ms": (phases["finalised"] - posted) * 1000,
            "observed_ms": (seen - posted) * 1000, "intervals": intervals(phases)}


def summarise(ours: list[dict[str, Any]], bares: list[BareRun]) -> dict[str, Any]:
    e2e = [r["e2e_ms"] for r in ours]
    baseline = [b.total_ms for b in bares]
    names = [n for n in ours[0]["intervals"]] if ours else []
    ours_phases = {n: stats.summary([r["intervals"][n] for r in ours if n in r["intervals"]]) for n in names}
    bare_phases = {n: stats.summary([b.phases_ms[n] for b in bares]) for n in BASE_PHASES}
    e2e_summary, base_summary = stats.summary(e2e), stats.summary(baseline)
    return {
        "runs": len(ours),
        "e2e_ms": e2e_summary,
        "observed_complete_ms": stats.summary([r["observed_ms"] for r in ours]),
        "accept_ms": stats.summary([r["accept_ms"] for r in ours]),
        "baseline_ms": base_summary,
        "overhead_ms": {q: round(e2e_summary[q] - base_summary[q], 1) for q in ("p50", "p95", "p99")},
        "ratio": {q: round(e2e_summary[q] / base_summary[q], 2) for q in ("p50", "p95", "p99")},
        "phases_ms": ours_phases,
        "baseline_phases_ms": bare_phases,
        "samples": {"e2e_ms": [round(x, 2) for x in e2e], "baseline_ms": [round(x, 2) for x in baseline]},
    }
