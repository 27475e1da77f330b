"""The runner host daemon: takes start-worker commands for its pools and runs worker threads.

Two-stage shutdown (rq, dramatiq): the first signal stops taking commands and lets running executions
finish; the second kills running containers and hands their messages back to the queue.
"""
from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import threading
from typing import Any

from chalicelib.backend import Backend
from chalicelib.errors import AbacoError
from chalicelib.queue_messages import DecodeError, StartWorkerCommand
from runners.engine import LABEL_RUNNER, DockerEngine, EngineError
from runners.worker import WorkerThread

LOG = logging.getLogger("abaco.runner")
COMMAND_WAIT_SECONDS = 5  # command long poll; short so a full host notices freed slots quickly
SHUTDOWN_GRACE_SECONDS = 60


def new_runner_id() -> str:
    """``host:pid:random``: the pid lets a restarted runner on the same host recognise dead siblings."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class RunnerHost:
    def __init__(self, backend: Backend, runner_id: str | None = None) -> None:
        self.backend = backend
        self.settings = backend.settings
        self.runner_id = runner_id or new_runner_id()
        self.stop = threading.Event()
        self.kill = threading.Event()
        self.workers: dict[str, WorkerThread] = {}
        self.pools = [p.strip() for p in self.settings.runner_pool.split(",") if p.strip()]

    # --- lifecycle -----------------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        def on_signal(signum: int, _frame: Any) -> None:
            if not self.stop.is_set():
                LOG.info("runner %s: stopping (signal %d); running executions may finish", self.runner_id, signum)
                self.stop.set()
            else:
                LOG.info("runner %s: second signal; killing running containers", self.runner_id)
                self.kill.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)

    def run(self) -> None:
        LOG.info("runner %s serving pools %s with %d slots", self.runner_id, self.pools, self.settings.worker_slots)
        self.reap_orphans()
        urls = {pool: self.backend.queues.command_url(pool) for pool in self.pools}
        while not self.stop.is_set():
            self._prune()
            free = self.settings.worker_slots - len(self.workers)
            if free <= 0:
                self.stop.wait(0.5)
                continue
            for url in urls.values():
                self._take_commands(url, min(free, 10))
        self._drain()

    def _take_commands(self, url: str, limit: int) -> None:
        try:
            received = self.backend.queues.receive(url, wait_seconds=COMMAND_WAIT_SECONDS, max_messages=limit)
        except AbacoError as exc:
            LOG.warning("runner %s: command queue: %s", self.runner_id, exc)
            self.stop.wait(2)
            return
        for message in received:
            try:
                command = StartWorkerCommand.decode(message.body)
            except DecodeError as exc:
                LOG.error("dropping a malformed command: %s", exc)
            else:
                self._start_worker(command)
            self.backend.queues.delete(url, message.receipt)

    def _start_worker(self, command: StartWorkerCommand) -> None:
        thread = WorkerThread(self.backend, self.runner_id, "127.0.0.1", command.tenant, command.actor_id,
                              command.worker_id, self.stop, self.kill)
        self.workers[command.worker_id] = thread
        thread.start()

    def _prune(self) -> None:
        for worker_id in [w for w, t in self.workers.items() if not t.is_alive()]:
            del self.workers[worker_id]

    def _drain(self) -> None:
        """Wait for workers to finish their current execution; a second signal kills them."""
        deadline = threading.Event()
        timer = threading.Timer(SHUTDOWN_GRACE_SECONDS, deadline.set)
        timer.daemon = True
        timer.start()
        for thread in list(self.workers.values()):
            while thread.is_alive() and not deadline.is_set():
                thread.join(0.2)
                if self.kill.is_set():
                    thread.join(15)
                    break
        timer.cancel()
        LOG.info("runner %s stopped", self.runner_id)

    # --- recovery ------------------------------------------------------------------------------
    def reap_orphans(self) -> int:
        """Remove containers left by dead runners of this host (the OpenWhisk pattern). Their executions
        keep an expiring lease; the redelivered message is re-claimed as the next attempt."""
        try:
            engine = DockerEngine(self.settings.docker_url)
        except EngineError as exc:
            LOG.error("runner %s: %s", self.runner_id, exc)
            return 0
        reaped = 0
        try:
            for container in engine.labelled(LABEL_RUNNER):
                owner = container.get("Labels", {}).get(LABEL_RUNNER, "")
                if owner != self.runner_id and _dead_sibling(owner):
                    engine.remove(container["Id"])
                    reaped += 1
        finally:
            engine.close()
        if reaped:
            LOG.info("runner %s: removed %d orphan container(s)", self.runner_id, reaped)
        return reaped


def _dead_sibling(runner_id: str) -> bool:
    parts = runner_id.split(":")
    if len(parts) != 3 or parts[0] != socket.gethostname():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError):
        return False
    return False
