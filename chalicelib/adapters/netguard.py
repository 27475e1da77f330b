"""Outbound HTTP to user-chosen URLs (webhooks) without server-side request forgery (reliability plan §4.5, API7).

A webhook target must be ``http``/``https`` and every address its host resolves to must be public:
loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16, the metadata service),
multicast, reserved and unspecified ranges are refused, unless the operator sets
``ABACO_ALLOW_PRIVATE_WEBHOOKS``. Names are resolved with ``getaddrinfo`` only (no connection is made to
check them). ``post`` delivers to the address it vetted (no second lookup, so DNS rebinding cannot swap
it) and follows at most ``MAX_REDIRECTS`` redirects, vetting each target the same way before connecting.
"""
from __future__ import annotations

import http.client
import ipaddress
import socket
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.domain.errors import BadRequest

MAX_REDIRECTS = 3
MAX_URL_LENGTH = 2048
DELIVERY_TIMEOUT_SECONDS = 10.0
REDIRECT_CODES = (301, 302, 303, 307, 308)
Resolver = Callable[[str, int], list[str]]
Connector = Callable[[tuple[str, int], float], socket.socket]


class UnsafeTarget(BadRequest):
    """The URL is not allowed as an outbound target; nothing was sent."""


class Unresolved(UnsafeTarget):
    """The host has no address now (refused at delivery, tolerated at registration)."""


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str
    port: int
    path: str
    address: str  # the vetted IP the connection goes to


def resolve(host: str, port: int) -> list[str]:
    """Every address of ``host`` (a literal IP resolves to itself without any lookup)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unresolved(f"Invalid webhook: the host '{host}' does not resolve.") from exc
    return sorted({str(info[4][0]) for info in infos})


def _literal(host: str) -> list[str]:
    """A literal IP needs no lookup at all."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        return []


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def vet(url: str, allow_private: bool = False, resolver: Resolver = resolve) -> Target:
    """Check ``url`` as an outbound target; ``UnsafeTarget`` (a 400) when it is not allowed."""
    if not isinstance(url, str) or len(url) > MAX_URL_LENGTH:
        raise UnsafeTarget("Invalid webhook: not a URL.")
    parsed = urllib.parse.urlsplit(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise UnsafeTarget("Invalid webhook: only http and https URLs with a host are allowed.")
    if parsed.username or parsed.password:
        raise UnsafeTarget("Invalid webhook: credentials in the URL are not allowed.")
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeTarget("Invalid webhook: bad port.") from exc
    addresses = _literal(parsed.hostname) or resolver(parsed.hostname, port)
    if not addresses:
        raise Unresolved(f"Invalid webhook: the host '{parsed.hostname}' does not resolve.")
    if not allow_private and not all(is_public(a) for a in addresses):
        raise UnsafeTarget("Invalid webhook: targets on loopback, private or link-local addresses are not "
                           "allowed.")
    path = urllib.parse.urlunsplit(("", "", parsed.path or "/", parsed.query, ""))
    return Target(url=url, scheme=parsed.scheme, host=parsed.hostname, port=port, path=path,
                  address=addresses[0])


def check_webhook(url: str, allow_private: bool = False, resolver: Resolver = resolve) -> str:
    """Validation for the actor ``webhook`` field: '' is no webhook; anything else must be safe.

    A name that does not resolve now (an offline machine, a record not yet published) is accepted: the
    check that protects is the one ``post`` makes before every delivery; this one refuses early what is
    already known to be private.
    """
    if not url:
        return url
    try:
        vet(url, allow_private, resolver)
    except Unresolved:
        pass
    return url


def post(url: str, body: bytes, content_type: str = "application/json", allow_private: bool = False,
         timeout: float = DELIVERY_TIMEOUT_SECONDS, resolver: Resolver = resolve,
         connector: Connector | None = None) -> int:
    """POST ``body`` to ``url``; returns the final status. Every hop is vetted before it is connected."""
    target = vet(url, allow_private, resolver)
    for _ in range(MAX_REDIRECTS + 1):
        status, location = _post_once(target, body, content_type, timeout, connector)
        if status not in REDIRECT_CODES or not location:
            return status
        target = vet(urllib.parse.urljoin(target.url, location), allow_private, resolver)
    raise UnsafeTarget(f"Webhook delivery: more than {MAX_REDIRECTS} redirects.")


def _post_once(target: Target, body: bytes, content_type: str, timeout: float,
               connector: Connector | None) -> tuple[int, str | None]:
    cls = http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
    conn = cls(target.host, target.port, timeout=timeout)
    connect: Connector = connector or socket.create_connection

    def to_vetted(_address: object, wait: float = timeout, *_rest: object) -> socket.socket:
        """Connect to the vetted address; the Host header and TLS name stay the URL's host."""
        return connect((target.address, target.port), wait)

    conn._create_connection = to_vetted  # type: ignore[attr-defined]
    try:
        conn.request("POST", target.path, body=body, headers={"Content-Type": content_type})
        response = conn.getresponse()
        response.read(65_536)
        return response.status, response.getheader("Location")
    finally:
        conn.close()
