"""Where an execution's container comes from: the one step a warm pool can serve (architecture §13).

``acquire`` returns a container for this actor and revision, created and attached but not started;
``start`` lets it run. The cold source creates a fresh container each time. A warm source can hand out a
pre-started container waiting on its control FIFO and make ``start`` deliver the environment instead:
nothing else in the runner changes.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from runners.engine import ContainerSpec, DockerEngine


@dataclass
class Acquired:
    """A container ready for one execution: its id, its output stream, when it was created."""

    cid: str
    output: Iterator[bytes]
    created_at: float


class ContainerSource(Protocol):
    def acquire(self, spec: ContainerSpec) -> Acquired: ...

    def start(self, container: Acquired) -> float: ...


class ColdStart:
    """A fresh container per execution (the default, and Abaco's behaviour)."""

    def __init__(self, engine: DockerEngine) -> None:
        self._engine = engine

    def acquire(self, spec: ContainerSpec) -> Acquired:
        cid = self._engine.create(spec)
        created = time.time()
        try:
            # Attach before start: a stream opened later can miss early output.
            output = self._engine.attach_output(cid)
        except Exception:
            self._engine.remove(cid)
            raise
        return Acquired(cid=cid, output=output, created_at=created)

    def start(self, container: Acquired) -> float:
        self._engine.start(container.cid)
        return time.time()
