"""The deletes of finished messages, sent in batches off the workers' path (one thread per runner host).

A message is deleted only after its execution's terminal write (``runners/pipeline/execution.py``), and
that write is what keeps it from running twice: a copy received again finds the execution terminal and
is dropped as a duplicate (``runners/pipeline/claim.py``). So the delete need not hold up the worker, which
takes its next message at once, and need not go alone: the deletes due within ``LINGER_SECONDS`` go as one
``DeleteMessageBatch`` per inbox (ten messages a request, SQS's limit), a request less per message under
load and SQS's price per request with it.

Nothing is lost by waiting. A finished message stays hidden for at least a second after its attempt ends
(the receive hides it for ``RECEIVE_VISIBILITY_SECONDS``, the lease for longer once the attempt passes a
second: ``runners/pipeline/lease.py``), longer than the linger; one whose delete comes too late, or fails,
or dies with the host, comes back and is deleted as a duplicate. While the host is cut off from the store
(``runners/fence.py``) the deletes wait, as every other write of a fenced host does; at shutdown the host
sends what is left (``close``).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from chalicelib.adapters.queues import SQS_BATCH, Queues
from chalicelib.domain.errors import AbacoError, NotFound

LOG = logging.getLogger("abaco.runner")
LINGER_SECONDS = 0.25  # how long a delete may wait for others to the same inbox
HELD_PAUSE_SECONDS = 0.5  # while the host is cut off


class Acks:
    """Deletes to send; ``add`` queues one, a thread sends them (started by ``start``, ended by ``close``)."""

    def __init__(self, queues: Queues, held: Callable[[], bool] = lambda: False,
                 linger: float = LINGER_SECONDS) -> None:
        self._queues = queues
        self._held = held  # True while the host may not write (fenced)
        self._linger = linger
        self._pending: dict[str, list[str]] = {}  # inbox URL -> receipts, in the order they came
        self._since: float | None = None  # monotonic time of the oldest pending delete
        self._closing = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="acks", daemon=True)

    def start(self) -> Acks:
        self._thread.start()
        return self

    def add(self, url: str, receipt: str) -> None:
        with self._cond:
            if self._closing:  # the thread is gone: send it now
                self._send({url: [receipt]})
                return
            self._pending.setdefault(url, []).append(receipt)
            if self._since is None:
                self._since = time.monotonic()
            self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return sum(len(receipts) for receipts in self._pending.values())

    def close(self, timeout: float = 10.0) -> None:
        """Send what is pending now (unless the host is cut off) and stop the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._due():
                    if self._closing and not self._pending:
                        return
                    wait = None if self._since is None else max(0.0, self._since + self._linger - time.monotonic())
                    self._cond.wait(wait)
                batch, self._pending, self._since = self._pending, {}, None
            if self._held():
                if self._closing:  # a fenced host stops: its messages come back by themselves
                    LOG.warning("runner cut off at shutdown: %d deletes not sent", sum(map(len, batch.values())))
                    return
                self._put_back(batch)
                time.sleep(HELD_PAUSE_SECONDS)
                continue
            self._send(batch)

    def _due(self) -> bool:
        if not self._pending:
            return False
        if self._closing or any(len(receipts) >= SQS_BATCH for receipts in self._pending.values()):
            return True
        return self._since is not None and time.monotonic() - self._since >= self._linger

    def _put_back(self, batch: dict[str, list[str]]) -> None:
        with self._cond:
            for url, receipts in batch.items():
                self._pending[url] = receipts + self._pending.get(url, [])
            self._since = self._since or time.monotonic()

    def _send(self, batch: dict[str, list[str]]) -> None:
        for url, receipts in batch.items():
            try:
                self._queues.delete_many(url, receipts)
            except NotFound:  # the actor was deleted, its inbox with it
                pass
            except AbacoError as exc:  # the messages come back and are deleted as duplicates
                LOG.warning("could not delete %d finished message(s) from %s: %s", len(receipts),
                            url.rsplit("/", 1)[-1], exc)
