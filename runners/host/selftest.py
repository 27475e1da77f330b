"""The runner's start-up self-test: one container that must see what every execution's container sees.

The Docker engine resolves a bind mount's source path in its own mount namespace, not the runner's. A
runner whose work directory the engine cannot see (systemd's ``PrivateTmp=true`` with the default work
directory under /tmp was the case on the AWS hosts) gets empty directories mounted in place of the hosts
file, the results socket and the binary message: containers fail or lose their results, one execution at a
time. Before a runner takes any work it therefore runs one container, hardened as an actor's, from an image
imported from the host's static busybox (no registry involved), that must see

* the bind-mounted ``/etc/hosts`` the runner writes for containers without a network,
* the results socket at ``/_abaco_results.sock``, and send a datagram through it,
* a binary payload at ``/_abaco_binary_data`` with the same sha256 the runner wrote.

On failure ``run`` returns one line that says what was missing and what to change; ``python -m runners``
logs it and exits without serving (``runners/__main__.py``).
"""
from __future__ import annotations

import hashlib
import io
import os
import secrets
import shutil
import socket
import tarfile
from pathlib import Path
from typing import Any

from runners.pipeline import delivery, hardening
from runners.pipeline.engine import ContainerSpec, DockerEngine, EngineError, close_output

IMAGE_REPOSITORY = "abaco-selftest"
LABEL_SELFTEST = "org.abaco.selftest"
CONTAINER_TIMEOUT_S = 60.0  # a loaded engine takes seconds; a wedged one is a reason not to serve
DATAGRAM_TIMEOUT_S = 5.0  # after the container exited, its datagram is already queued or lost
PAYLOAD_BYTES = 4096
SCRIPT = """B=/busybox
if [ -f /etc/hosts ] && $B grep -q localhost /etc/hosts; then echo hosts-ok; else echo hosts-missing; fi
if [ -S /_abaco_results.sock ]; then echo socket-ok; else echo socket-missing; fi
if [ -f /_abaco_binary_data ]; then echo "payload $($B sha256sum /_abaco_binary_data)"; else echo payload-missing; fi
$B logger -t abaco "selftest $ABACO_SELFTEST_NONCE"
"""
# /dev/log is where busybox's logger sends its datagram: a hard link of the results socket is mounted there.
SYSLOG_PATH = "/dev/log"


class SelfTestFailed(Exception):
    """One line: what the self-test container did not see, and what to change."""


def busybox_path(settings: Any) -> Path:
    for candidate in (settings.warm_shim, shutil.which("busybox")):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise SelfTestFailed(f"no static busybox at {settings.warm_shim} for the self-test container: install "
                         "busybox-static (or set ABACO_WARM_SHIM to a statically linked busybox)")


def ensure_image(engine: DockerEngine, busybox: Path) -> str:
    """``abaco-selftest:<sha256 of busybox>``, imported once per busybox build."""
    data = busybox.read_bytes()
    tag = hashlib.sha256(data).hexdigest()[:12]
    image = f"{IMAGE_REPOSITORY}:{tag}"
    if not engine.has_image(image):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            info = tarfile.TarInfo("busybox")
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
        engine.import_rootfs(buffer.getvalue(), IMAGE_REPOSITORY, tag)
    return image


def run(settings: Any, engine: DockerEngine) -> None:
    """Raise ``SelfTestFailed`` (one line) unless a container sees the runner's mounts."""
    root = delivery.work_root(settings.runner_work_dir)
    directory = root / f"selftest-{os.getpid()}-{secrets.token_hex(3)}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o755)
        image = ensure_image(engine, busybox_path(settings))
        _run_in(directory, image, settings, engine)
    except EngineError as exc:
        if "mount" in str(exc).lower():  # a source the engine cannot see was created there as a directory
            raise SelfTestFailed(f"the Docker engine could not mount the runner's files into the self-test "
                                 f"container ({_first_line(exc)}): {_fix(root)}") from exc
        raise SelfTestFailed(f"the Docker engine could not run the self-test container: {exc}") from exc
    except OSError as exc:
        raise SelfTestFailed(f"cannot prepare the work directory {root} (ABACO_RUNNER_WORK_DIR): {exc}") from exc
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _run_in(directory: Path, image: str, settings: Any, engine: DockerEngine) -> None:
    payload = bytes(range(256)) + secrets.token_bytes(PAYLOAD_BYTES - 256)
    (directory / "payload").write_bytes(payload)
    os.chmod(directory / "payload", 0o644)
    nonce = secrets.token_hex(8)
    results = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        results.bind(str(directory / "results.sock"))
        os.chmod(directory / "results.sock", 0o777)
        os.link(directory / "results.sock", directory / "log.sock")  # the same socket, for busybox's logger
        spec = _spec(directory, image, settings, nonce)
        output = _container_output(engine, spec)
        results.settimeout(DATAGRAM_TIMEOUT_S)
        received = _receive(results)
    finally:
        results.close()
    verdict(output, received, nonce, hashlib.sha256(payload).hexdigest(), directory)


def _spec(directory: Path, image: str, settings: Any, nonce: str) -> ContainerSpec:
    sock = str(directory / "results.sock")
    return ContainerSpec(
        image=image, environment={"ABACO_SELFTEST_NONCE": nonce}, labels={LABEL_SELFTEST: str(os.getpid())},
        network_mode="none", pids_limit=settings.pids_limit, mem_limit=settings.mem_limit,
        user=settings.container_user or None, read_only=True,
        binds={sock: {"bind": delivery.RESULTS_PATH, "mode": "rw"},
               str(directory / "log.sock"): {"bind": SYSLOG_PATH, "mode": "rw"},
               str(directory / "payload"): {"bind": delivery.BINARY_PATH, "mode": "ro"}},
        hosts_file=str(hardening.hosts_file(settings)), entrypoint=["/busybox", "sh", "-c", SCRIPT])


def _container_output(engine: DockerEngine, spec: ContainerSpec) -> str:
    cid = engine.create(spec)
    stream = None
    try:
        stream = engine.attach_output(cid)
        engine.start(cid)
        if not engine.wait(cid, CONTAINER_TIMEOUT_S):
            raise SelfTestFailed(f"the self-test container did not finish within {CONTAINER_TIMEOUT_S:.0f} s")
        return b"".join(stream).decode("utf-8", "replace")
    finally:
        close_output(stream)
        engine.remove(cid)


def _receive(results: socket.socket) -> bytes:
    try:
        return results.recv(4096)
    except TimeoutError:
        return b""


def _fix(root: Path) -> str:
    return (f"the Docker engine resolves bind mounts in its own mount namespace and does not see {root} as the "
            "runner does (a private /tmp, such as systemd's PrivateTmp=true?): set ABACO_RUNNER_WORK_DIR to a "
            "directory the engine shares (the AWS hosts use /var/lib/abaco/work)")


def _first_line(exc: Exception) -> str:
    text = str(exc)
    start = text.find("error mounting")
    return (text[start:] if start >= 0 else text).split(":", 1)[0].strip()[:200]


def verdict(output: str, received: bytes, nonce: str, sha256: str, directory: Path) -> None:
    """Name the first thing the container did not see (pure: unit-tested on its own)."""
    fix = _fix(directory.parent)
    lines = output.split()
    missing = [what for what, mark in (("the hosts file at /etc/hosts", "hosts-ok"),
                                       (f"the results socket at {delivery.RESULTS_PATH}", "socket-ok"))
               if mark not in lines]
    if "payload-missing" in lines:
        missing.append(f"the binary payload at {delivery.BINARY_PATH}")
    elif sha256 not in lines:
        missing.append(f"the binary payload's bytes at {delivery.BINARY_PATH} (sha256 differs)")
    if missing:
        raise SelfTestFailed(f"the self-test container did not see {', '.join(missing)}: {fix}")
    if nonce.encode() not in received:
        raise SelfTestFailed(f"the self-test container's datagram on {delivery.RESULTS_PATH} never reached the "
                             f"runner: {fix}")
