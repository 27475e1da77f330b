"""What a container gets besides its environment (reference §3.2): the results socket, the binary message
as a file, and the message itself as a file when it is too large for ``MSG``.

Everything lives in one directory per execution on the runner host (the Docker engine must see the same
path) and is removed with it. Files are regular files bind-mounted read-only (Abaco used a FIFO, whose
64 KiB buffer blocks large messages); the socket is a Unix datagram socket, mode 0777 so that a container
running as any uid can send (Abaco 1.3.0 fixed the same for non-root actors).
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from chalicelib.adapters.payloads import PayloadCorrupt, PayloadStore, Pointer
from chalicelib.domain.errors import AbacoError
from chalicelib.domain.models import Actor, ExecutionStatus
from chalicelib.domain.queue_messages import InboxMessage
from chalicelib.wiring.backend import Backend
from runners.pipeline import environment

LOG = logging.getLogger("abaco.runner")
BINARY_PATH = "/_abaco_binary_data"
MESSAGE_PATH = "/_abaco_message"
RESULTS_PATH = "/_abaco_results.sock"
MESSAGE_FILE_VAR = "_abaco_message_file"  # set instead of MSG when the message is too large for the env
SOCKET_RCVBUF = 4 * 1024 * 1024  # ask for room for many 128 KiB results (the kernel caps it at rmem_max)
BINARY = "application/octet-stream"
__all__ = ["PayloadCorrupt"]  # re-exported: the runner treats a corrupt payload as a failed delivery


def work_root(configured: str | None) -> Path:
    """The runner host's directory for per-execution files; short, as AF_UNIX paths stop at 108 bytes."""
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "abaco-runner"


@dataclass
class Delivery:
    directory: Path
    results: socket.socket
    binds: dict[str, dict[str, str]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # set over the built environment
    unset: tuple[str, ...] = ()  # removed from it
    worker_directory: Path | None = None  # the parent ``prepare`` made, removed with its last execution

    def apply(self, env: dict[str, str]) -> dict[str, str]:
        merged = {**env, **self.env}
        for name in self.unset:
            merged.pop(name, None)
        return merged

    def close(self) -> None:
        try:
            self.results.close()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
            if self.worker_directory is not None:
                _remove_if_empty(self.worker_directory)


def _remove_if_empty(directory: Path) -> None:
    """The worker's directory goes with its last execution's (a worker runs one execution at a time, and
    ``prepare`` creates it again): otherwise every worker a long-lived runner ever ran left one behind."""
    try:
        directory.rmdir()
    except OSError:  # not empty (another execution's files), or already gone
        pass


def prepare(root: Path, worker_id: str, execution_id: str, message: InboxMessage,
            payloads: PayloadStore) -> Delivery:
    """Create the execution's directory and socket, and fetch its payload (verifying the sha256)."""
    directory = root / worker_id / execution_id
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o755)
    try:
        delivery = Delivery(directory, _bind_socket(directory / "results.sock"), worker_directory=directory.parent)
    except OSError:
        shutil.rmtree(directory, ignore_errors=True)
        _remove_if_empty(directory.parent)
        raise
    delivery.binds[str(directory / "results.sock")] = {"bind": RESULTS_PATH, "mode": "rw"}
    try:
        if message.s3_key:
            _fetch(delivery, message, payloads)
    except BaseException:
        delivery.close()
        raise
    return delivery


def _bind_socket(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_RCVBUF)
        sock.bind(str(path))
        os.chmod(path, 0o777)
    except OSError:
        sock.close()
        raise
    return sock


def _fetch(delivery: Delivery, message: InboxMessage, payloads: PayloadStore) -> None:
    """Download to a file; binary is mounted as is, text goes into MSG or, when too large, a file."""
    path = delivery.directory / "payload"
    pointer = Pointer(message.s3_key or "", message.size, message.sha256 or "")
    with open(path, "wb") as handle:
        payloads.download(pointer, handle)
    os.chmod(path, 0o644)
    if message.content_type == BINARY:
        delivery.binds[str(path)] = {"bind": BINARY_PATH, "mode": "ro"}
        delivery.unset = ("MSG",)
        return
    if message.size + len("MSG=") < environment.MAX_ENV_STRING:
        text = path.read_text(encoding="utf-8")
        if message.content_type == "application/json":
            text = repr(json.loads(text))
        if len(text.encode()) + len("MSG=") < environment.MAX_ENV_STRING:
            delivery.env["MSG"] = text
            return
    delivery.binds[str(path)] = {"bind": MESSAGE_PATH, "mode": "ro"}
    delivery.env[MESSAGE_FILE_VAR] = MESSAGE_PATH
    delivery.unset = ("MSG",)


def drop_payload_when_done(backend: Backend, actor: Actor, message: InboxMessage) -> None:
    """Delete the message's S3 object once its execution is terminal (another attempt may still need it
    otherwise; the bucket's lifecycle rule is the backstop)."""
    if not message.s3_key:
        return
    try:
        execution = backend.executions.find(actor.dbid, message.execution_id)
        if execution is None or execution.status in (ExecutionStatus.COMPLETE, ExecutionStatus.ERROR):
            backend.payloads.delete(message.s3_key)
    except AbacoError as exc:
        LOG.warning("could not drop payload %s: %s", message.s3_key, exc)


def runner_root(base: Path) -> Path:
    """This runner process's own subdirectory (named by its pid, so a restarted runner can sweep it)."""
    return base / str(os.getpid())


def sweep_dead_runners(base: Path) -> int:
    """Remove the directories of runner processes of this host that are gone (left by a crash)."""
    removed = 0
    if not base.is_dir():
        return 0
    for entry in base.iterdir():
        if entry.is_dir() and entry.name.isdigit() and not _alive(int(entry.name)):
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
