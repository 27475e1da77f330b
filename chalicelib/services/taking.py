"""Actors whose workers this API process saw taking messages a moment ago: their next message needs no
worker check.

After every message the API makes sure a worker will see it (``workers.ensure_worker``): one Query of the
actor's workers, a fourth AWS request on every POST. When that Query has just found a worker taking
messages (``workers.taking``), the answer for the next message is the same unless a worker stopped taking
in between, and the ways a worker stops are these:
- it parks or retires after being idle (``ABACO_WORKER_PARK_SECONDS``, 30 s by default; its host parks a
  worker for another actor only after ``RETIRE_MIN_IDLE_SECONDS``, 5 s: ``runners/host/daemon.py``). The
  message the check was made for reached one of the actor's taking workers, which was therefore not idle:
  none of them parks within ``SEEN_SECONDS`` (2 s) of the check;
- the actor moves to a new revision: the entry is for one revision, and every POST reads the actor;
- an admin stops it (``DELETE .../workers/{id}``): the process that stopped it forgets the entry, another
  process may skip the check for up to ``SEEN_SECONDS`` more, and the autoscaler's wake (below) covers it;
- its host stops or dies: the check would not have seen that either (a draining or dead host's worker
  records stay READY until the host or the reconciler removes them), and the autoscaler's wake of a
  backlogged actor (``runners/duties/autoscaler.py``, every 2 s) is the backstop in both cases.
So within ``SEEN_SECONDS`` of a check that saw a taking worker, a message to the same revision skips the
check: one request fewer per message for an actor that receives more than one message every two seconds.
The entries live in the process (a gunicorn worker, a Lambda execution environment), never in the store.
"""
from __future__ import annotations

import threading
import time

from chalicelib.domain.models import Actor

SEEN_SECONDS = 2.0
MAX_ENTRIES = 10_000  # a process seeing more actors than this forgets the oldest half

_seen: dict[tuple[str, str], tuple[int, float]] = {}  # (tenant, actor id) -> (revision, monotonic time)
_lock = threading.Lock()


def recently(actor: Actor, now: float | None = None) -> bool:
    """Whether a worker of this revision was seen taking messages within ``SEEN_SECONDS``."""
    now = time.monotonic() if now is None else now
    with _lock:
        entry = _seen.get((actor.tenant, actor.id))
    return entry is not None and entry[0] == actor.revision and now - entry[1] < SEEN_SECONDS


def saw(actor: Actor, now: float | None = None) -> None:
    """A worker check just found one of the actor's workers taking messages."""
    now = time.monotonic() if now is None else now
    with _lock:
        if len(_seen) >= MAX_ENTRIES:
            for key, _ in sorted(_seen.items(), key=lambda kv: kv[1][1])[: MAX_ENTRIES // 2]:
                del _seen[key]
        _seen[(actor.tenant, actor.id)] = (actor.revision, now)


def forget(actor: Actor) -> None:
    with _lock:
        _seen.pop((actor.tenant, actor.id), None)
