"""Collects what an execution sends on ``/_abaco_results.sock``: each datagram becomes one result item
(reference §1.5). A thread receives while the container runs; ``finish`` drains what is left after exit.
Each attempt keeps at most ``max_count`` results and ``max_bytes`` bytes of them (ABACO_MAX_RESULTS_PER_EXECUTION,
ABACO_MAX_RESULT_BYTES_PER_EXECUTION; 0: no cap): an actor looping on the socket fills neither the results
table nor its writes budget; what is over is dropped and counted.
"""
from __future__ import annotations

import logging
import select
import socket
import threading
import time

from chalicelib.adapters.storage.results import MAX_RESULT_BYTES, ResultStore, result_seq

LOG = logging.getLogger("abaco.runner")
JOIN_SECONDS = 10.0  # a store call in flight when the container exits gets this long to finish


class ResultsCollector:
    def __init__(self, sock: socket.socket, store: ResultStore, key: str, attempt: int, ttl_seconds: int,
                 max_count: int = 0, max_bytes: int = 0) -> None:
        self._sock = sock
        self._max_count, self._max_bytes = max_count, max_bytes
        self.stored_bytes = 0
        self._store = store
        self._key = key
        self._attempt = attempt
        self._ttl = ttl_seconds
        self._counter = 0
        self.stored = 0
        self.dropped = 0
        self._finished = False
        self._sock.setblocking(False)
        # ``finish`` wakes the thread through this pair at once: a receive timeout polled for a stop flag
        # put up to its length (200 ms) on every execution's path to COMPLETE (measured by the bench).
        self._wake, self._waker = socket.socketpair()
        self._thread = threading.Thread(target=self._run, name="results", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        poller = select.poll()  # poll, not select: a busy runner's descriptors can pass FD_SETSIZE
        poller.register(self._sock, select.POLLIN)
        poller.register(self._wake, select.POLLIN)
        while True:
            ready = {fd for fd, _ in poller.poll()}
            if self._wake.fileno() in ready:
                return  # ``finish`` drains what is still queued
            try:
                data = self._sock.recv(MAX_RESULT_BYTES + 1)
            except BlockingIOError:
                continue
            except OSError as exc:  # the socket closed under us: the execution is over
                LOG.debug("results socket closed: %s", exc)
                return
            self._keep(data)

    def _keep(self, data: bytes) -> None:
        if len(data) > MAX_RESULT_BYTES:
            self.dropped += 1
            LOG.warning("execution %s sent a result over %d bytes; dropped", self._key, MAX_RESULT_BYTES)
            return
        if (self._max_count and self.stored >= self._max_count) or \
                (self._max_bytes and self.stored_bytes + len(data) > self._max_bytes):
            if not self.dropped:
                LOG.warning("execution %s is over its results quota; further results are dropped", self._key)
            self.dropped += 1
            return
        self._counter += 1
        try:
            self._store.append(self._key, result_seq(self._attempt, self._counter), data,
                               int(time.time()) + self._ttl)
            self.stored += 1
            self.stored_bytes += len(data)
        except Exception as exc:  # a lost result must not break the execution
            self.dropped += 1
            LOG.error("could not store a result of %s: %s", self._key, exc)

    def finish(self) -> int:
        """Stop the thread, then keep whatever datagrams are still queued on the socket (idempotent)."""
        if self._finished:
            return self.stored
        self._finished = True
        self._waker.send(b"\0")
        self._thread.join(JOIN_SECONDS)
        while True:
            try:
                data = self._sock.recv(MAX_RESULT_BYTES + 1)
            except (BlockingIOError, OSError):
                break
            self._keep(data)
        self._wake.close()
        self._waker.close()
        return self.stored
