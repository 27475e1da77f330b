"""A loopback fault proxy between one runner and the emulator (reliability plan §5), per AWS service.

Every AWS call of the runner goes through it (its ``AWS_ENDPOINT_URL``). It reads each HTTP request whole
(botocore sends a Content-Length body), names its service from the JSON protocol's ``X-Amz-Target``
(``DynamoDB_20120810.*`` is ``dynamodb``, ``AmazonSQS.*`` is ``sqs``, anything else ``other``: S3), and then:

- ``blackholed`` (the whole partition): every byte is dropped in both directions, new connections hang;
- ``cut(service)``: that service's requests, and the responses on its connections, are dropped while the
  other services pass (a runner cut off from DynamoDB that still reaches SQS);
- ``stall(service, seconds)``: each request of that service is held that long, then forwarded (a slow
  but alive store).

``log`` lists the requests forwarded, as ``(monotonic time, target, queue or table name)``, so a test can
show from the wire which calls a runner made while it was cut off.
"""
from __future__ import annotations

import json
import socket
import threading
import time

SERVICES = ("dynamodb", "sqs", "other")
MAX_HEADER_BYTES = 65536
_TARGET_PREFIXES = {"dynamodb_": "dynamodb", "amazonsqs.": "sqs"}


def service_of(target: str) -> str:
    """The service an ``X-Amz-Target`` value names."""
    lowered = target.lower()
    return next((name for prefix, name in _TARGET_PREFIXES.items() if lowered.startswith(prefix)), "other")


def parse_head(head: bytes) -> tuple[str, int, bool]:
    """(target, content length, whether the body is chunked) of one request's header block."""
    target, length, chunked = "", 0, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        name, value = name.strip().lower(), value.strip()
        if name == "x-amz-target":
            target = value
        elif name == "content-length":
            length = int(value or 0)
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    return target, length, chunked


def _resource(body: bytes, service: str) -> str:
    """What a JSON request names: the queue (the last part of its QueueUrl) or the table, else ""."""
    if service == "other":
        return ""
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return ""
    name = data.get("QueueUrl") or data.get("TableName") or "" if isinstance(data, dict) else ""
    return name.rsplit("/", 1)[-1] if isinstance(name, str) else ""


class _Connection:
    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.service = "other"  # of the last request: a boto client's connections carry one service

    def close(self) -> None:
        for sock in (self.client, self.upstream):
            try:
                sock.close()
            except OSError:
                pass


class FaultProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.blackholed = threading.Event()
        self._cut: set[str] = set()
        self._stall: dict[str, float] = {}
        self._lock = threading.Lock()
        self.log: list[tuple[float, str, str]] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- faults ----------------------------------------------------------------------------------
    def cut(self, service: str) -> None:
        with self._lock:
            self._cut.add(self._known(service))

    def restore(self, service: str) -> None:
        with self._lock:
            self._cut.discard(self._known(service))

    def stall(self, service: str, seconds: float) -> None:
        """Hold each request of ``service`` for ``seconds`` (0: no stall)."""
        with self._lock:
            self._stall[self._known(service)] = seconds

    def forwarded(self, target: str, since: float, until: float = float("inf")) -> list[tuple[float, str]]:
        """(when, queue or table) of the requests whose target ends with ``target`` forwarded in
        [since, until)."""
        with self._lock:
            return [(at, queue) for at, name, queue in self.log if since <= at < until and name.endswith(target)]

    @staticmethod
    def _known(service: str) -> str:
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r}; one of {SERVICES}")
        return service

    def _dropping(self, service: str) -> bool:
        with self._lock:
            return self.blackholed.is_set() or service in self._cut

    # --- plumbing --------------------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            for end in (client, upstream):  # pieces go on at once, never held for a delayed ACK (Nagle)
                end.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Connection(client, upstream)
            threading.Thread(target=self._requests, args=(conn,), daemon=True).start()
            threading.Thread(target=self._responses, args=(conn,), daemon=True).start()

    def _requests(self, conn: _Connection) -> None:
        """Client to emulator, one whole request at a time."""
        buffer = b""
        try:
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = conn.client.recv(65536)
                    if not data or len(buffer) > MAX_HEADER_BYTES:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                target, length, chunked = parse_head(head)
                if chunked:
                    raise ValueError("chunked request bodies are not supported by the fault proxy")
                while len(buffer) < length:
                    data = conn.client.recv(65536)
                    if not data:
                        return
                    buffer += data
                request, buffer = head + b"\r\n\r\n" + buffer[:length], buffer[length:]
                self._forward(conn, service_of(target), target, request, length)
        except (OSError, ValueError):
            pass
        finally:
            conn.close()

    def _forward(self, conn: _Connection, service: str, target: str, request: bytes, length: int) -> None:
        conn.service = service
        with self._lock:
            delay = self._stall.get(service, 0.0)
        if delay and not self._dropping(service):
            time.sleep(delay)  # the fault itself: a store this slow
        if self._dropping(service):
            return
        with self._lock:
            self.log.append((time.monotonic(), target, _resource(request[len(request) - length:], service)))
        conn.upstream.sendall(request)

    def _responses(self, conn: _Connection) -> None:
        """Emulator to client, as it comes; dropped while the connection's service is cut."""
        try:
            while True:
                data = conn.upstream.recv(65536)
                if not data:
                    break
                if not self._dropping(conn.service):
                    conn.client.sendall(data)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self._closed = True
        self._server.close()
