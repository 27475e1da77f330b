"""The scale run (issue 16): many registered actors, several runner processes, a burst over hundreds.

``scale_registered`` actors are registered (most of them parked on a pool no runner serves: they stay
idle, as most of 10,000 actors are, and weigh only on the tables the API and the duties read); a burst
of ``scale_messages`` messages is then spread over ``scale_actors`` of them, served by
``scale_runners`` runner processes on one pool. The runners talk to the emulator through a counting
proxy, so the run reports the runners' AWS requests per execution. Verdicts: none lost (every
execution ends COMPLETE) and none run twice after its result was recorded (at most one attempt of an
execution closed with a result).
"""
from __future__ import annotations

import time
from collections import Counter
from typing import Any

from bench import stats
from bench.profile import Profile
from bench.proxy import CountingProxy
from bench.system import BenchSystem, parallel
from chalicelib.domain.models import AttemptReason, Execution

POOL = "scale"
PARKED_POOL = "parked"  # no runner serves it: registered actors that stay idle
SLOTS_PER_RUNNER = 8
_LOST = {AttemptReason.RUNNER_LOST.value, AttemptReason.RUNNER_SHUTDOWN.value, AttemptReason.START_FAILED.value}


def run(system: BenchSystem, profile: Profile) -> dict[str, Any]:
    observer = system.observer
    assert observer is not None
    port = int(system.endpoint.rsplit(":", 1)[1].split("/")[0])
    proxy = CountingProxy(port).start()
    names = [f"runner-{POOL}-{i}" for i in range(profile.scale_runners)]
    try:
        for name in names:
            system.stack.add_runner(name, {"ABACO_RUNNER_POOL": POOL, "ABACO_POOLS": POOL,
                                           "ABACO_WORKER_SLOTS": str(SLOTS_PER_RUNNER),
                                           "AWS_ENDPOINT_URL": proxy.url})
        began = time.time()
        parked = parallel(system, profile.scale_registered - profile.scale_actors,
                          lambda c, _i: c.create_actor(PARKED_POOL))
        busy = parallel(system, profile.scale_actors, lambda c, _i: c.create_actor(POOL))
        registered_s = time.time() - began
        before, burst_began = proxy.snapshot(), time.time()
        sent = parallel(system, profile.scale_messages,
                        lambda c, i: (busy[i % len(busy)], c.send(busy[i % len(busy)])))
        posted = time.time()
        executions = observer.wait_all(sent, 300 + 2 * len(sent))
        requests = proxy.snapshot() - before  # by operation: where the runners' requests go
    finally:
        for name in names:
            proc = system.stack.procs.pop(name, None)
            if proc is not None:
                proc.terminate()
                proc.wait(60)
        proxy.stop()
    return _verdicts(executions, len(parked) + len(busy), registered_s, posted - burst_began,
                     time.time() - burst_began, requests, profile)


def _verdicts(executions: list[Execution], registered: int, registered_s: float, post_s: float, drain_s: float,
              requests: Counter[str], profile: Profile) -> dict[str, Any]:
    lost = [e.id for e in executions if e.status.value != "COMPLETE"]
    twice = [e.id for e in executions if sum(1 for a in e.attempts if a.reason not in _LOST) > 1]
    return {"registered_actors": registered, "runners": profile.scale_runners, "burst_actors": profile.scale_actors,
            "messages": len(executions), "lost": len(lost), "run_twice": len(twice),
            "register_s": round(registered_s, 1), "post_s": round(post_s, 2), "drain_s": round(drain_s, 2),
            "per_s": round(stats.rate(len(executions), drain_s), 2),
            "runner_requests_per_execution": round(sum(requests.values()) / max(len(executions), 1), 2),
            "runner_requests_by_operation": dict(requests.most_common()),
            **({"error": f"{len(lost)} lost, {len(twice)} run twice"} if lost or twice else {})}
