"""The image pre-check (reliability plan §3.2, T15) and the runtime check, with real images, runner and Docker.

Images are built offline FROM abacosamples/noop. A refused image puts the actor in ERROR with "image
rejected: ..." (as a missing image does) and no container of it is ever created: Docker's own event log
is the witness, not the runner's word. The root-user case needs ``ABACO_CONTAINER_USER`` empty (the
image's own user, Abaco's behaviour), so this module runs its own runner and API on the session emulator.
"""
from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from local.launcher import Stack
from runners.pipeline.engine import LABEL_ACTOR
from tests.conftest import Api, start_stack, wait_for

pytestmark = pytest.mark.docker
IMAGES = {
    "abaco-test/workdir-proc": "FROM abacosamples/noop\nWORKDIR /proc/self/fd/7\n",
    "abaco-test/user-root": 'FROM abacosamples/noop\nUSER root\nCMD ["sh", "-c", "id -u"]\n',
    # Five 60 KB variables: each under the kernel's 128 KiB string limit, 300 KB together.
    "abaco-test/env-huge": "FROM abacosamples/noop\n" + "".join(f"ENV BIG{i}={'x' * 60_000}\n" for i in range(5)),
    "abaco-test/user-1234": 'FROM abacosamples/noop\nUSER 1234:1234\nCMD ["sh", "-c", "echo uid=$(id -u)"]\n',
}


@pytest.fixture(scope="module")
def images() -> None:
    client = docker.from_env(timeout=300)
    try:
        for tag, dockerfile in IMAGES.items():
            client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True, pull=False)
    finally:
        client.close()


@pytest.fixture(scope="module")
def own_user_stack(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    private = start_stack(tmp_path_factory.mktemp("image-user"), env={"ABACO_CONTAINER_USER": ""},
                          emulator_url=stack.env["AWS_ENDPOINT_URL"])
    yield private
    private.stop()


def _created(actor_id: str, since: float) -> list[dict[str, Any]]:
    """Containers Docker created for the actor since ``since`` (its event log, by the actor label)."""
    client = docker.from_env()
    try:
        events = client.api.events(since=int(since), until=int(time.time()) + 1, decode=True,
                                   filters={"type": "container", "event": "create",
                                            "label": f"{LABEL_ACTOR}={actor_id}"})
        return list(events)
    finally:
        client.close()


def _refused(api: Api, image: str) -> str:
    """Register an actor of ``image``, send it a message; return its ERROR status message."""
    since = time.time() - 1
    actor = api.create_actor(image=image)["id"]
    execution = api.ok("POST", f"/actors/{actor}/messages", data={"message": "x"})["execution_id"]

    def errored() -> dict[str, Any] | None:
        current = api.ok("GET", f"/actors/{actor}")
        return current if current["status"] == "ERROR" else None

    message = wait_for(errored, 60, what=f"actor of {image} in ERROR")["status_message"]
    assert api.ok("GET", f"/actors/{actor}/executions/{execution}")["status"] == "SUBMITTED"  # never ran
    assert _created(actor, since) == [], f"a container of {image} was created"
    api.ok("DELETE", f"/actors/{actor}")
    return message


def test_a_working_directory_under_proc_is_refused_before_any_container(api: Api, images: None) -> None:
    message = _refused(api, "abaco-test/workdir-proc")
    assert message.startswith("image rejected: ") and "/proc/self/fd/7" in message and "CVE-2024-21626" in message


def test_an_oversized_image_environment_is_refused(api: Api, images: None) -> None:
    message = _refused(api, "abaco-test/env-huge")
    assert message.startswith("image rejected: its ENV holds") and "262144" in message


def test_a_root_user_is_refused_when_the_container_would_run_as_the_images_user(
        own_user_stack: Stack, images: None) -> None:
    api = Api(own_user_stack.api_url)
    message = _refused(api, "abaco-test/user-root")
    assert message.startswith("image rejected: it runs as root (User root)")
    actor = api.create_actor(image="abaco-test/user-1234")["id"]  # a non-root image user runs
    sent = api.ok("POST", f"/actors/{actor}/messages", data={"message": "x"})["execution_id"]
    assert api.wait_execution(actor, sent)["status"] == "COMPLETE"
    assert "uid=1234" in api.logs(actor, sent)
    api.ok("DELETE", f"/actors/{actor}")


def test_a_root_image_user_runs_as_the_configured_uid_by_default(api: Api, images: None) -> None:
    """With the default ABACO_CONTAINER_USER the image's USER root is never used, so nothing is refused."""
    actor = api.create_actor(image="abaco-test/user-root")["id"]
    sent = api.ok("POST", f"/actors/{actor}/messages", data={"message": "x"})["execution_id"]
    assert api.wait_execution(actor, sent)["status"] == "COMPLETE"
    assert api.logs(actor, sent).strip() == "10000"
    api.ok("DELETE", f"/actors/{actor}")


def test_the_runner_names_its_container_runtime_at_start(stack: Stack) -> None:
    """T15: the start-up log names runc's version (as ``docker version`` reports it) in a JSON line."""
    client = docker.from_env()
    try:
        runc = next(c for c in client.version()["Components"] if c["Name"].lower() == "runc")
    finally:
        client.close()
    expected = (runc.get("Details") or {}).get("GitCommit") or runc["Version"]

    def logged() -> dict[str, Any] | None:
        for line in Path(stack.log_dir, "runner0.log").read_text(errors="replace").splitlines():
            if line.startswith("{") and '"runc_version"' in line:
                return json.loads(line)
        return None

    record = wait_for(logged, 30, what="the runtime line in the runner's log")
    assert record["runc_version"] == expected and expected in record["message"]
