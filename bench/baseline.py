"""The physical limit: the same container's create + start + wait + logs + remove through the Docker SDK.

The container is created by the runner's own engine adapter (``runners.engine.DockerEngine.create``), so
the hardening flags, limits, log driver and network mode are exactly the runner's; only the platform
around it (API, queue, store, worker) is missing. Each step is timed on its own.
"""
from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

import docker

from runners.engine import ContainerSpec, DockerEngine

LABEL_BENCH = "org.abaco.bench"  # our baseline containers, so a failed run can remove exactly them
BASE_PHASES = ("create", "start", "wait", "logs", "remove")


@dataclass
class BareRun:
    started_at: float  # epoch seconds when create was called
    phases_ms: dict[str, float]

    @property
    def total_ms(self) -> float:
        return sum(self.phases_ms.values())


class Bare:
    """One Docker client per thread (the SDK client is not shared), like one runner worker."""

    def __init__(self, image: str, run_id: str) -> None:
        self.image = image
        self.run_id = run_id
        self.engine = DockerEngine()
        self.api = docker.APIClient(version="auto")

    def spec(self) -> ContainerSpec:
        """The runner's defaults (settings: network none, 512m memory and swap, pids 256) and an
        environment of the same shape as an execution's, so the create request is the same size."""
        env = {"MSG": "bench", "_abaco_execution_id": secrets.token_hex(6), "_abaco_actor_id": "bare",
               "_abaco_worker_id": "bare", "_abaco_api_server": "http://127.0.0.1", "_abaco_username": "bench",
               "_abaco_Content_Type": "str", "_abaco_container_repo": self.image, "_abaco_actor_state": "{}"}
        return ContainerSpec(image=self.image, environment=env, labels={LABEL_BENCH: self.run_id},
                             network_mode="none", mem_limit="512m", pids_limit=256)

    def run_once(self) -> BareRun:
        began = time.time()
        marks = [time.perf_counter()]
        cid = self.engine.create(self.spec())
        marks.append(time.perf_counter())
        try:
            self.engine.start(cid)
            marks.append(time.perf_counter())
            self.engine.wait(cid, timeout=60)
            marks.append(time.perf_counter())
            self.api.logs(cid, stdout=True, stderr=True)
            marks.append(time.perf_counter())
        finally:
            self.engine.remove(cid)
            marks.append(time.perf_counter())
        if len(marks) != len(BASE_PHASES) + 1:
            raise RuntimeError("a bare run failed part way")
        phases = {name: (marks[i + 1] - marks[i]) * 1000 for i, name in enumerate(BASE_PHASES)}
        return BareRun(began, phases)

    def close(self) -> None:
        self.engine.close()
        self.api.close()


def throughput(image: str, run_id: str, concurrency: int, total: int) -> tuple[float, float]:
    """``total`` bare runs by ``concurrency`` threads; returns (wall seconds, runs per second)."""
    remaining = [total]
    lock = threading.Lock()
    errors: list[BaseException] = []

    def take() -> bool:
        with lock:
            if remaining[0] <= 0:
                return False
            remaining[0] -= 1
            return True

    def loop(bare: Bare) -> None:
        try:
            while take():
                bare.run_once()
        except BaseException as exc:  # re-raised in the caller below
            errors.append(exc)

    clients = [Bare(image, run_id) for _ in range(concurrency)]  # built before the clock, like warm workers
    threads = [threading.Thread(target=loop, args=(c,), name=f"bare-{i}") for i, c in enumerate(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    for client in clients:
        client.close()
    if errors:
        raise errors[0]
    return wall, total / wall


def remove_leftovers(run_id: str) -> int:
    """Remove baseline containers of this run only (after a crash part way)."""
    client = docker.APIClient(version="auto")
    try:
        found = client.containers(all=True, filters={"label": f"{LABEL_BENCH}={run_id}"})
        for container in found:
            client.remove_container(container["Id"], force=True)
        return len(found)
    finally:
        client.close()
