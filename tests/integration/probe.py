"""The probe actor: an image that reports, as one JSON line in its logs, exactly what its container sees.

Built offline ``FROM abacosamples/py3_base`` and run as the unprivileged uid 65534, it prints its
environment, its uid/gid, and for ``/_abaco_binary_data``, ``/_abaco_message`` and
``/_abaco_results.sock`` whether they exist, their type, size, sha256 and whether it could write them, and
whether it can create a file in ``/`` and in ``/tmp`` (``writes``: true, or the errno name), and its
capability, no-new-privileges and seccomp lines of ``/proc/self/status`` (``status``).
Variables steer it: ``PROBE_RESULTS`` (JSON list of strings to send as results), ``PROBE_RESULT_BYTES``
(send one result of that many bytes), ``PROBE_RAW_RESULT_BYTES`` (the same without agavepy's size
check), ``PROBE_STDERR`` (a line for stderr), ``PROBE_SLEEP`` (seconds), ``PROBE_EXIT`` (exit code).
"""
from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.conftest import Api

PROBE_REPO = "abaco-test/probe"
PROBE_USER = "65534:65534"
MARKER = "PROBE "

SCRIPT = r'''
import hashlib, json, os, socket, stat, sys, time
from agavepy.actors import send_bytes_result

def describe(path):
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return {"exists": False}
    kind = ("file" if stat.S_ISREG(info.st_mode) else "fifo" if stat.S_ISFIFO(info.st_mode)
            else "socket" if stat.S_ISSOCK(info.st_mode) else "other")
    out = {"exists": True, "kind": kind, "mode": oct(info.st_mode & 0o777)}
    if kind == "file":
        digest, size = hashlib.sha256(), 0
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
                size += len(chunk)
        out.update(size=size, sha256=digest.hexdigest())
        try:
            open(path, "ab").close()
            out["writable"] = True
        except OSError:
            out["writable"] = False
        if size <= 1_000_000:
            with open(path, "rb") as handle:
                out["head"] = handle.read(200).decode("utf-8", "replace")
    return out

def can_write(path):
    """True, or the errno name that refused the write (EROFS: a read-only filesystem)."""
    import errno
    try:
        with open(path, "w") as handle:
            handle.write("x")
        os.unlink(path)
        return True
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))

sent = []
for item in json.loads(os.environ.get("PROBE_RESULTS", "[]")):
    send_bytes_result(item.encode())
    sent.append(item)
if os.environ.get("PROBE_RESULT_BYTES"):
    send_bytes_result(b"r" * int(os.environ["PROBE_RESULT_BYTES"]))
if os.environ.get("PROBE_RAW_RESULT_BYTES"):  # bypasses agavepy's size check
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as raw:
        raw.connect("/_abaco_results.sock")
        raw.send(b"x" * int(os.environ["PROBE_RAW_RESULT_BYTES"]))
from agavepy.actors import get_context
ctx = get_context()
report = {
    "context": {"message_kind": type(ctx.message).__name__, "dict_keys": sorted(ctx.message_dict)},
    "env": dict(os.environ), "uid": os.getuid(), "gid": os.getgid(), "sent": sent,
    "binary": describe("/_abaco_binary_data"), "message": describe("/_abaco_message"),
    "results": describe("/_abaco_results.sock"),
    "writes": {"root": can_write("/probe-write"), "tmp": can_write("/tmp/probe-write")},
    "status": {k: v.strip() for k, _, v in (line.partition(":") for line in open("/proc/self/status"))
               if k in ("CapEff", "CapBnd", "CapPrm", "NoNewPrivs", "Seccomp")},
}
if os.environ.get("PROBE_STDERR"):  # Docker interleaves the two streams freely: keep them apart
    sys.stderr.write(os.environ["PROBE_STDERR"] + "\n")
    sys.stderr.flush()
    time.sleep(0.5)
sys.stdout.write("PROBE " + json.dumps(report) + "\n")
sys.stdout.flush()
time.sleep(float(os.environ.get("PROBE_SLEEP", "0")))
sys.exit(int(os.environ.get("PROBE_EXIT", "0")))
'''


AGAVEPY = Path(__file__).resolve().parents[2] / "containerlib" / "agavepy"
SITE_AGAVEPY = "/usr/local/lib/python3.11/dist-packages/agavepy/"  # py3_base's copy, replaced (no env change)


def _context_files() -> dict[str, str]:
    dockerfile = ("FROM abacosamples/py3_base\n"
                  f"COPY probe.py /probe.py\nCOPY agavepy {SITE_AGAVEPY}\n"
                  f"USER {PROBE_USER}\nCMD [\"python3\", \"/probe.py\"]\n")
    files = {"Dockerfile": dockerfile, "probe.py": SCRIPT}
    files.update({f"agavepy/{p.name}": p.read_text() for p in sorted(AGAVEPY.glob("*.py"))})
    return files


def _tag(files: dict[str, str]) -> str:
    """Content-addressed: every checkout on this Docker engine gets the probe of its own sources."""
    digest = hashlib.sha256("\0".join(f"{k}\0{v}" for k, v in sorted(files.items())).encode()).hexdigest()
    return f"{PROBE_REPO}:{digest[:12]}"


PROBE_IMAGE = _tag(_context_files())


def build_probe() -> str:
    """Build the probe image from the local py3_base image (never pulls) unless this version exists. It
    carries this checkout's agavepy ahead of the base image's, so the contract is checked against the
    library as it is here (the shared sample images may have been built from another checkout)."""
    client = docker.from_env(timeout=300)
    try:
        try:
            client.images.get(PROBE_IMAGE)
            return PROBE_IMAGE
        except docker.errors.ImageNotFound:
            pass
        context = io.BytesIO()
        with tarfile.open(fileobj=context, mode="w") as archive:
            for name, text in _context_files().items():
                data = text.encode()
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(data), 0o644
                archive.addfile(info, io.BytesIO(data))
        context.seek(0)
        client.images.build(fileobj=context, custom_context=True, tag=PROBE_IMAGE, rm=True, pull=False)
    finally:
        client.close()
    return PROBE_IMAGE


@pytest.fixture(scope="session")
def probe_image() -> str:
    return build_probe()


def report(logs: str) -> dict[str, Any]:
    """The probe's JSON report from an execution's logs."""
    for line in logs.splitlines():
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER):])
    raise AssertionError(f"no probe report in the logs: {logs[:500]!r}")


@pytest.fixture()
def new_actor(api: Api) -> Iterator[Callable[..., dict[str, Any]]]:
    """Create actors for one test and delete them afterwards, so their workers free the runner's slots."""
    made: list[str] = []

    def create(**fields: Any) -> dict[str, Any]:
        actor = api.create_actor(**fields)
        made.append(actor["id"])
        return actor

    yield create
    for actor_id in made:
        api.call("DELETE", f"/actors/{actor_id}")
