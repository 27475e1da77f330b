"""The runner's container streams give their engine connection back when the execution ends (found by the
nightly soak, T28: the attach stream's connection sat in a reference cycle until the cyclic garbage
collector ran, so the runner's descriptors drifted by one per execution between collections).

The garbage collector is off during each test, so only an explicit close can release the descriptor."""
from __future__ import annotations

import gc
import os
import secrets
from collections.abc import Iterator

import pytest

from runners.pipeline.containers import ColdStart
from runners.pipeline.engine import ContainerSpec, DockerEngine, OutputStream

NOOP_IMAGE = "abacosamples/noop"
LABEL_TEST = "org.abaco.test.streams"


@pytest.fixture()
def engine() -> Iterator[DockerEngine]:
    engine = DockerEngine()
    gc.disable()
    try:
        yield engine
    finally:
        gc.enable()
        for container in engine.labelled(LABEL_TEST):
            engine.remove(container["Id"])
        engine.close()


def _spec() -> ContainerSpec:
    return ContainerSpec(image=NOOP_IMAGE, environment={}, labels={LABEL_TEST: secrets.token_hex(4)})


def _socket_inode(stream: OutputStream) -> str:
    """The attach connection's socket as /proc names it (``socket:[inode]``)."""
    raw = stream._stream._response.raw._fp.fp.raw  # the SDK's hijacked socket (see OutputStream)
    return os.readlink(f"/proc/self/fd/{raw.fileno()}")


def _open_sockets() -> set[str]:
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            found.add(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            continue  # closed meanwhile (the listing's own descriptor)
    return found


@pytest.mark.docker
def test_closing_the_attach_stream_releases_its_connection(engine: DockerEngine) -> None:
    cid = engine.create(_spec())
    stream = engine.attach_output(cid)
    inode = _socket_inode(stream)
    engine.start(cid)
    assert list(stream) == []  # busybox true prints nothing; the stream ends with the container
    assert engine.wait(cid, timeout=30)
    assert inode in _open_sockets()  # read to the end, yet still open: the cycle holds it
    stream.close()
    stream.close()  # twice is harmless
    assert inode not in _open_sockets()
    engine.remove(cid)


@pytest.mark.docker
def test_releasing_a_cold_container_closes_its_stream(engine: DockerEngine) -> None:
    source = ColdStart(engine)
    spec = _spec()
    container = source.acquire(spec)
    assert isinstance(container.output, OutputStream)
    inode = _socket_inode(container.output)
    source.start(container)
    list(container.output)
    assert engine.wait(container.cid, timeout=30)
    source.release(container)
    assert inode not in _open_sockets()
    assert not engine.labelled(LABEL_TEST, spec.labels[LABEL_TEST])  # removed, too
