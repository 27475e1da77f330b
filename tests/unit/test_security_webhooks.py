"""Outbound webhooks without server-side request forgery (chalicelib/adapters/netguard.py): targets, redirects."""
from __future__ import annotations

import http.server
import ipaddress
import socket
import threading
from collections.abc import Iterator

import pytest

from chalicelib.adapters import netguard
from chalicelib.wiring.settings import Settings
from tests import jwt_keys


def settings(**kwargs: object) -> Settings:
    return Settings(jwt_public_key=jwt_keys.key_pair()[1], **kwargs)  # type: ignore[arg-type]


# --- outbound webhooks -----------------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/hook", "http://10.0.0.1/", "http://172.16.5.4/", "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/", "http://[::1]/", "http://[fe80::1]/", "http://[::ffff:10.0.0.1]/",
    "http://0.0.0.0/", "file:///etc/passwd", "gopher://93.184.216.34/", "http://user:pw@93.184.216.34/",
    "http:///nohost", "http://224.0.0.1/",
])
def test_private_and_odd_webhook_targets_are_refused(url: str) -> None:
    with pytest.raises(netguard.UnsafeTarget):
        netguard.vet(url)


def test_unresolvable_names_wait_for_the_delivery_check() -> None:
    def nowhere(host: str, port: int) -> list[str]:
        raise netguard.Unresolved("no such host")

    assert netguard.check_webhook("http://hooks.invalid/x", resolver=nowhere) == "http://hooks.invalid/x"
    with pytest.raises(netguard.UnsafeTarget):
        netguard.check_webhook("http://10.9.8.7/x", resolver=nowhere)
    with pytest.raises(netguard.Unresolved):
        netguard.post("http://hooks.invalid/x", b"{}", resolver=nowhere)


def test_public_targets_pass_and_operators_may_allow_private_ones() -> None:
    assert netguard.vet("https://93.184.216.34/hook?a=1").path == "/hook?a=1"
    assert netguard.vet("http://10.0.0.1/", allow_private=True).address == "10.0.0.1"
    with pytest.raises(netguard.UnsafeTarget):  # a name resolving to any private address is refused
        netguard.vet("http://hooks.example/", resolver=lambda host, port: ["93.184.216.34", "10.1.1.1"])


def fake_dns(host: str, port: int) -> list[str]:
    """Literal addresses resolve to themselves (no traffic); every name to one public address."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        return ["93.184.216.34"]


class _Redirector(http.server.BaseHTTPRequestHandler):
    location = ""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(302 if self.location else 204)
        if self.location:
            self.send_header("Location", self.location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def redirector() -> Iterator[http.server.HTTPServer]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Redirector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("location", ["http://10.0.0.1/x", "http://169.254.169.254/", "http://[::1]:9/",
                                      "file:///etc/passwd"])
def test_redirects_to_private_targets_are_refused_before_connecting(redirector: http.server.HTTPServer,
                                                                    location: str) -> None:
    _Redirector.location = location
    connected: list[tuple[str, int]] = []
    local = redirector.server_address

    def connector(address: tuple[str, int], timeout: float) -> socket.socket:
        connected.append(address)  # only the vetted public address is ever asked for
        return socket.create_connection((local[0], local[1]), timeout)

    with pytest.raises(netguard.UnsafeTarget):
        netguard.post("http://hooks.example/in", b"{}", resolver=fake_dns, connector=connector)
    assert connected == [("93.184.216.34", 80)]


def test_delivery_without_redirect_returns_the_status(redirector: http.server.HTTPServer) -> None:
    _Redirector.location = ""
    local = redirector.server_address
    status = netguard.post("http://hooks.example/in", b"{}", resolver=fake_dns,
                           connector=lambda address, timeout: socket.create_connection(local, timeout))
    assert status == 204


