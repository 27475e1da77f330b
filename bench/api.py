"""Suite 6: the API alone. Requests per second and latency for GET actor, list actors and POST message at
1 and 16 concurrent clients, against a raw DynamoDB GetItem on the same emulator at the same concurrency
(the least any read through the API must cost).

The actors of this suite sit in a runner pool that no runner serves, so the messages posted here queue
up (spread over the actors, keeping each inbox shallow) and start no container that would compete for
the CPU with the API under test.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from bench import stats
from bench.profile import Profile
from bench.system import ApiClient, BenchSystem, parallel
from chalicelib.adapters import aws
from chalicelib.wiring import resources

POOL = "api"
TENANT = "BENCH-API"

Request = Callable[[ApiClient, int, int], int]  # (client, thread index, request index) -> HTTP status


def run(system: BenchSystem, profile: Profile) -> dict[str, Any]:
    actors = parallel(system, profile.api_actors, lambda c, _i: c.create_actor(POOL), tenant=TENANT)
    ddb = aws.client("dynamodb", system.settings())
    table = resources.ACTORS.physical(system.prefix)
    key = {"tenant": {"S": TENANT}, "actor_id": {"S": actors[0]}}

    def store_get(_c: ApiClient, _t: int, _i: int) -> int:
        ddb.get_item(TableName=table, Key=key)
        return 200

    def get_actor(c: ApiClient, _t: int, _i: int) -> int:
        return c.request("GET", f"/actors/{actors[0]}")[0]

    def list_actors(c: ApiClient, _t: int, _i: int) -> int:
        return c.request("GET", "/actors")[0]

    def post_message(c: ApiClient, t: int, i: int) -> int:
        target = actors[(t + i) % len(actors)]
        return c.request("POST", f"/actors/{target}/messages", {"message": "bench"})[0]

    cases: dict[str, Request] = {"store_get_item": store_get, "get_actor": get_actor, "list_actors": list_actors,
                                 "post_message": post_message}
    results: dict[str, Any] = {"actors_listed": len(actors)}
    for clients in profile.api_concurrency:
        results[f"c{clients}"] = {name: _load(system, request, clients, profile.api_seconds)
                                  for name, request in cases.items()}
    return results


def _load(system: BenchSystem, request: Request, clients: int, seconds: float) -> dict[str, Any]:
    """``clients`` threads, each sending requests back to back for ``seconds``."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    start = threading.Barrier(clients + 1)
    deadline = [0.0]

    def loop(index: int) -> None:
        client = system.client(TENANT)
        start.wait()
        try:
            count = 0
            while time.perf_counter() < deadline[0]:
                began = time.perf_counter()
                status = request(client, index, count)
                latencies[index].append((time.perf_counter() - began) * 1000)
                errors[index] += status != 200
                count += 1
        finally:
            client.close()

    threads = [threading.Thread(target=loop, args=(i,), name=f"api-load-{i}") for i in range(clients)]
    for thread in threads:
        thread.start()
    deadline[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    flat = [x for per in latencies for x in per]
    return {"requests": len(flat), "errors": sum(errors), "per_s": round(stats.rate(len(flat), elapsed), 1),
            "latency_ms": stats.summary(flat)}
