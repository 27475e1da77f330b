"""One pre-started container: created and started with the entry shim, ready once the shim blocks on its
control FIFO, dispatched by writing the control message into it (``runners.pipeline.warm`` keeps the pool).

The runner holds the FIFO's write end open from the moment the shim opened its read end: the shim then
waits in ``read()`` (no end of file) and the runner can tell at any time whether it is still there (a
pipe's write end polls POLLERR once no reader is left). Bind mounts are fixed at create time, so the
container's results socket lives in its own host directory, which also keeps the note the reaper reads
after a crash (labels cannot be changed once the container exists).
"""
from __future__ import annotations

import errno
import json
import logging
import os
import select
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from runners.pipeline import cgroups, shim
from runners.pipeline import delivery as deliveries
from runners.pipeline.engine import LABEL_RUNNER, LABEL_WARM, ContainerSpec, DockerEngine, EngineError, close_output

LOG = logging.getLogger("abaco.runner")
LABEL_WARM_DIR = "org.abaco.warm.dir"  # the container's host directory (control FIFO, socket, dispatch note)
DISPATCH_NOTE = "dispatched.json"  # the execution labels a dispatched warm container could not be given
READY_SECONDS = 10.0  # a started shim must open its control FIFO within this
READY_POLL_SECONDS = 0.002
WRITE_SECONDS = 5.0  # the shim must take the control message within this


@dataclass
class Waiting:
    """A pre-started container blocked on its control FIFO (``fd`` is the FIFO's write end, held open)."""

    cid: str
    shape: ContainerSpec
    key: str
    directory: Path
    fd: int
    results: socket.socket
    output: Iterator[bytes]
    config: dict[str, Any]
    prestarted_at: float
    read_cpu: Callable[[], int] | None

    def alive(self) -> bool:
        """The shim still holds the read end (a pipe's write end polls POLLERR once every reader is gone)."""
        if self.fd < 0:
            return False
        poller = select.poll()
        poller.register(self.fd, select.POLLOUT)
        return not any(ev & (select.POLLERR | select.POLLHUP) for _, ev in poller.poll(0))

    def close_channel(self) -> None:
        """Close the FIFO's write end once (the shim sees EOF); the number is never closed twice, as it may
        already belong to another file."""
        fd, self.fd = self.fd, -1
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass

    def dispose(self) -> None:
        self.close_channel()
        close_output(self.output)
        try:
            self.results.close()
        except OSError:
            pass
        shutil.rmtree(self.directory, ignore_errors=True)


def dispatch_to(waiting: Waiting, message: bytes, labels: dict[str, str]) -> int:
    """Hand the execution to the waiting shim; returns the container's CPU (ns) used before it."""
    baseline = _read(waiting.read_cpu)
    try:
        _write_all(waiting.fd, message, time.monotonic() + WRITE_SECONDS)
    except OSError as exc:
        raise EngineError(f"warm container {waiting.cid[:12]} did not take its message: {exc}") from exc
    finally:
        waiting.close_channel()
    _note_dispatch(waiting.directory, labels)
    return baseline


def prestart(engine: DockerEngine, shape: ContainerSpec, key: str, root: Path, shim_binary: str) -> Waiting:
    """Create and start a container of ``shape`` running the shim, and wait until it blocks on its FIFO."""
    config = engine.image_config(shape.image)
    shim.program(config)  # an image without a program would fail a cold start too: never pre-start it
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    directory = Path(os.path.join(root, os.urandom(8).hex()))
    directory.mkdir(mode=0o700)  # only root (the engine) needs to reach what is bind-mounted from here
    cid = ""
    results: socket.socket | None = None
    output: Iterator[bytes] | None = None
    try:
        fifo = directory / "control"
        os.mkfifo(fifo)
        os.chmod(fifo, 0o644)  # the container may run as any uid: it must be able to read
        results = _results_socket(directory / "results.sock")
        # Only the runner's label (for the reaper) and the warm ones: a waiting container is no actor's yet,
        # so whoever counts an actor's containers by label sees only those running its executions.
        spec = replace(shape, entrypoint=shim.ENTRYPOINT, command=shim.COMMAND,
                       labels={LABEL_RUNNER: shape.labels.get(LABEL_RUNNER, ""), LABEL_WARM: key,
                               LABEL_WARM_DIR: str(directory)},
                       binds={**shape.binds, shim_binary: {"bind": shim.SHIM_BINARY, "mode": "ro"},
                              str(fifo): {"bind": shim.CONTROL_PATH, "mode": "ro"},
                              str(directory / "results.sock"): {"bind": deliveries.RESULTS_PATH, "mode": "rw"}})
        cid = engine.create(spec)
        output = engine.attach_output(cid)  # before start, as for a cold container: nothing is missed
        engine.start(cid)
        prestarted = time.time()
        fd = _open_writer(fifo, time.monotonic() + READY_SECONDS)
        pid = int(engine.inspect_state(cid).state.get("Pid") or 0)
        return Waiting(cid, shape, key, directory, fd, results, output, config, prestarted,
                       cgroups.cpu_reader(pid) if pid else None)
    except BaseException:
        close_output(output)
        if cid:
            try:
                engine.remove(cid)
            except EngineError as exc:
                LOG.error("could not remove a failed warm container %s: %s", cid[:12], exc)
        if results is not None:
            results.close()
        shutil.rmtree(directory, ignore_errors=True)
        raise


def _results_socket(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, deliveries.SOCKET_RCVBUF)
        sock.bind(str(path))
        os.chmod(path, 0o777)  # any container uid may send (as for a cold container)
    except OSError:
        sock.close()
        raise
    return sock


def _open_writer(fifo: Path, deadline: float) -> int:
    """Open the FIFO's write end without blocking, once the shim has it open for reading. Holding it
    open keeps the shim blocked in read() (no EOF) until the message is written and the end closed."""
    while True:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO or time.monotonic() > deadline:  # ENXIO: no reader yet
                raise EngineError(f"the entry shim did not open its control channel: {exc}") from exc
        time.sleep(READY_POLL_SECONDS)


def _write_all(fd: int, data: bytes, deadline: float) -> None:
    view = memoryview(data)
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    while view:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the shim did not read its control message in time")
        if not poller.poll(left * 1000):
            continue
        written = os.write(fd, view)
        view = view[written:]


def _read(reader: Callable[[], int] | None) -> int:
    if reader is None:
        return 0
    try:
        return reader()
    except (OSError, ValueError):
        return 0


def _note_dispatch(directory: Path, labels: dict[str, str]) -> None:
    """Labels are fixed at create: leave the execution's labels where the reaper of a crashed runner
    finds them (``dispatched_labels``), so it can mark that attempt lost at once."""
    try:
        (directory / DISPATCH_NOTE).write_text(json.dumps(labels))
    except OSError as exc:
        LOG.debug("could not note the dispatch in %s: %s", directory, exc)


def dispatched_labels(labels: dict[str, str]) -> dict[str, str]:
    """For a warm container, the execution labels noted at dispatch (empty when it never ran one)."""
    directory = labels.get(LABEL_WARM_DIR)
    if not directory:
        return {}
    try:
        noted = json.loads((Path(directory) / DISPATCH_NOTE).read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in noted.items()} if isinstance(noted, dict) else {}
