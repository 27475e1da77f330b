"""A TLS front for a local stack, as the nginx in front of Abaco, reached as an HTTPS proxy: for agavepy.

agavepy 0.9.5 builds every actors URL as ``https://`` + the host of ``api_server`` (its bundled
``resources/api_actors.json.j2``), so it cannot reach a plain-HTTP local stack; and it sends credentials
only when the request's host name equals ``api_server``'s host *and port* (``swaggerpy/http_client.py``,
``Authenticator.matches``), i.e. never to a URL with an explicit port. So the client is given
``https://abaco.test`` (a reserved name, never resolved) and this front as its HTTPS proxy: it listens on
127.0.0.1, answers the client's ``CONNECT``, terminates TLS with a fresh self-signed certificate for
``abaco.test`` (made with ``cryptography``) and pipes the bytes both ways to the stack's HTTP port. It
parses nothing after the CONNECT: what the client sent is what the API receives. ``ca_file`` is the
certificate to pass as the client's ``verify``, ``proxy`` its ``https`` proxy.
"""
from __future__ import annotations

import datetime
import socket
import ssl
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

LOOPBACK = "127.0.0.1"
HOST = "abaco.test"  # RFC 2606: reserved for testing
MAX_CONNECT_BYTES = 8192


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for ``HOST`` (valid one day) and its key, as PEM files in ``directory``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "front.crt", directory / "front.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


class TlsFront:
    """``https://abaco.test`` through the proxy ``http://127.0.0.1:{port}``, in front of the stack's port."""

    def __init__(self, upstream_port: int, directory: Path) -> None:
        self.upstream_port = upstream_port
        self.ca_file, key_file = self_signed(directory)
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(self.ca_file, key_file)
        self._listener = socket.create_server((LOOPBACK, 0))
        self.port = self._listener.getsockname()[1]
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True, name="tls-front").start()

    url = f"https://{HOST}"

    @property
    def proxy(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def close(self) -> None:
        self._closed.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                raw, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            _answer_connect(raw)
            client = self._context.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError, ValueError):
            raw.close()
            return
        upstream = socket.create_connection((LOOPBACK, self.upstream_port))
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
        _pipe(client, upstream)


def _answer_connect(raw: socket.socket) -> None:
    """Read the proxy request (``CONNECT abaco.test:443 HTTP/1.1`` and its headers) and accept it."""
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = raw.recv(1024)
        if not chunk or len(head) > MAX_CONNECT_BYTES:
            raise ValueError("no complete CONNECT request")
        head += chunk
    if not head.startswith(f"CONNECT {HOST}:".encode()):
        raw.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        raise ValueError("not a CONNECT to " + HOST)
    raw.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    """Copy until either side closes, then close both."""
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            try:
                end.close()
            except OSError:
                pass
