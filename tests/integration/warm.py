"""Fixtures for running the same tests on a cold and a warm runner. Import the ``*_fixture``
names; tests use them by their short names (``mode``, ``warm_api``, ...).

The session stack runs cold (``ABACO_WARM_START=false`` in the test environment: other tests find an
execution's container by its labels, which a pre-started container cannot carry). ``warm_stack`` is a
private API and runner with warm start on, sharing the session emulator. A worker's first execution is
always cold (the pool learns the actor's container from it), so ``run`` repeats a message until it ran in
a pre-started container and returns that execution: every repetition is checked by the caller all the
same, as it runs the same contract.
"""
from __future__ import annotations

import io
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import docker
import pytest

from local.launcher import Stack
from runners.pipeline.engine import LABEL_WARM
from tests.conftest import Api, start_stack

MODES = ("cold", "warm")
WARM_ATTEMPTS = 5  # a worker's first execution is cold; the next ones find the pre-started container
SHAPE_IMAGE = "abaco-test/shape"
SHAPE_MARKER = "SHAPE "
SHAPE_DOCKERFILE = """FROM abacosamples/test
WORKDIR /work/dir
USER 4321:4322
ENV SHAPE_IMAGE_VAR=from-image
ENTRYPOINT ["/bin/sh", "-c", "echo \\"SHAPE pid=$$ cwd=$(pwd) uid=$(id -u) gid=$(id -g) argv=$0,$1,$2\\"; \
exit ${SHAPE_EXIT:-0}", "first"]
CMD ["second", "third"]
"""


@pytest.fixture(scope="session", name="warm_stack")
def warm_stack_fixture(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    private = start_stack(tmp_path_factory.mktemp("warm"), env={"ABACO_WARM_START": "true"},
                          emulator_url=stack.env["AWS_ENDPOINT_URL"])
    yield private
    private.stop()


@pytest.fixture(scope="session", name="warm_api")
def warm_api_fixture(warm_stack: Stack) -> Api:
    return Api(warm_stack.api_url)


@dataclass
class Mode:
    """One mode's API and the actors a test made there (deleted afterwards, freeing the worker slots)."""

    name: str
    api: Api
    made: list[str] = field(default_factory=list)

    def actor(self, **fields: Any) -> dict[str, Any]:
        actor = self.api.create_actor(**fields)
        self.made.append(actor["id"])
        return actor

    def run(self, actor_id: str, send: Callable[[], str]) -> dict[str, Any]:
        """Send (``send`` returns the execution id) until the execution ran in this mode; return it."""
        seen = []
        for _ in range(WARM_ATTEMPTS):
            execution = self.api.wait_execution(actor_id, send())
            if was_warm(execution) == (self.name == "warm"):
                return execution
            assert self.name == "warm", f"a cold runner started {execution['id']} warm"
            seen.append((execution["id"], execution["status"], execution.get("phases")))
        raise AssertionError(f"no warm start in {WARM_ATTEMPTS} executions of {actor_id}: {seen}")


def was_warm(execution: dict[str, Any]) -> bool:
    return "prestarted" in (execution.get("phases") or {})


@pytest.fixture(scope="module", params=MODES, name="mode")
def mode_fixture(request: pytest.FixtureRequest) -> Iterator[Mode]:
    """Module-scoped: a module's actors keep their worker (and its pre-started container) across tests."""
    api = request.getfixturevalue("api" if request.param == "cold" else "warm_api")
    chosen = Mode(request.param, api)
    yield chosen
    for actor_id in chosen.made:
        api.call("DELETE", f"/actors/{actor_id}")


def build_shape() -> str:
    """An image with its own ENTRYPOINT + CMD, WORKDIR, USER and ENV, reporting what its process sees."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as archive:
        data = SHAPE_DOCKERFILE.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size, info.mode = len(data), 0o644
        archive.addfile(info, io.BytesIO(data))
    context.seek(0)
    client = docker.from_env(timeout=300)
    try:
        client.images.build(fileobj=context, custom_context=True, tag=SHAPE_IMAGE, rm=True, pull=False)
    finally:
        client.close()
    return SHAPE_IMAGE


@pytest.fixture(scope="session", name="shape_image")
def shape_image_fixture() -> str:
    return build_shape()


def shape_report(logs: str) -> dict[str, str]:
    for line in logs.splitlines():
        if line.startswith(SHAPE_MARKER):
            return dict(part.split("=", 1) for part in line[len(SHAPE_MARKER):].split())
    raise AssertionError(f"no shape report in the logs: {logs[:300]!r}")


def dbid(actor_id: str, tenant: str = "DEV-DEVELOP") -> str:
    """The actor's key as the runner labels its pre-started containers (the default tenant in tests)."""
    return f"{tenant}_{actor_id}"


def labelled(label: str, value: str) -> list[dict[str, Any]]:
    """Containers carrying ``label=value`` as the engine lists them (one call, running or not)."""
    client = docker.from_env()
    try:
        return list(client.api.containers(all=True, filters={"label": f"{label}={value}"}))
    finally:
        client.close()


def warm_containers(dbid: str) -> list[dict[str, Any]]:
    """Pre-started containers of an actor (``tenant_actor``) as the engine lists them."""
    return labelled(LABEL_WARM, dbid)
