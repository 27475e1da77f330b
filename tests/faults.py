"""Fault-injection harness for the reliability tests: independent counts and direct store access.

Counts come from Docker's own event stream (filtered by our labels) and from the store, never from the
runner's say-so (reliability plan §5).
"""
from __future__ import annotations

import collections
import os
import signal
import subprocess
import threading
import time
from typing import Any

import docker

from chalicelib.domain.models import Execution
from chalicelib.wiring.backend import Backend
from chalicelib.wiring.settings import Settings
from local.launcher import Stack
from runners.pipeline.engine import LABEL_EXECUTION, LABEL_RUNNER
from tests.fault_proxy import FaultProxy as FaultProxy  # re-exported for the chaos tests


class DockerEvents:
    """Container ``start`` events of our executions, from ``docker events`` (label-filtered)."""

    def __init__(self) -> None:
        self._client = docker.from_env()
        self.starts: collections.Counter[str] = collections.Counter()
        self.by_runner: collections.Counter[str] = collections.Counter()  # container starts per runner id
        self._since = int(time.time()) - 1
        self._stream: Any = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ready = threading.Event()
        self._lock = threading.Lock()  # the stream thread counts while the test reads

    def __enter__(self) -> DockerEvents:
        self._stream = self._client.api.events(since=self._since, decode=True,
                                               filters={"type": "container", "event": "start",
                                                        "label": LABEL_EXECUTION})
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            for event in self._stream:
                labels = (event.get("Actor") or {}).get("Attributes") or {}
                execution = labels.get(LABEL_EXECUTION)
                if execution:
                    with self._lock:
                        self.starts[execution] += 1
                        self.by_runner[labels.get(LABEL_RUNNER, "")] += 1
        except Exception:  # the stream is closed at exit
            return

    def __exit__(self, *_exc: object) -> None:
        try:
            self._stream.close()
        except Exception:
            pass
        self._client.close()

    def total(self, executions: set[str] | None = None) -> int:
        with self._lock:
            counts = list(self.starts.items())
        return sum(n for e, n in counts if executions is None or e in executions)


def backend_for(stack: Stack) -> Backend:
    """Direct access to the stack's tables and queues (the test's own clients)."""
    settings = Settings(AWS_ENDPOINT_URL=stack.env["AWS_ENDPOINT_URL"],
                        resource_prefix=stack.env["ABACO_RESOURCE_PREFIX"])
    return Backend.from_settings(settings)


def executions(backend: Backend, tenant: str, actor_id: str) -> list[Execution]:
    return backend.executions.list(f"{tenant}_{actor_id}")


def labelled_containers(execution_ids: set[str] | None = None) -> list[dict[str, Any]]:
    """Our containers as the engine lists them (``Labels``, ``State``): one call, no per-container
    inspect that could race with a removal."""
    client = docker.from_env()
    try:
        found = client.api.containers(all=True, filters={"label": LABEL_EXECUTION})
        return [c for c in found
                if execution_ids is None or (c.get("Labels") or {}).get(LABEL_EXECUTION) in execution_ids]
    finally:
        client.close()


def runner_containers(runner_id: str, running_only: bool = False) -> list[dict[str, Any]]:
    """The containers one runner created (by its label), as Docker lists them."""
    return [c for c in labelled_containers() if (c.get("Labels") or {}).get(LABEL_RUNNER) == runner_id
            and (not running_only or c.get("State") == "running")]


def signal_runner(stack: Stack, name: str, signum: int) -> None:
    """Signal one of *our* runner processes, by pid."""
    os.kill(stack.procs[name].pid, signum)


def kill_runner(stack: Stack, name: str) -> None:
    proc = stack.procs.pop(name)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def rss_kib(pid: int) -> tuple[int, int]:
    """(current, peak) resident set size of a process in KiB, from /proc."""
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


def wait_exit(proc: subprocess.Popen[bytes], timeout: float) -> int | None:
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return None
