"""How much each suite measures: the full run (``make bench``) and the smoke run (``make bench QUICK=1``)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    latency_runs: int  # sequential messages to one warm no-op actor (at least 50)
    latency_warmup: int  # first runs discarded (image cache, client connections, Python imports)
    throughput_slots: tuple[int, ...]  # worker slots of the one runner (1, 2, 4, 8)
    throughput_per_slot: int  # executions per slot at each level (so each level runs several waves)
    throughput_min: int  # ... but at least this many executions per level
    zero_samples: int  # idle actors woken by one message each
    out_actors: int  # scale out: actors ...
    out_messages: int  # ... and messages spread evenly over them (100 and 1,000)
    idle_counts: tuple[int, int]  # registered idle actors at the two measurements (1,000)
    idle_window_seconds: float  # length of each idle measurement window
    idle_wake_timeout: float  # deadline for a message to an actor that has no worker among many idle ones
    api_seconds: float  # per endpoint and concurrency
    api_concurrency: tuple[int, ...]  # client threads (1 and 16)
    api_actors: int  # actors in the listed tenant (and targets of POST message)
    idle_settle_seconds: float  # after the idle workers are READY, before a window opens
    cost_messages: int  # messages counted for the runner's AWS requests per execution
    cost_quiet_seconds: float  # the runner's background traffic, measured just before, is subtracted
    # The user's wait (bench.sync): alternated rounds, each with this many runs of every kind. Quick: 3 x 10,
    # so that a round's p50 (SE about 1.25 x CV / sqrt(n), CV about 20% per run here) is within about 8%
    # and the median of the rounds, and the ratio of two such medians, within 15% from run to run.
    sync_rounds: int = 3
    sync_per_round: int = 10
    cost_executions: int = 20  # bench.execution_cost: sequential executions counted behind the proxy
    # Settings of every runner the bench starts. The full run uses the shipped defaults; the smoke run
    # shortens the long poll so that its runners stop within seconds (its numbers are not published).
    runner_env: tuple[tuple[str, str], ...] = ()
    # Let the previous suite's runner exit before the next suite starts (clean CPU and duty leases).
    isolate_suites: bool = True
    # The scale run (bench/scale_run.py): registered actors, runner processes, a burst over some actors.
    scale_registered: int = 2000
    scale_runners: int = 3
    scale_actors: int = 500
    scale_messages: int = 1000


FULL = Profile(name="full", latency_runs=60, latency_warmup=3, throughput_slots=(1, 2, 4, 8),
               throughput_per_slot=8, throughput_min=24, zero_samples=20, out_actors=100, out_messages=1000,
               idle_counts=(100, 1000), idle_window_seconds=90.0, idle_wake_timeout=60.0, api_seconds=8.0,
               api_concurrency=(1, 16), api_actors=20, idle_settle_seconds=5.0, cost_messages=10,
               cost_quiet_seconds=30.0, sync_rounds=5, sync_per_round=20, cost_executions=40)

QUICK = Profile(name="quick", latency_runs=3, latency_warmup=1, throughput_slots=(2,), throughput_per_slot=2,
                throughput_min=4, zero_samples=2, out_actors=3, out_messages=6, idle_counts=(2, 6),
                idle_window_seconds=3.0, idle_wake_timeout=3.0, api_seconds=0.5, api_concurrency=(1, 4),
                api_actors=3, idle_settle_seconds=0.5, cost_messages=2, cost_quiet_seconds=2.0,
                runner_env=(("ABACO_RECEIVE_WAIT_SECONDS", "2"),), isolate_suites=False,
                scale_registered=20, scale_runners=2, scale_actors=5, scale_messages=10,
                sync_rounds=3, sync_per_round=10, cost_executions=20)
