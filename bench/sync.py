"""Suite: what the user waits for. A no-op message from the start of the POST to the last byte of the answer.

Three ways to wait, against bare ``docker run`` of the same image with the same flags
(``bench.baseline.Bare``: the runner's own container spec, create + start + wait + logs + remove):

- ``sync``: ``POST /actors/{id}/messages?_abaco_synchronous=true`` to a warm-start actor (its container is
  pre-started), timed to the last byte of the answer (the execution's logs).
- ``sync_cold``: the same to an actor with the ``cold`` hint (a container created per message).
- ``async``: the ordinary POST, then ``GET .../executions/{id}?wait=25``, a blocking wait the API answers
  when the execution is COMPLETE (no client-side poll interval), timed to the last byte of that answer.
  The POST alone is the API's accept time.

Runs alternate bare, sync, sync_cold, async within each round, so a shared machine's noise hits all of
them alike; between runs the system settles (the worker READY, the next container pre-started). Each round
gives its own p50s and ratios; the report is the median over the rounds with [min, max]. The runner's
phase stamps of the synchronous runs stay as the breakdown (``phases_ms``).
"""
from __future__ import annotations

import http.client
import json
import statistics
import time
from typing import Any
from urllib.parse import urlsplit

import docker

from bench import stats
from bench.baseline import Bare
from bench.latency import _settle, intervals
from bench.profile import Profile
from bench.system import NOOP_IMAGE, BenchError, BenchSystem

POOL = "sync"
WAIT_SECONDS = 25  # the blocking wait's bound (the API's synchronous timeout)
SETTLE_SECONDS = 0.1
KINDS = ("bare", "sync", "sync_cold", "async")
RATIOS = {"sync_ratio_p50": "sync", "sync_cold_ratio_p50": "sync_cold", "async_ratio_p50": "async"}


class Timer:
    """One keep-alive connection to the API; every call returns (milliseconds to the last byte, answer)."""

    def __init__(self, base: str, tenant: str) -> None:
        parts = urlsplit(base)
        self._conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=60)
        self._headers = {"tenant": tenant, "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: bytes | None = None) -> tuple[float, int, bytes, dict[str, str]]:
        began = time.perf_counter()
        self._conn.request(method, path, body=body, headers=self._headers)
        response = self._conn.getresponse()
        data = response.read()
        elapsed = (time.perf_counter() - began) * 1000
        return elapsed, response.status, data, {k.lower(): v for k, v in response.getheaders()}

    def close(self) -> None:
        self._conn.close()


def run(system: BenchSystem, profile: Profile, run_id: str) -> dict[str, Any]:
    client = system.client()
    system.start_runner(POOL)
    actors = {"warm": client.create_actor(POOL), "cold": client.create_actor(POOL, hints=["cold"])}
    client.wait_ready(list(actors.values()))
    timer = Timer(system.stack.api_url, client.tenant)
    bare = Bare(NOOP_IMAGE, run_id)
    engine_api = docker.APIClient(version="auto")
    rounds, phases = [], []
    try:
        for _ in range(profile.sync_rounds):
            samples: dict[str, list[float]] = {kind: [] for kind in (*KINDS, "accept")}
            for index in range(profile.latency_warmup + profile.sync_per_round):
                one = _iteration(system, timer, bare, actors, engine_api)
                if index >= profile.latency_warmup:
                    phases.append(one.pop("phases"))
                    for kind, value in one.items():
                        samples[kind].append(value)
            rounds.append(samples)
    finally:
        bare.close()
        engine_api.close()
        timer.close()
        client.close()
        system.stop_runner(POOL)
    return summarise(rounds, phases)


def _iteration(system: BenchSystem, timer: Timer, bare: Bare, actors: dict[str, str],
               engine_api: docker.APIClient) -> dict[str, Any]:
    observer = system.observer
    assert observer is not None
    out: dict[str, Any] = {"bare": bare.run_once().total_ms}
    time.sleep(SETTLE_SECONDS)
    out["sync"], execution_id = _sync(timer, actors["warm"])
    execution = observer.execution(actors["warm"], execution_id)
    breakdown = intervals({"post": execution.phases.get("queued", 0.0), **execution.phases})
    out["phases"] = {name: ms for name, ms in breakdown.items() if not name.startswith("post->")}
    out["phases"]["warm_hit"] = 1.0 if "prestarted" in execution.phases else 0.0  # a pre-started container
    _settle(observer, observer.dbid(actors["warm"]), engine_api, warm=True)
    out["sync_cold"], _ = _sync(timer, actors["cold"])
    _settle(observer, observer.dbid(actors["cold"]), engine_api, warm=False)
    out["accept"], out["async"], _ = _async(timer, actors["warm"])
    _settle(observer, observer.dbid(actors["warm"]), engine_api, warm=True)
    return out


def _sync(timer: Timer, actor_id: str) -> tuple[float, str]:
    body = json.dumps({"message": "bench"}).encode()
    elapsed, status, data, headers = timer.call("POST", f"/actors/{actor_id}/messages?_abaco_synchronous=true", body)
    if status != 200:
        raise BenchError(f"synchronous message to {actor_id}: HTTP {status}: {data[:300]!r}")
    return elapsed, headers.get("x-abaco-execution-id", "")


def _async(timer: Timer, actor_id: str) -> tuple[float, float, str]:
    """(accept ms, POST -> blocking wait saw COMPLETE ms, the execution's id)."""
    body = json.dumps({"message": "bench"}).encode()
    accept, status, data, _ = timer.call("POST", f"/actors/{actor_id}/messages", body)
    if status != 200:
        raise BenchError(f"message to {actor_id}: HTTP {status}: {data[:300]!r}")
    execution_id = json.loads(data)["result"]["execution_id"]
    waited, status, data, _ = timer.call("GET", f"/actors/{actor_id}/executions/{execution_id}?wait={WAIT_SECONDS}")
    result = json.loads(data)["result"] if status == 200 else {}
    if result.get("status") != "COMPLETE":
        raise BenchError(f"execution {execution_id}: HTTP {status}: {data[:300]!r}")
    return accept, accept + waited, execution_id


def summarise(rounds: list[dict[str, list[float]]], phases: list[dict[str, float]]) -> dict[str, Any]:
    """Per-round p50s and ratios, and their median with [min, max] over the rounds (pure; unit tested)."""
    per_round = []
    for samples in rounds:
        p50 = {kind: round(stats.percentile(values, 50), 1) for kind, values in samples.items() if values}
        ratios = {key: round(p50[kind] / p50["bare"], 3) for key, kind in RATIOS.items()
                  if kind in p50 and p50.get("bare")}
        per_round.append({"n": len(samples["bare"]), "p50_ms": p50, **ratios})
    out: dict[str, Any] = {"rounds": per_round}
    for kind in (*KINDS, "accept"):
        values = [r["p50_ms"][kind] for r in per_round if kind in r["p50_ms"]]
        if values:
            out[f"{kind}_p50_ms"] = round(statistics.median(values), 1)
            out[f"{kind}_p50_ms_spread"] = [min(values), max(values)]
    for key in RATIOS:
        values = [r[key] for r in per_round if key in r]
        if values:
            out[key] = round(statistics.median(values), 3)
            out[f"{key}_spread"] = [min(values), max(values)]
    hits = [p["warm_hit"] for p in phases if "warm_hit" in p]
    out["warm_hit_rate"] = round(sum(hits) / len(hits), 2) if hits else None
    names = list(dict.fromkeys(n for p in phases for n in p if n != "warm_hit"))
    out["phases_ms"] = {n: stats.summary([p[n] for p in phases if n in p]) for n in names}
    out["samples"] = {kind: [[round(v, 1) for v in r[kind]] for r in rounds] for kind in (*KINDS, "accept")}
    return out
