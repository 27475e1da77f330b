"""A loopback HTTP proxy in front of the moto server that counts AWS requests by operation.

Idle cost is "AWS requests per minute", and the emulator keeps no request log by operation, so the
runner under test is pointed at this proxy instead of the emulator. Each request is forwarded over a
keep-alive connection (one per proxy thread) and counted under ``service.Operation`` taken from the
``X-Amz-Target`` header (DynamoDB and SQS JSON protocol) or the ``Action`` parameter (query protocol).
``detailed`` also counts them by table or queue (``dynamodb.GetItem abaco-x-actors``), for tests that
pin down what one API request reads and writes.
"""
from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UPSTREAM_TIMEOUT_SECONDS = 60  # longer than the longest SQS long poll (20 s)
_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "te"}
_TARGET_SERVICES = {"DynamoDB_20120810": "dynamodb", "AmazonSQS": "sqs"}


def operation(headers: dict[str, str], body: bytes, path: str) -> str:
    """``dynamodb.GetItem``, ``sqs.ReceiveMessage``, ... for one request (header names lower case)."""
    target = headers.get("x-amz-target", "")
    if "." in target:
        prefix, op = target.split(".", 1)
        return f"{_TARGET_SERVICES.get(prefix, prefix)}.{op}"
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    form = urllib.parse.parse_qs(body.decode("utf-8", errors="replace")) if body else {}
    action = (form.get("Action") or query.get("Action") or [""])[0]
    if action:
        return f"query.{action}"
    return "other.HTTP"


def resource(body: bytes) -> str:
    """The table or queue a JSON-protocol request names ("" when it names none, or is not JSON)."""
    if not body.startswith(b"{"):
        return ""
    try:
        payload = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(payload, dict):
        return ""
    if payload.get("TableName"):
        return str(payload["TableName"])
    return str(payload.get("QueueUrl") or payload.get("QueueName") or "").rsplit("/", 1)[-1]


class CountingProxy:
    """Start with ``start()``; ``snapshot()`` gives the counts so far; ``stop()`` closes it."""

    def __init__(self, upstream_port: int, port: int = 0) -> None:
        self.upstream_port = upstream_port
        self.counts: Counter[str] = Counter()
        self.detailed: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_class(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="counting-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> CountingProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def count(self, op: str, where: str = "") -> None:
        with self._lock:
            self.counts[op] += 1
            self.detailed[f"{op} {where}".strip()] += 1

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.counts)

    def detailed_snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.detailed)

    def before(self, op: str, request: bytes) -> object:
        """Called before a request is forwarded; what it returns is given to ``observe`` (a hook for the
        cost model's proxy, ``bench/cost_wire.py``, which reads an item before it is written)."""
        return None

    def observe(self, op: str, request: bytes, response: bytes, context: object = None) -> None:
        """Every forwarded request with its answer; a hook for ``RecordingProxy`` (counting needs neither)."""


class RecordingProxy(CountingProxy):
    """Also keeps each request's operation, body and answer, so a test can tell which requests are about
    one execution (the runner's duties and idle long polls run alongside)."""

    def __init__(self, upstream_port: int, port: int = 0) -> None:
        super().__init__(upstream_port, port)
        self.requests: list[tuple[str, str, str]] = []

    def observe(self, op: str, request: bytes, response: bytes, context: object = None) -> None:
        with self._lock:
            self.requests.append((op, request.decode("utf-8", "replace"), response.decode("utf-8", "replace")))

    def recorded(self) -> list[tuple[str, str, str]]:
        with self._lock:
            return list(self.requests)


def _handler_class(proxy: CountingProxy) -> type[BaseHTTPRequestHandler]:
    local = threading.local()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body are two writes: with Nagle on, a kept-alive answer's body waited 40 ms for the
        # client's delayed ACK of its headers (local/moto_app.py KeepAliveHandler says more).
        disable_nagle_algorithm = True

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
            op = operation({k.lower(): v for k, v in headers.items()}, body, self.path)
            proxy.count(op, resource(body))
            context = proxy.before(op, body)
            status, reason, out_headers, payload = _upstream(local, proxy.upstream_port, self.command,
                                                             self.path, body, headers)
            proxy.observe(op, body, payload, context)
            self.send_response_only(status, reason)
            for name, value in out_headers:
                if name.lower() not in _HOP_HEADERS and name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: thousands of requests per minute would flood the bench output."""

    return Handler


def _upstream(local: threading.local, port: int, method: str, path: str, body: bytes,
              headers: dict[str, str]) -> tuple[int, str, list[tuple[str, str]], bytes]:
    """One request on this thread's keep-alive connection; reconnect once if the emulator closed it."""
    for attempt in (1, 2):
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=UPSTREAM_TIMEOUT_SECONDS)
        try:
            conn.request(method, path, body=body or None, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            return response.status, response.reason, response.getheaders(), payload
        except (http.client.HTTPException, OSError):
            conn.close()
            local.conn = None
            if attempt == 2:
                raise
    raise AssertionError("unreachable")
