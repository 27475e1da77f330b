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
from bench.system import NOOP_IMAGE, BenchError, BenchSystem, poll
from runners.pipeline.engine import LABEL_WARM

POOL = "lat"
SETTLE_SECONDS = 0.1  # after the container is gone: let the worker return to its long poll
WARM_REFILL_SECONDS = 5.0  # how long to wait for the next pre-started container of a warm actor
# Our phases in lifecycle order (execution ``phases``); "post" is the client's send time. A pre-started
# (warm) container was created before the message, so only what happens from the POST on is counted.
PHASE_ORDER = ("post", "received", "queued", "dequeued", "claimed", "prestarted", "created", "started", "exited",
               "finalised")


def intervals(phases: dict[str, float]) -> dict[str, float]:
    """Milliseconds between consecutive phases from the POST on, in time order, named ``a->b`` (pure;
    unit tested). Phases before the POST (a warm container's creation) are left out."""
    since = phases.get("post", float("-inf"))
    rank = {name: index for index, name in enumerate(PHASE_ORDER)}
    present = sorted((p for p in phases if p in rank and phases[p] >= since), key=lambda p: (phases[p], rank[p]))
    return {f"{a}->{b}": (phases[b] - phases[a]) * 1000 for a, b in itertools.pairwise(present)}


def run(system: BenchSystem, profile: Profile, run_id: str, pool: str = POOL,
        runner_env: dict[str, str] | None = None) -> dict[str, Any]:
    """Two actors on one runner with the shipped settings: one as it comes (warm start on by default, so
    its container is pre-started) and one with the ``cold`` hint (created and started per message), so
    the platform's own overhead shows on the cold path. ``pool`` and ``runner_env`` let a variant run the
    same measurement."""
    client = system.client()
    system.start_runner(pool, env=runner_env)
    actors = {"shipped": client.create_actor(pool), "cold": client.create_actor(pool, hints=["cold"])}
    client.wait_ready(list(actors.values()))
    bare = Bare(NOOP_IMAGE, run_id)
    engine_api = docker.APIClient(version="auto")
    ours: dict[str, list[dict[str, Any]]] = {name: [] for name in actors}
    bares: list[BareRun] = []
    try:
        for index in range(profile.latency_warmup + profile.latency_runs):
            bare_run = bare.run_once()
            time.sleep(SETTLE_SECONDS)
            runs = {name: _one(system, client, actor_id, engine_api) for name, actor_id in actors.items()}
            if index >= profile.latency_warmup:
                bares.append(bare_run)
                for name, result in runs.items():
                    ours[name].append(result)
    finally:
        bare.close()
        engine_api.close()
        client.close()
        system.stop_runner(pool)
    return {**summarise(ours["shipped"], bares), "cold": summarise(ours["cold"], bares)}


def _one(system: BenchSystem, client: Any, actor_id: str, engine_api: docker.APIClient) -> dict[str, Any]:
    observer = system.observer
    assert observer is not None
    posted = time.time()
    execution_id = client.send(actor_id)
    accepted = time.time()
    execution, seen = observer.wait_terminal(actor_id, execution_id)
    if execution.status.value != "COMPLETE" or execution.exit_code != 0:
        raise BenchError(f"execution {execution_id}: {execution.status.value} {execution.status_message}")
    phases = {"post": posted, **execution.phases}
    _settle(observer, observer.dbid(actor_id), engine_api, warm="prestarted" in phases)
    if "finalised" not in phases:
        raise BenchError(f"execution {execution_id} has no finalised phase: {sorted(phases)}")
    return {"accept_ms": (accepted - posted) * 1000, "e2e_ms": (phases["finalised"] - posted) * 1000,
            "observed_ms": (seen - posted) * 1000, "intervals": intervals(phases),
            "warm": "prestarted" in phases}


def _settle(observer: Any, dbid: str, engine_api: docker.APIClient, warm: bool) -> None:
    """Until the runner is done with the message (the worker READY again, which it sets after removing the
    container) and, with warm start, the actor's next container is pre-started: the next run, ours or
    bare, must not share the CPU with this one's aftermath."""
    poll(lambda: all(w.status.value == "READY" for w in observer.backend.workers.list(dbid)), 30, 0.02,
         "the worker to be READY again")
    if warm:  # it ran in a pre-started container: the worker pre-starts the next one
        try:
            poll(lambda: engine_api.containers(filters={"label": f"{LABEL_WARM}={dbid}", "status": "running"}),
                 WARM_REFILL_SECONDS, 0.05, "a pre-started container")
        except BenchError:
            pass  # the pool is full or the filler failed: the next run will say so (a cold start)
    time.sleep(SETTLE_SECONDS)


def summarise(ours: list[dict[str, Any]], bares: list[BareRun]) -> dict[str, Any]:
    e2e = [r["e2e_ms"] for r in ours]
    baseline = [b.total_ms for b in bares]
    names = list(dict.fromkeys(n for r in ours for n in r["intervals"]))
    ours_phases = {n: stats.summary([r["intervals"][n] for r in ours if n in r["intervals"]]) for n in names}
    bare_phases = {n: stats.summary([b.phases_ms[n] for b in bares]) for n in BASE_PHASES}
    e2e_summary, base_summary = stats.summary(e2e), stats.summary(baseline)
    return {
        "runs": len(ours),
        "warm_runs": sum(1 for r in ours if r.get("warm")),
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
