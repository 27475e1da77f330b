"""Large binary messages, streamed from the HTTP request straight to the payloads bucket.

Chalice's local gateway would base64-encode the body and hand the view a decoded copy (three or four
copies of a 100 MB message in the API process). For ``POST .../messages`` with an
``application/octet-stream`` body above ``STREAM_MIN_BYTES`` the WSGI adapter calls ``stage`` instead:
the body goes to S3 in 8 MiB parts, and the pointer is offered to the view through
``chalicelib.staging``. Smaller bodies take the same path as in AWS (the view uploads them itself).
"""
from __future__ import annotations

import re
import secrets
from typing import Any

from chalicelib import resources
from chalicelib.backend import get_backend
from chalicelib.payloads import Pointer

STREAM_MIN_BYTES = 1024 * 1024  # bodies above this skip the gateway; below it the Lambda path is exercised
_MESSAGES_PATH = re.compile(r"^(?:/v3)?/actors/[^/]+/messages/?$")
BINARY = "application/octet-stream"


def is_message_post(method: str, environ: dict[str, Any]) -> bool:
    return method == "POST" and bool(_MESSAGES_PATH.match(environ.get("PATH_INFO", "")))


def wants_streaming(method: str, environ: dict[str, Any], length: int) -> bool:
    content_type = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
    return content_type == BINARY and length > STREAM_MIN_BYTES and is_message_post(method, environ)


def stage(environ: dict[str, Any], length: int) -> Pointer:
    """Upload the request body (exactly ``length`` bytes) and return its pointer."""
    key = f"{resources.PAYLOAD_KEY_PREFIX}staged/{secrets.token_hex(16)}"
    return get_backend().payloads.put_stream(key, environ["wsgi.input"], length)


def discard(pointer: Pointer) -> None:
    """The view refused the request: nothing points at the object any more."""
    get_backend().payloads.delete(pointer.key)
