"""The system under test: a private stack on free ports, an HTTP client for it, and a read-only observer.

One emulator and one API serve every suite; each suite gets its own runner process and its own runner
pool (an actor's ``queue``), so a runner started for one suite never picks up another suite's commands
and its settings (slots, time to live) are the suite's own. Nothing here uses ports 8000 or 4566.
"""
from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import docker

from chalicelib.domain.models import Execution, ExecutionStatus
from chalicelib.wiring.backend import Backend
from chalicelib.wiring.settings import Settings
from local import emulator
from local.launcher import Stack
from runners.pipeline.engine import LABEL_ACTOR

NOOP_IMAGE = "abacosamples/noop"  # busybox ``/bin/true``: the container does nothing measurable
BENCH_TENANT = "BENCH"
# Every runner pool a suite may use; the API validates an actor's queue against this list.
BENCH_POOLS = ("default", "lat", "tp1", "tp2", "tp4", "tp8", "zero", "out", "idle", "api", "warm", "load", "soak",
               "scale", "parked", "sync", "cost")
RUNNER_STOP_TIMEOUT = 30.0
READY_TIMEOUT = 120.0
CLIENT_THREADS = 8  # concurrent clients when the bench registers actors or sends many messages
# Watching an execution costs the emulator a GetItem (about 2.5 ms of its CPU) per look, on the machine
# under test: every 50 ms is a few percent of a core. Results come from the execution's stamps, not from
# when the bench looked.
WATCH_SECONDS = 0.05
TERMINAL = {ExecutionStatus.COMPLETE.value, ExecutionStatus.ERROR.value}
# The system as it ships: the bench overrides only what isolates it (ports, prefix, pools, auth), the
# per-caller rate limit (50 requests/s by default), which would otherwise be what the API suite measures,
# and the actor caps: every bench actor has one owner (access_control none), and the scale run registers
# 2,000 (the default cap is 1,000 a user; tests/integration/security/test_quotas_hosts.py checks the caps).
BASE_ENV = {"ABACO_ACCESS_CONTROL": "none", "ABACO_POOLS": ",".join(BENCH_POOLS), "ABACO_RATE_LIMIT_RPS": "0",
            "ABACO_MAX_ACTORS_PER_USER": "0", "ABACO_MAX_ACTORS_PER_TENANT": "0"}


class BenchError(RuntimeError):
    """The system did not do what the benchmark needs (an execution failed, a deadline passed)."""


def poll(check: Callable[[], Any], timeout: float, interval: float, what: str) -> Any:
    """Call ``check`` until it returns something truthy; raise after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class BenchSystem:
    """The emulator, the API and per-suite runners; ``stop()`` ends only the processes it started."""

    def __init__(self, log_dir: Path | None = None, extra_env: dict[str, str] | None = None,
                 runner_env: dict[str, str] | None = None, emulator_url: str | None = None) -> None:
        """``emulator_url``: an emulator (or a counting proxy in front of one) that the caller runs."""
        self.log_dir = log_dir or Path(tempfile.mkdtemp(prefix="abaco-bench-"))
        self.prefix = f"abaco-b{secrets.token_hex(3)}"
        shared = {"AWS_ENDPOINT_URL": emulator_url} if emulator_url else {}
        self.stack = Stack(api_port=emulator.free_port(), emulator_port=emulator.free_port(), log_dir=self.log_dir,
                           extra_env={**BASE_ENV, "ABACO_RESOURCE_PREFIX": self.prefix, **shared, **(extra_env or {})},
                           runners=0, own_emulator=not emulator_url)
        self.observer: Observer | None = None
        self._stopping: list[str] = []
        self._runner_env = runner_env or {}

    def start(self) -> BenchSystem:
        try:
            self.stack.start()
        except Exception:
            self.stack.stop()
            raise
        self.observer = Observer(self.settings())
        return self

    def settings(self, endpoint: str | None = None) -> Settings:
        return Settings.model_validate({"AWS_ENDPOINT_URL": endpoint or self.endpoint,
                                        "resource_prefix": self.prefix, "pools": ",".join(BENCH_POOLS)})

    @property
    def endpoint(self) -> str:
        return self.stack.env["AWS_ENDPOINT_URL"]

    @property
    def emulator_pid(self) -> int:
        return self.stack.procs["emulator"].pid

    def client(self, tenant: str = BENCH_TENANT) -> ApiClient:
        return ApiClient(self.stack.api_url, tenant)

    def start_runner(self, pool: str, env: dict[str, str] | None = None,
                     **settings: str) -> subprocess.Popen[bytes]:
        """One runner host serving ``pool``, with ABACO_* overrides given as keywords without the prefix
        (``worker_slots="4"``) and any other environment in ``env``."""
        # ABACO_POOLS: the runner's duties (autoscaler, reconciler) look at its own pool only, as in a
        # deployment with one pool; the API knows every bench pool.
        child = {**self._runner_env, "ABACO_RUNNER_POOL": pool, "ABACO_POOLS": pool,
                 **{f"ABACO_{k.upper()}": v for k, v in settings.items()}, **(env or {})}
        return self.stack.add_runner(f"runner-{pool}", child)

    def runner_pid(self, pool: str) -> int:
        return self.stack.procs[f"runner-{pool}"].pid

    def stop_runner(self, pool: str) -> None:
        """Ask the runner to stop (SIGTERM) without waiting: its idle workers leave only when their long
        poll returns (up to ABACO_RECEIVE_WAIT_SECONDS), which ``stop()`` waits for once, at the end."""
        proc = self.stack.procs.get(f"runner-{pool}")
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        self._stopping.append(pool)

    def wait_stopped(self) -> None:
        """Wait for the runners asked to stop, so that the next suite has the machine (and the duty leases)
        to its own runner. A runner still alive after RUNNER_STOP_TIMEOUT is killed."""
        deadline = time.monotonic() + RUNNER_STOP_TIMEOUT
        for pool in self._stopping:
            proc = self.stack.procs.pop(f"runner-{pool}", None)
            if proc is None:
                continue
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self._stopping.clear()

    def stop(self) -> None:
        self.wait_stopped()
        self.stack.stop()


class ApiClient:
    """A small keep-alive HTTP client (one connection; not shared between threads)."""

    def __init__(self, base: str, tenant: str = BENCH_TENANT) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.tenant = tenant
        self._conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        payload = json.dumps(body).encode() if body is not None else None
        return self.request_raw(method, path, payload, "application/json")

    def request_raw(self, method: str, path: str, payload: bytes | None, content_type: str) -> tuple[int, Any]:
        """One request with a body of ``content_type`` (a binary message is ``application/octet-stream``)."""
        headers = {"tenant": self.tenant, "Content-Type": content_type}
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                self._conn.request(method, path, body=payload, headers=headers)
                response = self._conn.getresponse()
                data = response.read()
                return response.status, json.loads(data) if data else None
            except (http.client.HTTPException, ConnectionError):
                self._conn.close()
                self._conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def ok(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        status, data = self.request(method, path, body)
        if status != 200:
            raise BenchError(f"{method} {path}: HTTP {status}: {data}")
        return data["result"]

    def create_actor(self, pool: str, image: str = NOOP_IMAGE, **fields: Any) -> str:
        return str(self.ok("POST", "/actors", {"image": image, "queue": pool, **fields})["id"])

    def send(self, actor_id: str, message: str = "bench") -> str:
        return str(self.ok("POST", f"/actors/{actor_id}/messages", {"message": message})["execution_id"])

    def send_binary(self, actor_id: str, data: bytes) -> str:
        """A binary message: its body always travels through the payloads bucket."""
        status, answer = self.request_raw("POST", f"/actors/{actor_id}/messages", data, "application/octet-stream")
        if status != 200:
            raise BenchError(f"POST binary message to {actor_id}: HTTP {status}: {answer}")
        return str(answer["result"]["execution_id"])

    def workers(self, actor_id: str) -> list[dict[str, Any]]:
        return list(self.ok("GET", f"/actors/{actor_id}/workers"))

    def wait_ready(self, actor_ids: list[str], timeout: float = READY_TIMEOUT) -> None:
        """Until every actor is READY (its first worker took the command and found the image)."""
        pending = set(actor_ids)

        def ready() -> bool:
            for actor_id in list(pending):
                if self.ok("GET", f"/actors/{actor_id}")["status"] == "READY":
                    pending.discard(actor_id)
            return not pending

        poll(ready, timeout, 0.2, f"{len(pending)} actor(s) READY")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


class Observer:
    """Reads the store directly (never through the API) so that watching costs the system little."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.backend = Backend.from_settings(settings)

    def dbid(self, actor_id: str, tenant: str = BENCH_TENANT) -> str:
        return f"{tenant}_{actor_id}"

    def execution(self, actor_id: str, execution_id: str, tenant: str = BENCH_TENANT) -> Execution:
        return self.backend.executions.get(self.dbid(actor_id, tenant), execution_id)

    def wait_terminal(self, actor_id: str, execution_id: str, timeout: float = 60.0, interval: float = WATCH_SECONDS,
                      tenant: str = BENCH_TENANT) -> tuple[Execution, float]:
        """The finished execution and the wall time at which it was first seen finished."""
        def done() -> Execution | None:
            execution = self.execution(actor_id, execution_id, tenant)
            return execution if execution.status.value in TERMINAL else None

        execution = poll(done, timeout, interval, f"execution {execution_id}")
        return execution, time.time()

    def wait_phase(self, actor_id: str, execution_id: str, phase: str, timeout: float = 60.0,
                   interval: float = WATCH_SECONDS, tenant: str = BENCH_TENANT) -> Execution:
        def reached() -> Execution | None:
            execution = self.execution(actor_id, execution_id, tenant)
            if phase in execution.phases or execution.status.value in TERMINAL:
                return execution
            return None

        return poll(reached, timeout, interval, f"phase {phase} of {execution_id}")

    def executions(self, actor_id: str, tenant: str = BENCH_TENANT) -> list[Execution]:
        return self.backend.executions.list(self.dbid(actor_id, tenant))

    def wait_all(self, sent: list[tuple[str, str]], timeout: float, interval: float = 1.0) -> list[Execution]:
        """Every execution of ``sent`` (actor id, execution id) once all are finished, in order. Looks at
        the first unfinished one only (one GetItem per look: a Scan would cost the emulator the whole
        table each time)."""
        finished: list[Execution] = []
        deadline = time.monotonic() + timeout
        while len(finished) < len(sent):
            actor_id, execution_id = sent[len(finished)]
            execution = self.execution(actor_id, execution_id)
            if execution.status.value in TERMINAL:
                finished.append(execution)
                continue
            if time.monotonic() > deadline:
                raise BenchError(f"timed out after {timeout:.0f} s: {len(sent) - len(finished)} executions unfinished")
            time.sleep(interval)
        return finished

    def worker_statuses(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for worker in self.backend.workers.all():
            counts[worker.status.value] = counts.get(worker.status.value, 0) + 1
        return counts


def containers_of(actor_id: str, client: docker.APIClient) -> int:
    return len(client.containers(all=True, filters={"label": f"{LABEL_ACTOR}={actor_id}"}))


ENGINE_PROCESSES = ("dockerd", "containerd")  # the Docker engine's long-lived processes (shared by everyone)


def cpu_by_component(system: BenchSystem, pool: str) -> dict[str, float]:
    """CPU seconds so far of the pool's runner, the API (gunicorn and its workers), the emulator, and the
    Docker engine (dockerd and containerd: shared, so other users' containers count too)."""
    procs = system.stack.procs
    api = procs.get("api")
    return {
        "runner": _cpu_of([system.runner_pid(pool)]),
        "api": _cpu_of(_tree(api.pid) if api else []),
        "emulator": _cpu_of([system.emulator_pid]),
        "engine": _cpu_of(_named(ENGINE_PROCESSES)),
    }


def cpu_of(pids: list[int]) -> float:
    """User + system CPU seconds of these processes (those gone meanwhile count nothing)."""
    return _cpu_of(pids)


def process_tree(root: int) -> list[int]:
    """A process and all its descendants."""
    return _tree(root)


def _cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except (OSError, IndexError, ValueError):  # gone meanwhile
            continue
    return total


def _proc_stats() -> list[tuple[int, str, int]]:
    """(pid, command name, parent pid) of every process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        found.append((int(entry.name), name, int(text.rsplit(")", 1)[1].split()[1])))
    return found


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, _, parent in _proc_stats():
        children.setdefault(parent, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _named(names: tuple[str, ...]) -> list[int]:
    return [pid for pid, name, _ in _proc_stats() if name in names]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat(5))
    return ticks / os.sysconf("SC_CLK_TCK")


def parallel(system: BenchSystem, count: int, task: Callable[[ApiClient, int], Any],
             tenant: str = BENCH_TENANT, threads: int = CLIENT_THREADS) -> list[Any]:
    """``task(client, index)`` for every index below ``count`` by ``threads`` clients; results in order."""
    results: list[Any] = [None] * count
    errors: list[BaseException] = []
    lock = threading.Lock()
    cursor = [0]

    def loop() -> None:
        client = system.client(tenant)
        try:
            while not errors:
                with lock:
                    index = cursor[0]
                    cursor[0] += 1
                if index >= count:
                    return
                results[index] = task(client, index)
        except BaseException as exc:  # re-raised below, in the caller's thread
            errors.append(exc)
        finally:
            client.close()

    workers = [threading.Thread(target=loop, name=f"bench-client-{i}") for i in range(min(threads, count))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]
    return results
