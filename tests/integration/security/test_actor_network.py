"""The bridge option for networked actors on the real Docker engine, checked by
inspecting the network and a created container's configuration only: no container is started and no
packet is sent (the egress rules themselves live on AWS hosts: infrastructure/host/actor-network.sh)."""
from __future__ import annotations

import secrets
from collections.abc import Iterator

import docker
import pytest

from chalicelib.domain.models import Actor, Execution
from chalicelib.wiring.settings import Settings
from runners.pipeline import network
from runners.pipeline.engine import DockerEngine
from runners.pipeline.hardening import container_spec

pytestmark = pytest.mark.docker


@pytest.fixture()
def settings() -> Iterator[Settings]:
    """A bridge of this test's own (name and interface), removed afterwards with its containers."""
    suffix = secrets.token_hex(3)
    made = Settings(container_network="bridge", container_bridge=f"abaco-test-{suffix}",
                    container_bridge_interface=f"abt{suffix}")
    yield made
    client = docker.from_env()
    try:
        for container in client.containers.list(all=True, filters={"label": f"org.abaco.runner=test-{suffix}"}):
            container.remove(force=True)
        for net in client.networks.list(names=[made.container_bridge]):
            net.remove()
    finally:
        client.close()


def test_the_runner_creates_an_isolated_bridge_and_actors_join_only_it(settings: Settings) -> None:
    engine = DockerEngine(settings.docker_url)
    attrs = network.ensure_bridge(engine, settings)
    options = attrs["Options"]
    assert attrs["Driver"] == "bridge" and attrs["EnableIPv6"] is False
    assert options["com.docker.network.bridge.enable_icc"] == "false"  # no container-to-container traffic
    assert options["com.docker.network.bridge.name"] == settings.container_bridge_interface  # the rules' name
    assert attrs["Labels"] == {network.LABEL_NETWORK: "actors"}
    assert network.ensure_bridge(engine, settings)["Id"] == attrs["Id"]  # found again, not made twice

    actor = Actor(tenant="T", id="net1", image="abacosamples/test", owner="o")
    execution = Execution(tenant="T", actor_id="net1", id=f"e-{secrets.token_hex(3)}", executor="o")
    runner = f"test-{settings.container_bridge.rsplit('-', 1)[1]}"
    cid = engine.create(container_spec(actor, execution, {}, settings, runner))
    inspected = docker.APIClient().inspect_container(cid)
    host = inspected["HostConfig"]
    assert host["NetworkMode"] == settings.container_bridge
    assert host["NetworkMode"] != "host" and host["CapDrop"] == ["ALL"]
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert inspected["Config"].get("NetworkDisabled") in (None, False)


def test_a_same_named_network_made_differently_stops_the_runner(settings: Settings) -> None:
    client = docker.from_env()
    try:
        client.networks.create(settings.container_bridge, driver="bridge",
                               options={"com.docker.network.bridge.name": settings.container_bridge_interface})
    finally:
        client.close()
    with pytest.raises(ValueError, match="enable_icc"):
        network.ensure_bridge(DockerEngine(settings.docker_url), settings)
