"""The physical limit: the same container's create + start + wait + logs + remove through the Docker SDK.

The container is specified by the runner's own pure functions (``runners.pipeline.environment.build`` and
``runners.pipeline.hardening.container_spec``, with default settings) and created by its engine adapter
(``runners.pipeline.engine.DockerEngine.create``): the same hardening flags, limits, user, log driver, network
mode, environment and results-socket bind mount. Only the platform around it (API, queue, store,
worker) is missing. Each step is timed on its own.
"""
from __future__ import annotations

import dataclasses
import secrets
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import docker

from chalicelib.domain.models import Actor, Execution
from chalicelib.domain.queue_messages import InboxMessage
from chalicelib.wiring.settings import Settings
from runners.pipeline import environment
from runners.pipeline.delivery import RESULTS_PATH
from runners.pipeline.engine import ContainerSpec, DockerEngine
from runners.pipeline.hardening import container_spec

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
        self.settings = Settings.model_validate({})  # the runner's defaults (the bench overrides none of these)
        # A results socket to bind, like the runner's per-execution one (created once, outside the clock).
        self._dir = Path(tempfile.mkdtemp(prefix="abaco-bare-"))
        self._dir.chmod(0o755)
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(str(self._dir / "results.sock"))

    def spec(self) -> ContainerSpec:
        """Exactly what the runner would create for one message to a no-op actor, with our own label."""
        actor = Actor(tenant="BENCH", id="bare", image=self.image, owner="bench")
        execution = Execution(tenant="BENCH", actor_id="bare", id=secrets.token_hex(6), executor="bench", attempt=1)
        message = InboxMessage(tenant="BENCH", actor_id="bare", execution_id=execution.id, body="bench", size=5,
                               env={"_abaco_username": "bench", "_abaco_api_server": "http://127.0.0.1",
                                    "_abaco_execution_id": execution.id, "_abaco_Content_Type": "str"})
        env = environment.build(actor, execution, message, "bare")
        binds = {str(self._dir / "results.sock"): {"bind": RESULTS_PATH, "mode": "rw"}}
        spec = container_spec(actor, execution, env, self.settings, "bench", binds)
        return dataclasses.replace(spec, labels={LABEL_BENCH: self.run_id})

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
        self._socket.close()
        shutil.rmtree(self._dir, ignore_errors=True)


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
