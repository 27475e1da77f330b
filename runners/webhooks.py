"""One HTTP POST of an event to an actor's webhook, never to a private address.

A webhook URL is user input, so posting to it from a runner host is a server-side request forgery risk
(instance metadata at 169.254.169.254, services on private ranges). The host name is resolved once,
every address must be globally routable (loopback only when ``ABACO_WEBHOOK_ALLOW_LOOPBACK`` is set, for
local tests), and the connection goes to the vetted address (no second lookup an attacker could
rebind). Redirects are not followed. Abaco posted once without retries; so do we.
"""
from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import ssl
import urllib.parse
from typing import Any

TIMEOUT_SECONDS = 5.0
MAX_RESPONSE_BYTES = 65_536  # read (and ignore) at most this much of the answer


class WebhookRefused(Exception):
    """The URL is malformed or resolves to an address we never send to."""


def vet(url: str, allow_loopback: bool, allow_private: bool = False) -> tuple[urllib.parse.SplitResult, str]:
    """The parsed URL and the one address to connect to; WebhookRefused when there is none."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefused(f"not an http(s) URL: {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise WebhookRefused(f"cannot resolve {parts.hostname}: {exc}") from exc
    addresses = {info[4][0] for info in infos}
    for address in addresses:
        if not allowed(address, allow_loopback, allow_private):
            raise WebhookRefused(f"{parts.hostname} resolves to {address}, which is not a public address")
    return parts, sorted(addresses)[0]


def allowed(address: str, allow_loopback: bool, allow_private: bool = False) -> bool:
    """``allow_private`` is the operator's ``ABACO_ALLOW_PRIVATE_WEBHOOKS`` (the API honours it too)."""
    if allow_private:
        return True
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1
    if ip.is_loopback:
        return allow_loopback
    return ip.is_global and not ip.is_multicast


def post_json(url: str, payload: dict[str, Any], allow_loopback: bool = False, allow_private: bool = False) -> int:
    """POST ``payload`` as JSON; returns the HTTP status. Raises WebhookRefused or OSError."""
    parts, address = vet(url, allow_loopback, allow_private)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = _PinnedHTTPS(parts.hostname or "", port, address)
    else:
        connection = _PinnedHTTP(parts.hostname or "", port, address)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        connection.request("POST", path, body=json.dumps(payload).encode(),
                           headers={"Content-Type": "application/json", "User-Agent": "abaco-events"})
        response = connection.getresponse()
        response.read(MAX_RESPONSE_BYTES)
        return response.status
    finally:
        connection.close()


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str) -> None:
        super().__init__(host, port, timeout=TIMEOUT_SECONDS)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str) -> None:
        super().__init__(host, port, timeout=TIMEOUT_SECONDS, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]
