"""moto's server, with DynamoDB requests made atomic as they are in AWS.

moto's server answers requests on threads, and its DynamoDB backend reads, checks a condition and writes
without a lock, so two concurrent conditional UpdateItems can both pass (measured: 11 of 50 concurrent
uses of a 10-use nonce succeeded). DynamoDB itself applies each conditional write atomically, and our
correctness rests on that (claims, nonces, optimistic locking), so this wrapper serialises DynamoDB
requests; other services keep their concurrency. Run as ``python -m local.moto_app -H host -p port``.

It also answers DynamoDB faster: moto serialises every attribute value by walking the 10-member
AttributeValue shape of the service model, about 4 ms per returned item here, and with the DynamoDB lock
that bounds the whole system (a 1,000-message chaos run spent half the emulator's time on it). A value
that is already plain JSON (strings, numbers, booleans, null, string/number sets, maps and lists of those)
goes out as it is; binary values still take moto's path, which base64-encodes them.

And it does less per request than moto's server does (profiles in ``bench/results/profiles/``):
- connections are kept alive. Werkzeug's development server closes every connection, so every AWS call
  of every process paid a TCP connect, and the emulator a new thread, per request (a quarter of the
  runner's CPU). Each request's body is drained before the next one is read (what werkzeug feared).
- no access log line per request (a fifth of the emulator's CPU went to formatting and writing it);
  errors are still logged.
- moto's list of its own modules is computed once: its dispatcher listed and stat'ed its package
  directory (about 150 entries) on every request, under a lock, to match the Host header against it.
- the names of a response class's methods are computed once per class: moto looked them up with
  ``inspect.getmembers`` on every request (5% of the emulator's CPU).
- moto's Query no longer sorts the whole table, its update-expression validator no longer walks the tree
  quadratically, its random strings are drawn at once, and DynamoDB's item operations are parsed and
  answered as the JSON they are, not through botocore's service model (``local/moto_speedups.py``).
What remains is moto's own work: the operations themselves, and SQS's requests, still parsed and
answered through the service model.
"""
from __future__ import annotations

import argparse
import functools
import io
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto import backends
from moto.core import responses, serialize
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple
from werkzeug.wsgi import LimitedStream

from local import moto_speedups

DYNAMODB_TARGET_PREFIX = "DynamoDB_"  # X-Amz-Target of every DynamoDB JSON API call
_JSON_KINDS = frozenset({"S", "N", "BOOL", "NULL", "SS", "NS"})  # AttributeValue kinds with no bytes inside


def plain_attribute(value: Any) -> bool:
    """An AttributeValue whose wire form is the value itself (no binary anywhere inside)."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    ((kind, inner),) = value.items()
    if kind in _JSON_KINDS:
        return True
    if kind == "M":
        return isinstance(inner, dict) and all(plain_attribute(v) for v in inner.values())
    if kind == "L":
        return isinstance(inner, list) and all(plain_attribute(v) for v in inner)
    return False


def install_fast_attribute_values() -> None:
    """Serialise plain AttributeValues directly (idempotent; the moto server process only)."""
    original = serialize.BaseJSONSerializer._serialize_type_structure
    if getattr(original, "abaco_fast", False):
        return

    def fast(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if key and shape.name == "AttributeValue" and plain_attribute(value):
            serialized[self.get_serialized_name(shape, key)] = value
            return
        original(self, serialized, value, shape, key)

    fast.abaco_fast = True  # type: ignore[attr-defined]
    serialize.BaseJSONSerializer._serialize_type_structure = fast  # type: ignore[method-assign]


def _at_end_of_stream() -> socket.socket:
    """A socket that is always readable and always at its end (its peer is closed)."""
    ours, theirs = socket.socketpair()
    theirs.close()
    return ours


_DRAINED = _at_end_of_stream()


class KeepAliveHandler(MotoRequestHandler):
    """Moto's request handler without werkzeug's ``Connection: close`` and without its access log.

    The request body is read through a stream limited to its Content-Length and whatever the application
    left unread is drained afterwards, so the next request on the connection starts where it should. A
    chunked request (or one asking to close) gets the connection closed, as before.
    Werkzeug's own drain (after every response it reads the socket until 10 ms pass without data: on a
    kept-alive connection that would swallow the next request) is pointed at an empty stream.

    Nagle's algorithm is off: werkzeug writes the status line and headers, then the body, in separate
    sends. On a kept-alive connection the body waited for the client's ACK of the headers, which the
    client delays by 40 ms (delayed ACK): every AWS request took about 45 ms instead of about 2
    (``tests/integration/test_emulator_keepalive.py`` times it against a fresh connection's)."""

    disable_nagle_algorithm = True  # socketserver.StreamRequestHandler sets TCP_NODELAY in setup()

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        length = self.headers.get("Content-Length", "0")  # without one (nor chunks) a request has no body
        if length.isdigit() and not self.headers.get("Transfer-Encoding"):
            environ["wsgi.input"] = self._body = LimitedStream(self.rfile, int(length))
            self._real = (self.rfile, self.connection)
            self.rfile, self.connection = io.BytesIO(), _DRAINED  # what werkzeug's drain reads
        return environ

    def run_wsgi(self) -> None:
        self._body: LimitedStream | None = None
        self._real: tuple[Any, Any] | None = None
        try:
            super().run_wsgi()
        finally:
            if self._real is not None:
                self.rfile, self.connection = self._real
        if self._body is None:
            self.close_connection = True
        else:
            self._body.exhaust()

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == "connection" and value.lower() == "close":
            return  # werkzeug closes every connection; close_connection still follows the request
        super().send_header(keyword, value)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


def install_cached_module_list() -> None:
    """moto's ``list_of_moto_modules`` lists its package directory on every request: compute it once."""
    original = backends.list_of_moto_modules
    if getattr(original, "cache_info", None) is not None:
        return
    backends.list_of_moto_modules = functools.lru_cache(maxsize=1)(lambda: frozenset(original()))  # type: ignore[assignment]


def install_cached_method_names() -> None:
    """moto lists a response class's methods (``inspect.getmembers``) on every request: once per class."""
    original = responses.method_names_from_class
    if getattr(original, "cache_info", None) is not None:
        return
    responses.method_names_from_class = functools.lru_cache(maxsize=None)(original)  # type: ignore[assignment]


class AtomicDynamoDB:
    """WSGI middleware: one DynamoDB request at a time (the response body is produced inside the lock).

    The request's body is read before the lock is taken: a client that stops between sending its headers
    and its body (botocore sends them apart; a runner SIGSTOPped by a chaos test, a process swapped out)
    would otherwise hold every other DynamoDB request until it resumed (CI saw a GetItem time out four
    times, 40 s, behind one paused runner)."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith(DYNAMODB_TARGET_PREFIX):
            return self._app(environ, start_response)
        stream, length = environ["wsgi.input"], environ.get("CONTENT_LENGTH", "")
        if length.isdigit():
            environ["wsgi.input"] = io.BytesIO(stream.read(int(length)))
        elif environ.get("wsgi.input_terminated"):  # chunked: the stream ends with the body
            environ["wsgi.input"] = io.BytesIO(stream.read())
        with self._lock:
            return list(self._app(environ, start_response))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=4566)
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    install_fast_attribute_values()
    install_cached_module_list()
    install_cached_method_names()
    moto_speedups.install_all()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, AtomicDynamoDB(app), threaded=True, request_handler=KeepAliveHandler)


if __name__ == "__main__":
    main()
