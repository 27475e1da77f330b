"""Networked actors: the bridge option's configuration, the host's egress rules, and
``host`` refused in AWS. Pure logic; tests/integration/security/test_actor_network.py inspects the real
network and container."""
from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from chalicelib.domain.models import Actor, Execution
from chalicelib.wiring.settings import Settings
from runners.pipeline import network
from runners.pipeline.hardening import container_spec

ROOT = Path(__file__).resolve().parents[2]
LOCAL = "http://127.0.0.1:4566"  # an emulator endpoint: what makes a stage local (never contacted here)


def test_host_networking_is_refused_in_aws_and_in_production() -> None:
    with pytest.raises(ValidationError, match="refused in AWS"):
        Settings(container_network="host", AWS_ENDPOINT_URL=None)  # no emulator endpoint: real AWS
    with pytest.raises(ValidationError, match="refused in AWS"):
        Settings(container_network="host", production=True, AWS_ENDPOINT_URL=LOCAL)
    assert Settings(container_network="host", AWS_ENDPOINT_URL=LOCAL).container_network == "host"
    assert Settings(container_network="bridge", production=True).container_network == "bridge"


def test_bridge_containers_join_the_named_network_without_a_hosts_file() -> None:
    settings = Settings(container_network="bridge", container_bridge="actors-net")
    actor = Actor(tenant="T", id="a1", image="abacosamples/test", owner="o")
    spec = container_spec(actor, Execution(tenant="T", actor_id="a1", id="e1", executor="o"), {}, settings, "r1")
    assert spec.network_mode == "actors-net" and spec.hosts_file is None


def test_a_network_made_differently_is_not_used() -> None:
    settings = Settings(container_network="bridge")
    good = {"Driver": "bridge", "Options": network.bridge_options(settings), "EnableIPv6": False}
    assert network.problems(good, settings) == []
    open_icc = {**good, "Options": {**good["Options"], network.ICC_OPTION: "true"}}
    assert any("enable_icc" in p for p in network.problems(open_icc, settings))
    assert network.problems({**good, "EnableIPv6": True}, settings)
    assert network.problems({**good, "Driver": "macvlan"}, settings)
    assert network.problems({**good, "Options": {}}, settings)


def test_the_host_script_blocks_every_range_on_the_default_interface() -> None:
    script = (ROOT / "infrastructure" / "host" / "actor-network.sh").read_text()
    for blocked in network.BLOCKED_EGRESS:
        assert blocked in script
    assert f'IFACE="${{ABACO_CONTAINER_BRIDGE_INTERFACE:-{Settings().container_bridge_interface}}}"' in script
    assert "vpc-ipv4-cidr-blocks" in script and "DOCKER-USER" in script
    user_data = (ROOT / "infrastructure" / "host" / "user-data.sh").read_text()
    assert "abaco-actor-network" in user_data
