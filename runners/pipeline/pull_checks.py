"""Which (tenant, image) pairs this runner process has checked against the registry.

An image present on a runner host may have been pulled for another tenant, or loaded there by hand
(``docker load``, a build): its name alone proves nothing about what the registry serves under that name
now. With pulls on (``ABACO_PULL_IMAGES``, AWS), the first container of an image for a tenant on this host
therefore pulls it, even when it is present: the pull fails for a name the registry does not serve and
refreshes one it does. Without pulls (local development, where images are built on the host) there is no
registry to ask and nothing is checked. One set per runner process, shared by its workers.
"""
from __future__ import annotations

import threading

MAX_REMEMBERED = 10_000  # pairs; when full, the set starts over (the next uses pull again: safe, just slower)


class PullChecks:
    def __init__(self) -> None:
        self._done: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def needed(self, tenant: str, image: str) -> bool:
        with self._lock:
            return (tenant, image) not in self._done

    def passed(self, tenant: str, image: str) -> None:
        with self._lock:
            if len(self._done) >= MAX_REMEMBERED:
                self._done.clear()
            self._done.add((tenant, image))


CHECKS = PullChecks()  # the runner process's one set (workers are threads of one daemon)
