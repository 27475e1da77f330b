"""Large binary messages, streamed from the HTTP request straight to the payloads bucket.

Chalice's local gateway would base64-encode the body and hand the view a decoded copy (three or four
copies of a 100 MB message in the API process). For a view that declares it takes a staged body
(``chalicelib.edge.staging.accepts_staged``: ``POST .../messages``), an ``application/octet-stream``
body above ``STREAM_MIN_BYTES`` goes to S3 in 8 MiB parts before the view runs, and the pointer rides in
the request's context. Smaller bodies take the same path as in AWS (the view uploads them itself).

Which route a request reaches, and what that route requires of its caller, are asked of the app's own
route table and the view's ``@needs`` (``chalicelib.edge.http.view_of``): never a pattern of the URL
here, never a restated permission.
"""
from __future__ import annotations

import secrets
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.adapters.payloads import Pointer
from chalicelib.domain.access import required
from chalicelib.domain.errors import AbacoError, BadRequest
from chalicelib.edge import guard, limits, staging
from chalicelib.wiring import resources
from chalicelib.wiring.backend import get_backend
from chalicelib.wiring.settings import Settings

STREAM_MIN_BYTES = 1024 * 1024  # bodies above this skip the gateway; below it the Lambda path is exercised
BINARY = "application/octet-stream"
View = Callable[..., Any]


def _content_type(environ: dict[str, Any]) -> str:
    return (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()


def refuse_early(view: View | None, environ: dict[str, Any], length: int, settings: Settings) -> AbacoError | None:
    """A body over its limit is refused from its Content-Length alone, before it is read. A binary
    message gets Abaco's own 400; any other body the 413 the request guard would give."""
    if _content_type(environ) == BINARY and staging.accepts(view):
        if length > settings.max_content_length:
            return BadRequest(f"Message exceeds max content length of: {settings.max_content_length}")
        return None
    try:
        limits.check_body(_content_type(environ), length, settings.max_body_bytes, settings.max_content_length)
    except AbacoError as exc:
        return exc
    return None


def wants_streaming(view: View | None, environ: dict[str, Any], length: int) -> bool:
    return _content_type(environ) == BINARY and length > STREAM_MIN_BYTES and staging.accepts(view)


def authorise(view: View, params: Mapping[str, str], environ: dict[str, Any], headers: dict[str, str]) -> None:
    """The view's own requirement (its ``@needs``), checked before the body is read."""
    scope, level = required(view)
    query = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    guard.precheck(headers, query, scope, level, params)


def stage(environ: dict[str, Any], length: int) -> Pointer:
    """Upload the request body (exactly ``length`` bytes) and return its pointer."""
    key = f"{resources.PAYLOAD_KEY_PREFIX}staged/{secrets.token_hex(16)}"
    return get_backend().payloads.put_stream(key, environ["wsgi.input"], length)


def discard(pointer: Pointer) -> None:
    """The view refused the request: nothing points at the object any more."""
    get_backend().payloads.delete(pointer.key)
