"""Which image references an actor may name. Pure logic.

The Docker engine of a runner host pulls the image an actor names, from the host's own network position:
a registry named ``localhost``, an IP literal (``169.254.169.254``, ``10.0.0.5:5000``, ``[::1]``) or a
single-label name that resolves only inside the host's network would make the engine send requests to the
host's loopback, the instance metadata service or the VPC on a user's behalf (and Docker treats
``127.0.0.0/8`` registries as insecure, plain HTTP, by default). References keep Docker's grammar otherwise:
``name[:tag][@digest]`` with an optional ``registry.example.org[:port]/`` first component.
"""
from __future__ import annotations

import ipaddress

MAX_REFERENCE_CHARS = 512  # Docker's own limit on a whole reference is 255 for the name part plus tag/digest


def registry_of(image: str) -> str | None:
    """The registry host (with port) a reference names, or None for Docker Hub. Docker's rule: the first
    path component is a registry when it contains a dot or a colon, or is ``localhost``."""
    first, slash, _ = image.partition("/")
    if not slash:
        return None
    if "." in first or ":" in first or first == "localhost":
        return first
    return None


def _host(registry: str) -> str:
    if registry.startswith("["):  # [v6]:port
        return registry[1:].partition("]")[0]
    host, _, port = registry.rpartition(":")
    return host if host and port.isdigit() else registry


def registry_problem(image: str, allowed: tuple[str, ...] = ()) -> str | None:
    """Why a reference may not be pulled (None when it may). ``allowed``: registries (``host:port`` as written
    in the reference) an operator trusts by name, e.g. a private registry on a literal address
    (``ABACO_ALLOWED_REGISTRIES``)."""
    registry = registry_of(image)
    if registry is None or registry.lower() in allowed:
        return None
    host = _host(registry).lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return "names a registry on the runner host itself (localhost)"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return "names a registry by IP address; use a registry's DNS name"
    if "." not in host:
        return "names a registry without a domain"
    return None
