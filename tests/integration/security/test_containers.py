"""Container hardening, checked by inspecting real containers (plan T12, T14), never by sending packets."""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import docker
import pytest

from local.launcher import Stack
from runners.pipeline.engine import (
    HOSTS_PATH,
    LABEL_ACTOR,
    LABEL_ATTEMPT,
    LABEL_EXECUTION,
    LABEL_RUNNER,
    LABEL_TENANT,
    NO_NETWORK_HOSTS,
)
from tests.conftest import Api, wait_for
from tests.integration.security.conftest import privileged_runner

pytestmark = pytest.mark.docker
MEMORY = 512 * 1024 * 1024  # ABACO_MEM_LIMIT's default, 512m
ONE_CPU = 1_000_000_000


@pytest.fixture(scope="module")
def engine() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


def _running_container(engine: docker.DockerClient, execution_id: str) -> Any:
    def find() -> Any:
        found = engine.containers.list(filters={"label": f"{LABEL_EXECUTION}={execution_id}"})
        return found[0] if found else None

    return wait_for(find, 60, what=f"the container of {execution_id}")


def test_a_non_privileged_container_is_hardened(api: Api, engine: docker.DockerClient) -> None:
    actor = api.create_actor(image="abacosamples/sleep_loop")["id"]
    sent = api.ok("POST", f"/actors/{actor}/messages?_abaco_sleep_iterations=6", data={"message": "6"})
    container = _running_container(engine, sent["execution_id"])
    config, host = container.attrs["Config"], container.attrs["HostConfig"]
    assert config["User"] == "10000:10000"  # ABACO_CONTAINER_USER: never root by default
    assert host["CapDrop"] == ["ALL"] and not host.get("CapAdd")
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert host["Privileged"] is False
    assert host["PidsLimit"] == 256
    assert host["Memory"] == MEMORY and host["MemorySwap"] == MEMORY
    assert host["NanoCpus"] == ONE_CPU
    assert host["NetworkMode"] == "none"
    # No libnetwork sandbox at all (only a loopback), and the /etc/hosts Docker would have written.
    assert config["NetworkDisabled"] is True and not container.attrs["NetworkSettings"]["Networks"]
    assert [b for b in host["Binds"] if b.endswith(f":{HOSTS_PATH}:ro")]
    hosts = container.exec_run(["cat", HOSTS_PATH])
    assert hosts.exit_code == 0 and hosts.output.decode() == NO_NETWORK_HOSTS
    assert host["ReadonlyRootfs"] is True  # ABACO_CONTAINER_READ_ONLY's default
    assert host["Tmpfs"] == {"/tmp": "rw,noexec,nosuid,size=64m"}
    assert host["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 1024}]
    assert host["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "10m"}}
    assert host["AutoRemove"] is False and not host.get("Devices")
    assert "seccomp=unconfined" not in " ".join(host["SecurityOpt"])
    labels = config["Labels"]
    assert labels[LABEL_EXECUTION] == sent["execution_id"] and labels[LABEL_ACTOR] == actor
    assert labels[LABEL_TENANT] == "DEV-DEVELOP" and labels[LABEL_ATTEMPT] == "1" and labels[LABEL_RUNNER]
    mounts = json.dumps(container.attrs.get("Mounts", [])) + json.dumps(host.get("Binds") or [])
    assert "docker.sock" not in mounts
    finished = api.wait_execution(actor, sent["execution_id"])
    assert finished["status"] == "COMPLETE" and finished["exit_code"] == 0


def test_privileged_actors_are_sent_only_to_the_privileged_pool(api: Api, stack: Stack) -> None:
    """The session stack's runner serves ``default`` only; a privileged actor's worker is asked of the
    ``privileged`` pool's command queue, which only runners with ABACO_RUNNER_PRIVILEGED take."""
    actor = api.create_actor(image="abacosamples/noop", privileged=True)  # none mode: the caller is an admin
    assert actor["privileged"] is True
    sqs = boto3.client("sqs", endpoint_url=stack.env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    url = sqs.get_queue_url(QueueName=f"{stack.env['ABACO_RESOURCE_PREFIX']}-commands-privileged")["QueueUrl"]

    def command() -> dict[str, Any] | None:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
                                           ).get("Messages", []):
            body = json.loads(message["Body"])
            if body.get("actor_id") == actor["id"]:
                return body
        return None

    assert wait_for(command, 20, what="the start-worker command on the privileged pool")["actor_id"] == actor["id"]


def test_a_privileged_actor_runs_privileged_only_on_a_flagged_runner(jwt_stack: Stack, client: Any,
                                                                     engine: docker.DockerClient) -> None:
    """Registered by the privileged role, run by a runner of the privileged pool with the flag set."""
    assert client("uma").call("POST", "/actors", json={"image": "abacosamples/sleep_loop", "privileged": True}
                              ).status_code == 400
    pete = client("pete", role="privileged")
    actor = pete.ok("POST", "/actors", json={"image": "abacosamples/sleep_loop", "privileged": True})["id"]
    privileged_runner(jwt_stack)
    sent = pete.ok("POST", f"/actors/{actor}/messages?_abaco_sleep_iterations=4", data={"message": "4"})
    container = _running_container(engine, sent["execution_id"])
    host = container.attrs["HostConfig"]
    assert host["Privileged"] is True
    assert any(m["Destination"] == "/var/run/docker.sock" for m in container.attrs["Mounts"])
    assert pete.wait_execution(actor, sent["execution_id"])["status"] == "COMPLETE"
