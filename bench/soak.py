"""Nightly T28 (b): one real runner on the real Docker engine runs a steady stream of no-op executions
(2,000 over 30 minutes in the full run, one in five a binary message so that S3 payloads exist), and we
watch what it holds: its resident memory (``VmRSS`` in ``/proc/<pid>/status``), its open file descriptors
(``/proc/<pid>/fd``), and at the end what it left behind.

Memory and descriptors are compared between two quiet points (no execution running, the warm pool
refilled, the descriptor count steady): after a warm-up batch, so that imports, caches and the thread
pool are not counted as growth, and after the last execution. Leftovers are counted after the runner has
stopped: containers carrying our actors' labels (running ones and pre-started warm ones), every file the
runner created (it runs with its own ``TMPDIR``, which holds its work root: per-execution directories
with the results socket and payload files, warm containers' control FIFOs and sockets, so nothing it
writes can hide among other users' files in /tmp), and the objects left in the payloads bucket.
"""
from __future__ import annotations

import logging
import os
import secrets
import stat
import threading
import time
from pathlib import Path
from typing import Any

import docker

from bench.system import BENCH_TENANT, BenchSystem, poll
from chalicelib.adapters import aws
from chalicelib.wiring import resources
from runners.pipeline.engine import LABEL_ACTOR, LABEL_WARM
from runners.pipeline.hardening import HOSTS_FILE

LOG = logging.getLogger("bench")
POOL = "soak"
ACTORS = 4
SLOTS = 4  # one worker per actor
FULL_MINUTES = 30.0
FULL_EXECUTIONS = 2000  # over FULL_MINUTES; shorter runs keep the rate, with at least MIN_EXECUTIONS
MIN_EXECUTIONS = 300
BINARY_EVERY = 5  # every fifth message is binary: its body goes through the payloads bucket
BINARY_BYTES = 2048
WARMUP_PER_ACTOR = 5
SAMPLE_SECONDS = 5.0
SERIES_POINTS = 120  # samples kept in the report (evenly spaced)
QUIET_TIMEOUT = 90.0  # for a quiet point: no container of ours running and the descriptor count steady
STEADY_LOOKS = 3  # ... the same count this many times in a row, a second apart
RUNNER_DIR = "abaco-runner"  # the runner's work root under its TMPDIR (``runners.pipeline.delivery.work_root``)
DRAIN_TIMEOUT = 600.0  # after the last message is sent, for every execution to finish


def executions_for(minutes: float) -> int:
    """The full run's rate (2,000 in 30 minutes), at least MIN_EXECUTIONS."""
    return max(MIN_EXECUTIONS, round(FULL_EXECUTIONS * minutes / FULL_MINUTES))


def run(system: BenchSystem, minutes: float = FULL_MINUTES, executions: int | None = None) -> dict[str, Any]:
    total = executions or executions_for(minutes)
    tmp = Path(system.log_dir) / "tmp"  # short: AF_UNIX socket paths stop at 108 bytes
    tmp.mkdir(mode=0o755)
    system.start_runner(POOL, env={"TMPDIR": str(tmp)}, worker_slots=str(SLOTS))
    pid = system.runner_pid(POOL)
    client = system.client()
    try:
        actors = [client.create_actor(POOL) for _ in range(ACTORS)]
        client.wait_ready(actors)
        quiet_start = _settle(system, client, actors, pid, WARMUP_PER_ACTOR)
        measured = _measure(system, client, actors, pid, total, minutes)
        # One text message each, as at the start: an actor whose last message was binary keeps no
        # pre-started container (that message needed its own mounts), which is three descriptors fewer.
        quiet_end = _settle(system, client, actors, pid, 1)
        running = {"files": count_files(tmp), "payloads": payload_objects(system)}
    finally:
        client.close()
    system.stop_runner(POOL)
    system.wait_stopped()
    files = count_files(tmp)
    return {"minutes": minutes, **measured, "quiet_start": quiet_start, "quiet_end": quiet_end,
            "while_running": running, "files_after_stop": files,
            "leftovers": {"containers": labelled_containers(actors),
                          "files": files["fifo"] + files["socket"] + files["file"] + files["other"],
                          "payloads": payload_objects(system)}}


def _settle(system: BenchSystem, client: Any, actors: list[str], pid: int, each: int) -> dict[str, Any]:
    """``each`` text messages per actor, all finished, then a quiet point."""
    _wait_all(system, [(a, client.send(a, "settle")) for a in actors for _ in range(each)])
    return quiet_point(pid, actors)


def _measure(system: BenchSystem, client: Any, actors: list[str], pid: int, total: int,
             minutes: float) -> dict[str, Any]:
    """The soak itself: ``total`` messages paced over ``minutes``, sampled until all have finished."""
    sampler = Sampler(pid)
    sampler.start()
    began = time.monotonic()
    try:
        finished = _wait_all(system, _send_paced(client, actors, total, minutes * 60))
    finally:
        sampler.stop()
    elapsed = time.monotonic() - began
    statuses: dict[str, int] = {}
    for execution in finished:
        statuses[execution.status.value] = statuses.get(execution.status.value, 0) + 1
    return {"executions": total, "binary_messages": total // BINARY_EVERY, "elapsed_s": round(elapsed, 1),
            "per_s": round(total / elapsed, 2), "statuses": statuses, "complete": statuses.get("COMPLETE", 0),
            "retried": sum(1 for e in finished if e.attempt > 1), "series": sampler.series(),
            "peak_rss_kb": sampler.peak("rss_kb"), "peak_fds": sampler.peak("fds")}


def _send_paced(client: Any, actors: list[str], total: int, seconds: float) -> list[tuple[str, str]]:
    """``total`` messages evenly over ``seconds`` (late sends go at once: the schedule is not shifted)."""
    interval = seconds / total
    began = time.monotonic()
    sent = []
    for index in range(total):
        delay = began + index * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)  # pacing the offered load, not waiting for a result
        actor = actors[index % len(actors)]
        if index % BINARY_EVERY == BINARY_EVERY - 1:
            sent.append((actor, client.send_binary(actor, secrets.token_bytes(BINARY_BYTES))))
        else:
            sent.append((actor, client.send(actor, f"soak {index}")))
        if index and index % 100 == 0:
            LOG.info("soak: %d/%d messages sent", index, total)
    return sent


def _wait_all(system: BenchSystem, sent: list[tuple[str, str]]) -> list[Any]:
    observer = system.observer
    assert observer is not None
    return observer.wait_all(sent, DRAIN_TIMEOUT)


def read_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise ValueError(f"no VmRSS for process {pid}")


def count_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def quiet_point(pid: int, actors: list[str]) -> dict[str, Any]:
    """A sample once no container of our actors runs and the descriptor count is the same STEADY_LOOKS
    times in a row (the warm pool refilled, the last execution's streams closed)."""
    looks: list[int] = []

    def steady() -> bool:
        if running_containers(actors):
            looks.clear()
            return False
        looks.append(count_fds(pid))
        return len(looks) >= STEADY_LOOKS and len(set(looks[-STEADY_LOOKS:])) == 1

    poll(steady, QUIET_TIMEOUT, 1.0, "a quiet runner (no execution running, descriptors steady)")
    return {"rss_kb": read_rss_kb(pid), "fds": count_fds(pid), "at": round(time.time(), 1)}


class Sampler:
    """RSS and descriptors of one process every SAMPLE_SECONDS, on a thread of its own."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[dict[str, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="soak-sampler", daemon=True)
        self._began = time.monotonic()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append({"t": round(time.monotonic() - self._began, 1),
                                     "rss_kb": read_rss_kb(self.pid), "fds": count_fds(self.pid)})
            except (OSError, ValueError):  # the runner is gone: the run fails elsewhere, with a reason
                return
            self._stop.wait(SAMPLE_SECONDS)

    def peak(self, key: str) -> float | None:
        return max((s[key] for s in self.samples), default=None)

    def series(self) -> list[dict[str, float]]:
        step = max(1, len(self.samples) // SERIES_POINTS)
        return self.samples[::step]


def running_containers(actors: list[str]) -> int:
    """Containers running an execution of our actors (pre-started warm ones carry no actor label)."""
    return _count_labelled([f"{LABEL_ACTOR}={a}" for a in actors])


def labelled_containers(actors: list[str]) -> int:
    """Every container of ours, running or not, executing or pre-started."""
    warm = [f"{LABEL_WARM}={BENCH_TENANT}_{a}" for a in actors]
    return _count_labelled([f"{LABEL_ACTOR}={a}" for a in actors] + warm)


def _count_labelled(labels: list[str]) -> int:
    client = docker.APIClient(version="auto")
    try:
        return sum(len(client.containers(all=True, filters={"label": label})) for label in labels)
    finally:
        client.close()


def count_files(root: Path) -> dict[str, int]:
    """What lies under ``root`` by kind (directories apart: an empty one holds nothing). The host's one
    ``/etc/hosts`` for network-less containers is kept on purpose (written once, reused by every
    container) and is not counted."""
    counts = {"dir": 0, "fifo": 0, "socket": 0, "file": 0, "other": 0}
    kept = {str(root / RUNNER_DIR / HOSTS_FILE)}
    for directory, dirs, names in os.walk(root):
        counts["dir"] += len(dirs)
        for name in names:
            if os.path.join(directory, name) in kept:
                continue
            mode = os.lstat(os.path.join(directory, name)).st_mode
            kind = ("fifo" if stat.S_ISFIFO(mode) else "socket" if stat.S_ISSOCK(mode)
                    else "file" if stat.S_ISREG(mode) else "other")
            counts[kind] += 1
    return counts


def payload_objects(system: BenchSystem) -> int:
    """Objects left under our tenant's prefix of the payloads bucket."""
    settings = system.settings()
    s3 = aws.client("s3", settings)
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=resources.bucket_name(settings.resource_prefix), Prefix=f"{resources.PAYLOAD_KEY_PREFIX}{BENCH_TENANT}/")
    return sum(page.get("KeyCount", 0) for page in pages)
