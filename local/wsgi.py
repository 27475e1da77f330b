"""Serve the Chalice app through a WSGI server (gunicorn), over Chalice's own local API Gateway.

``chalice local`` answers keep-alive clients slowly (Nagle, ~44 ms a response); the same app object behind
gunicorn serves thousands of requests per second (architecture decision 9).
"""
from __future__ import annotations

import base64
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

from chalice.config import Config
from chalice.local import LambdaEventConverter, LocalGateway, LocalGatewayException, MatchResult, RouteMatcher

from chalicelib.domain import errors
from chalicelib.edge import http, paths, staging
from chalicelib.edge.http import CORS, error_response, not_found
from chalicelib.wiring.settings import get_settings
from local import upload

# A refused body up to this size is read and dropped before the answer (``_drain``); a larger one is cut off.
DRAIN_MAX_BYTES = 16 * 1024 * 1024
DRAIN_CHUNK_BYTES = 65_536
_REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
            403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
            413: "Payload Too Large", 415: "Unsupported Media Type", 500: "Internal Server Error",
            503: "Service Unavailable", 504: "Gateway Timeout"}


class ChaliceWSGI:
    """A WSGI application that hands each request to Chalice's LocalGateway (one per thread)."""

    def __init__(self, app_object: Any) -> None:
        self._app = app_object
        self._config = Config(chalice_stage="local", config_from_disk={"lambda_timeout": 900})
        self._local = threading.local()
        self._matcher = SegmentMatcher(list(self._app.routes))

    def _gateway(self) -> ContextGateway:
        gateway = getattr(self._local, "gateway", None)
        if gateway is None:
            gateway = self._local.gateway = ContextGateway(self._app, self._config)
            gateway.event_converter = LambdaEventConverter(self._matcher, self._app.api.binary_types)
        return gateway

    def _route(self, method: str, path: str) -> tuple[http.View | None, dict[str, str]]:
        """The registered view this request reaches (None when no route matches) and its path parameters."""
        try:
            matched = self._matcher.match_route(path)
        except ValueError:
            return None, {}
        return http.view_of(matched.route, method), dict(matched.captured)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        # Repeated slashes merged first, as nginx did in front of Abaco (chalicelib/edge/paths.py)
        environ["PATH_INFO"] = paths.merge_slashes(environ.get("PATH_INFO", ""))
        path = paths.merge_slashes(request_path(environ))
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        headers = _headers(environ)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        view, params = self._route(method, path)
        refused = upload.refuse_early(view, environ, length, get_settings())
        if refused is not None:  # before reading a byte of the body (it may be too large to read at all)
            return _send_error(start_response, refused, close=True)
        if view is not None and upload.wants_streaming(view, environ, length):
            return self._staged(environ, start_response, (method, path, headers, length), view, params)
        body = environ["wsgi.input"].read(length) if length > 0 else None
        return _send(start_response, *self._dispatch(method, path, headers, body))

    def _staged(self, environ: dict[str, Any], start_response: Callable[..., Any],
                request: tuple[str, str, dict[str, str], int], view: http.View,
                params: dict[str, str]) -> Iterable[bytes]:
        """A large binary message: body to S3 first, then the view with the pointer in the request's context
        (``chalicelib.edge.staging``).

        The caller is authorised first, with the view's own requirement (without using up a nonce), so
        nobody uploads without the right to send the message."""
        method, path, headers, length = request
        try:
            upload.authorise(view, params, environ, headers)
            pointer = upload.stage(environ, length)
        except errors.AbacoError as exc:
            _drain(environ, length)
            return _send_error(start_response, exc, close=True)
        context, offer = staging.context_for(pointer)
        status, out_headers, payload = self._dispatch(method, path, headers, b"", context)
        if not offer.taken or 400 <= status < 500:  # refused: nothing will ever read the object
            upload.discard(pointer)
        return _send(start_response, status, out_headers, payload)

    def _dispatch(self, method: str, path: str, headers: dict[str, str], body: bytes | None,
                  context: dict[str, Any] | None = None) -> tuple[int, dict[str, str], bytes]:
        try:
            response = self._gateway().handle_with_context(method, path, headers, body, context or {})
        except LocalGatewayException as exc:
            if exc.CODE == 403 and b"Missing Authentication Token" in (exc.body or b""):
                return _not_found()  # no such route: a 404 in the envelope, as Flask gave
            return exc.CODE, dict(exc.headers), exc.body or b""
        payload = response.get("body") or b""
        if response.get("isBase64Encoded"):
            payload = base64.b64decode(payload)
        elif isinstance(payload, str):
            payload = payload.encode("utf-8")
        out_headers = dict(response.get("headers") or {})
        for name, values in (response.get("multiValueHeaders") or {}).items():
            out_headers[name] = ", ".join(values)
        return response["statusCode"], out_headers, payload


class ContextGateway(LocalGateway):
    """Chalice's local gateway that can add entries to a request's ``requestContext`` (the view reads them
    as ``request.context``): what the edge did before the app ran (a staged body) rides in the request
    itself. One per thread, as the gateway is; the entries last exactly one call."""

    _context: dict[str, Any] = {}

    def handle_with_context(self, method: str, path: str, headers: dict[str, str], body: bytes | None,
                            context: dict[str, Any]) -> Any:
        self._context = context
        try:
            return self.handle_request(method=method, path=path, headers=headers, body=body)
        finally:
            self._context = {}

    def _generate_lambda_event(self, method: str, path: str, headers: Any, body: bytes | None) -> Any:
        event = super()._generate_lambda_event(method, path, headers, body)
        event["requestContext"].update(self._context)
        return event


class SegmentMatcher(RouteMatcher):
    """Chalice's route matcher run on the still percent-encoded path, each captured segment decoded after.

    Matching the decoded path (WSGI's PATH_INFO) split an identifier holding ``/`` into two segments and
    cut the path at a ``?`` or ``#`` in it (a 405 or 404 for the wrong route); API Gateway routes on the
    encoded path and hands views decoded parameters, and so does this.
    """

    def match_route(self, url: str) -> MatchResult:
        matched = super().match_route(url)
        captured = {name: urllib.parse.unquote(value) for name, value in matched.captured.items()}
        return MatchResult(matched.route, captured, matched.query_params)


def request_path(environ: dict[str, Any]) -> str:
    """The path as the client sent it (percent-encoded): gunicorn's RAW_URI, else PATH_INFO re-encoded."""
    raw = environ.get("RAW_URI")
    if raw:
        path = urllib.parse.urlsplit(raw).path if "://" in raw else raw.split("?", 1)[0].split("#", 1)[0]
    else:
        path = urllib.parse.quote(environ.get("PATH_INFO", "").encode("latin-1"), safe="/")
    return path or "/"


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items()
               if key.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    if environ.get("CONTENT_LENGTH"):
        headers["content-length"] = environ["CONTENT_LENGTH"]
    return headers


def _send(start_response: Callable[..., Any], status: int, headers: dict[str, str], body: bytes) -> list[bytes]:
    out = [(k, str(v)) for k, v in headers.items() if k.lower() not in ("content-length", "transfer-encoding")]
    out.append(("Content-Length", str(len(body))))
    start_response(f"{status} {_REASONS.get(status, 'Status')}", out)
    return [body]


def _not_found() -> tuple[int, dict[str, str], bytes]:
    """No route (before the app is called): the catch-all's 404 (``chalicelib.edge.http.not_found``)."""
    response = not_found()
    body = response.body if isinstance(response.body, bytes) else str(response.body).encode("utf-8")
    return 404, {**response.headers, **CORS.get_access_control_headers()}, body


def _drain(environ: dict[str, Any], length: int) -> None:
    """Read and drop what is left of a refused request's body, up to ``DRAIN_MAX_BYTES``. Closing a socket
    with unread data makes the kernel send a reset, which can destroy the answer before the client reads
    it (the client, still sending, sees "connection reset" instead of the 400)."""
    stream, remaining = environ["wsgi.input"], min(length, DRAIN_MAX_BYTES)
    while remaining > 0:
        chunk = stream.read(min(DRAIN_CHUNK_BYTES, remaining))
        if not chunk:
            return
        remaining -= len(chunk)


def _send_error(start_response: Callable[..., Any], exc: errors.AbacoError, close: bool = False) -> list[bytes]:
    """An error in Abaco's envelope, for requests refused before they reach the app."""
    response = error_response(exc)
    headers = dict(response.headers)
    if close:  # the unread body must not be taken for the next request on this connection
        headers["Connection"] = "close"
    body = response.body if isinstance(response.body, bytes) else str(response.body).encode("utf-8")
    return _send(start_response, response.status_code, headers, body)


def application() -> ChaliceWSGI:
    """Gunicorn entry point: ``gunicorn 'local.wsgi:application()'``.

    The security settings are checked before serving: a bad key or ``none`` in production stops the
    server with a clear message instead of failing every request.
    """
    from app import app
    from chalicelib.identity.auth import ConfigurationError, check_configuration
    from chalicelib.wiring import logconfig
    from chalicelib.wiring.settings import get_settings

    logconfig.configure("api", get_settings().log_format)
    try:
        check_configuration(get_settings())
    except ConfigurationError as exc:
        sys.stderr.write(f"abaco: refusing to start the API: {exc}\n")
        sys.stderr.flush()
        raise SystemExit(3) from exc
    return ChaliceWSGI(app)
