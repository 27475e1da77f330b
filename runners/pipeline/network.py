"""The network of networked actors (``ABACO_CONTAINER_NETWORK=bridge``). Pure logic.

``none`` (the default) gives a container no network at all. ``host`` puts it in the runner host's own
network namespace, where the instance metadata service hands any actor the host's credentials: the
settings refuse it in AWS. ``bridge`` attaches containers to one user-defined bridge network whose
configuration the runner creates and then insists on: no traffic between containers (``enable_icc``
false), a fixed interface name so the host's firewall can name it, no IPv6. Docker alone cannot refuse
egress by destination, so the runner host's set-up (``infrastructure/host/actor-network.sh``, installed
by ``infrastructure/host/user-data.sh``) drops what comes in on that interface for the instance metadata
service, link-local, carrier-grade NAT, the private ranges and the VPC's own ranges (``DOCKER-USER`` for
forwarded traffic, ``INPUT`` for the host itself). The rules are listed here too, so a test can check that
the script installs exactly these.
"""
from __future__ import annotations

from typing import Any

ICC_OPTION = "com.docker.network.bridge.enable_icc"
INTERFACE_OPTION = "com.docker.network.bridge.name"
MASQUERADE_OPTION = "com.docker.network.bridge.enable_ip_masquerade"
LABEL_NETWORK = "org.abaco.network"  # on the network the runner created: its purpose
# Destinations a networked actor never reaches (the VPC's own ranges are added by the host script from IMDS).
BLOCKED_EGRESS = ("169.254.0.0/16", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")


def network_mode(settings: Any) -> str:
    """The HostConfig ``NetworkMode`` of an actor container: ``none``, ``host`` or the bridge's name."""
    return str(settings.container_bridge if settings.container_network == "bridge" else settings.container_network)


def bridge_options(settings: Any) -> dict[str, str]:
    return {ICC_OPTION: "false", INTERFACE_OPTION: settings.container_bridge_interface, MASQUERADE_OPTION: "true"}


def bridge_labels() -> dict[str, str]:
    return {LABEL_NETWORK: "actors"}


def problems(attrs: dict[str, Any], settings: Any) -> list[str]:
    """What is wrong with an existing network of the bridge's name (``docker network inspect``): a network
    someone else made, or made differently, is never used as if it were isolated."""
    found: list[str] = []
    if attrs.get("Driver") != "bridge":
        found.append(f"driver is {attrs.get('Driver')!r}, not 'bridge'")
    options = attrs.get("Options") or {}
    for key, value in bridge_options(settings).items():
        if options.get(key) != value:
            found.append(f"option {key} is {options.get(key)!r}, not {value!r}")
    if attrs.get("EnableIPv6"):
        found.append("IPv6 is enabled (the host rules are IPv4)")
    return found


def ensure_bridge(engine: Any, settings: Any) -> dict[str, Any]:
    """The bridge network, created if missing; an existing one must have our configuration (else
    ``ValueError``: the runner refuses to start rather than run actors on a network it cannot vouch for)."""
    attrs = engine.network(settings.container_bridge)
    if attrs is None:
        attrs = engine.create_network(settings.container_bridge, bridge_options(settings), bridge_labels())
    wrong = problems(attrs, settings)
    if wrong:
        raise ValueError(f"network {settings.container_bridge} is not the isolated bridge actors need: "
                         + "; ".join(wrong))
    return attrs
