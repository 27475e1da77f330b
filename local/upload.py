"""Large binary messages, streamed from the HTTP request straight to the payloads bucket.

Chalice's local gateway would base64-encode the body and hand the view a decoded copy (three or four
copies of a 100 MB message in the API process). For ``POST .../messages`` with an
``application/octet-stream`` body above ``STREAM_MIN_BYTES`` the WSGI adapter calls ``stage`` instead:
the body goes to S3 in 8 MiB parts, and the pointer is offered to the view through
``chalicelib.edge.staging``. Smaller bodies take the same path as in AWS (the view uploads them itself).
"""
from __future__ import annotations

import re
import secrets
import urllib.parse
from typing import Any

from chalicelib.adapters.payloads import Pointer
from chalicelib.domain.access import Level, Scope
from chalicelib.domain.errors import AbacoError, BadRequest
from chalicelib.edge import guard, limits
from chalicelib.wiring import resources
from chalicelib.wiring.backend import get_backend
from chalicelib.wiring.settings import Settings

STREAM_MIN_BYTES = 1024 * 1024  # bodies above this skip the gateway; below it the Lambda path is exercised
# /actors/{id}/messages in each spelling (chalicelib/edge/paths.py); v2 is a reserved alias word
_MESSAGES_PATH_ID = re.compile(r"^(?:/v3)?/actors(?:/v2)?/([^/]+)/messages/?$")
BINARY = "application/octet-stream"


def is_message_post(method: str, environ: dict[str, Any]) -> bool:
    return method == "POST" and bool(_MESSAGES_PATH_ID.match(environ.get("PATH_INFO", "")))


def _content_type(environ: dict[str, Any]) -> str:
    return (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()


def refuse_early(method: str, environ: dict[str, Any], length: int, settings: Settings) -> AbacoError | None:
    """A body over its limit is refused from its Content-Length alone, before it is read. A binary
    message gets Abaco's own 400; any other body the 413 the request guard would give."""
    if _content_type(environ) == BINARY and is_message_post(method, environ):
        if length > settings.max_content_length:
            return BadRequest(f"Message exceeds max content length of: {settings.max_content_length}")
        return None
    try:
        limits.check_body(_content_type(environ), length, settings.max_body_bytes, settings.max_content_length)
    except AbacoError as exc:
        return exc
    return None


def wants_streaming(method: str, environ: dict[str, Any], length: int) -> bool:
    return _content_type(environ) == BINARY and length > STREAM_MIN_BYTES and is_message_post(method, environ)


def authorise(environ: dict[str, Any], headers: dict[str, str]) -> None:
    """The message POST's own requirement (EXECUTE on the actor), checked before the body is read."""
    actor_id = _MESSAGES_PATH_ID.match(environ.get("PATH_INFO", ""))
    query = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    guard.precheck(headers, query, Scope.ACTOR, Level.EXECUTE, {"actor_id": actor_id.group(1) if actor_id else ""})


def stage(environ: dict[str, Any], length: int) -> Pointer:
    """Upload the request body (exactly ``length`` bytes) and return its pointer."""
    key = f"{resources.PAYLOAD_KEY_PREFIX}staged/{secrets.token_hex(16)}"
    return get_backend().payloads.put_stream(key, environ["wsgi.input"], length)


def discard(pointer: Pointer) -> None:
    """The view refused the request: nothing points at the object any more."""
    get_backend().payloads.delete(pointer.key)
