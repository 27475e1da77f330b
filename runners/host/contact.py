"""The host's contact with the store: its own heartbeat thread, and what happens when it is cut off.

The host record is written every few seconds from a thread of its own (a duty stuck behind a slow pass,
or a worker blocked on a call, must not make a healthy host look cut off). Each success, and each lease
renewal, tells the fence the store answers; when none succeeds for the lease minus its margin, the fence
cuts the host off (``runners.fence``): containers killed, no work taken. The first heartbeat that gets
through again re-registers the host (status RUNNING, fresh heartbeat, current workers) and work resumes.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from chalicelib.domain.errors import AbacoError
from runners.fence import Fence

LOG = logging.getLogger("abaco.runner")
ERROR_LOG_SECONDS = 10.0  # one warning per this while the store stays out of reach
MIN_PERIOD_SECONDS = 0.2


def heartbeat_period(host_heartbeat: float, lease_seconds: float) -> float:
    """Often enough that a healthy host proves its contact several times within the fencing deadline."""
    return max(MIN_PERIOD_SECONDS, min(host_heartbeat, Fence.deadline(0.0, lease_seconds) / 4))


class StoreContact:
    def __init__(self, beat: Callable[[], object], fence: Fence, period: float) -> None:
        self._beat = beat  # writes the host record; raises AbacoError when the store does not answer
        self._fence = fence
        self._period = period
        self._stop = threading.Event()
        self._last_error_log = 0.0
        self._thread = threading.Thread(target=self._run, name="host-heartbeat", daemon=True)

    def start(self) -> StoreContact:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def beat_once(self) -> bool:
        """One heartbeat; True when the store took it."""
        try:
            self._beat()
        except AbacoError as exc:
            if time.monotonic() - self._last_error_log >= ERROR_LOG_SECONDS:
                self._last_error_log = time.monotonic()
                LOG.warning("host heartbeat: %s", exc)
            return False
        if self._fence.contact():  # the record just written may still say FENCED: register as RUNNING again
            try:
                self._beat()
            except AbacoError:
                return True  # the next beat does it
            LOG.warning("re-registered with the store after being cut off")
        return True

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            self.beat_once()
