"""Where an execution's container comes from: the one step a warm pool can serve (architecture §13).

``acquire`` returns a container for this actor and revision, created and attached but not started;
``start`` lets it run. The cold source creates a fresh container each time. A warm source can hand out a
pre-started container waiting on its control FIFO and make ``start`` deliver the environment instead:
nothing else in the runner changes.
"""
from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from chalicelib.domain.models import Actor
from runners.pipeline.engine import ContainerSpec, Engine, close_output


@dataclass
class Acquired:
    """A container ready for one execution: its id, its output stream, when it was created.

    A pre-started (warm) container also brings its own results socket (bind mounts are fixed at create
    time), and after ``start`` the moment the message reached it and the CPU its shim had used: the
    execution's runtime and cpu count from there, not from the pre-start."""

    cid: str
    output: Iterator[bytes]
    created_at: float
    results: socket.socket | None = None
    dispatched_at: float | None = None
    cpu_baseline: int = 0
    phases: dict[str, float] = field(default_factory=dict)  # extra execution phases (``prestarted``)
    handle: Any = None  # the source's own bookkeeping


class ContainerSource(Protocol):
    def acquire(self, spec: ContainerSpec, actor: Actor) -> Acquired: ...

    def start(self, container: Acquired) -> float: ...

    def release(self, container: Acquired, remove: bool = True) -> None: ...

    def close(self) -> None: ...


class ColdStart:
    """A fresh container per execution (the default, and Abaco's behaviour)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def acquire(self, spec: ContainerSpec, actor: Actor | None = None) -> Acquired:
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

    def release(self, container: Acquired, remove: bool = True) -> None:
        """The execution is over: remove its container (unless the runner keeps them for debugging) and
        close its output stream (its connection would otherwise wait for the garbage collector)."""
        try:
            if remove:
                self._engine.remove(container.cid)
        finally:
            close_output(container.output)

    def close(self) -> None:
        """Nothing is held between executions."""
