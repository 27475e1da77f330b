"""An in-memory container engine (``runners.pipeline.engine.Engine``) for the tests that drive the runner's
steps without Docker: the model-based machines and the pipeline's unit tests.

A fake container runs a ``Program``: it prints its output and exits with its code as soon as it starts,
or, with ``until_signalled``, runs until a signal arrives (SIGTERM exits 143, SIGKILL 137, as Docker
reports them). Images named in ``broken_images`` cannot be created, those in ``unstartable_images``
cannot be started: the engine errors a runner must survive. The real engine's contract is checked by
the integration tests (tests/integration/test_container_contract.py) against Docker itself.
"""
from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from runners.pipeline.engine import ContainerSpec, EngineError, ExitState

SIGNAL_EXIT_CODES = {"SIGTERM": 143, "SIGKILL": 137}


@dataclass(frozen=True)
class Program:
    """What a fake container does once started."""

    output: bytes = b""
    exit_code: int = 0
    until_signalled: bool = False
    oom: bool = False


@dataclass
class FakeContainer:
    cid: str
    spec: ContainerSpec
    program: Program
    status: str = "created"  # created, running, exited (removed containers leave the engine)
    exit_code: int | None = None
    signals: list[str] = field(default_factory=list)
    started_at: str | None = None
    finished_at: str | None = None
    exited: threading.Event = field(default_factory=threading.Event)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FakeOutput:
    """What the engine's ``OutputStream`` is to its reader: the output once the container exits. ``close``
    may come from another thread while the reader waits, as closing the real stream's socket may; a plain
    generator would raise "generator already executing" there."""

    def __init__(self, container: FakeContainer) -> None:
        self._container = container
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        self._container.exited.wait()
        if self._container.program.output and not self._closed:
            yield self._container.program.output

    def close(self) -> None:
        self._closed = True


class FakeEngine:
    """Containers in a dict; thread-safe enough for one worker plus its log and stats readers."""

    def __init__(self, program: Callable[[ContainerSpec], Program] | None = None,
                 broken_images: tuple[str, ...] = (), unstartable_images: tuple[str, ...] = ()) -> None:
        self._program = program or (lambda _spec: Program())
        self.broken_images = broken_images
        self.unstartable_images = unstartable_images
        self.containers: dict[str, FakeContainer] = {}
        self.removed: list[str] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def create(self, spec: ContainerSpec) -> str:
        if spec.image in self.broken_images:
            raise EngineError(f"could not create a container from {spec.image}: no such image")
        cid = f"fake{next(self._ids):060d}"
        with self._lock:
            self.containers[cid] = FakeContainer(cid, spec, self._program(spec))
        return cid

    def attach_output(self, cid: str) -> FakeOutput:
        return FakeOutput(self._get(cid))

    def start(self, cid: str) -> None:
        container = self._get(cid)
        if container.spec.image in self.unstartable_images:
            raise EngineError(f"could not start container {cid[:12]}: exec format error")
        container.status, container.started_at = "running", _now()
        if not container.program.until_signalled:
            self._exit(container, container.program.exit_code)

    def stats(self, cid: str) -> Iterator[dict[str, Any]]:
        self._get(cid)
        return iter([{"cpu_stats": {"cpu_usage": {"total_usage": 1_000_000}}}])

    def wait(self, cid: str, timeout: float) -> bool:
        return self._get(cid).exited.wait(timeout)

    def signal(self, cid: str, signum: str) -> None:
        container = self.containers.get(cid)
        if container is None or container.status != "running":
            return  # Docker: signalling a container that is not running is not an error here
        container.signals.append(signum)
        self._exit(container, SIGNAL_EXIT_CODES.get(signum, 128))

    def inspect_state(self, cid: str) -> ExitState:
        container = self._get(cid)
        code = -1 if container.exit_code is None else container.exit_code
        state = {"Status": container.status, "ExitCode": code, "OOMKilled": container.program.oom,
                 "StartedAt": container.started_at, "FinishedAt": container.finished_at}
        return ExitState(exit_code=code, state=state)

    def remove(self, cid: str) -> None:
        with self._lock:
            container = self.containers.pop(cid, None)
        if container is not None:
            container.exited.set()  # a reader of its output stream returns
            self.removed.append(cid)

    def running(self) -> list[str]:
        return [c.cid for c in self.containers.values() if c.status == "running"]

    def _exit(self, container: FakeContainer, code: int) -> None:
        container.status, container.exit_code, container.finished_at = "exited", code, _now()
        container.exited.set()

    def _get(self, cid: str) -> FakeContainer:
        container = self.containers.get(cid)
        if container is None:
            raise EngineError(f"no such container: {cid[:12]}")
        return container
