"""Large binary messages through a presigned S3 upload, used by ``send_binary_message`` transparently.

API Gateway and Lambda refuse bodies over 10 MB and 6 MB, so a large message goes in three steps: ask the API
for an upload URL (``POST /actors/{id}/messages/uploads`` with the size and SHA-256), PUT the bytes straight to
that URL (S3 checks the length and checksum), then post the message with ``X-Abaco-Upload: <upload_id>`` and
no body. Bodies up to ``DIRECT_MAX_BYTES`` (``ABACO_DIRECT_UPLOAD_BYTES``) are posted directly, as before; a
server without the upload route (older, or TACC's Abaco) also gets the direct post.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import requests

DIRECT_MAX_BYTES = 5 * 1024 * 1024  # below API Gateway's 10 MB and Lambda's 6 MB, with room for headers
UPLOAD_HEADER = "X-Abaco-Upload"
CHUNK = 1024 * 1024
PUT_TIMEOUT = 600.0  # seconds for one PUT of up to the API's size limit


def direct_limit() -> int:
    value = os.environ.get("ABACO_DIRECT_UPLOAD_BYTES", "")
    return int(value) if value.strip().isdigit() else DIRECT_MAX_BYTES


class Body:
    """A binary body of known size and hash that can be read from the start more than once."""

    def __init__(self, source: bytes | IO[bytes] | str | Path) -> None:
        self._path: Path | None = None
        self._bytes: bytes | None = None
        if isinstance(source, (str, Path)):
            self._path = Path(source)
            self.size = self._path.stat().st_size
        elif isinstance(source, (bytes, bytearray, memoryview)):
            self._bytes = bytes(source)
            self.size = len(self._bytes)
        elif hasattr(source, "read"):
            self._bytes = source.read()  # a stream of unknown length: read once, into memory
            self.size = len(self._bytes)
        else:
            raise ValueError("send_binary_message needs bytes, a file object or a path")
        self.sha256 = self._hash()

    def chunks(self) -> Iterator[bytes]:
        if self._bytes is not None:
            yield self._bytes
            return
        assert self._path is not None
        with open(self._path, "rb") as handle:
            yield from iter(lambda: handle.read(CHUNK), b"")

    def open(self) -> IO[bytes] | bytes:
        """What ``requests`` should send: the bytes, or the open file (streamed)."""
        if self._bytes is not None:
            return self._bytes
        assert self._path is not None
        return open(self._path, "rb")

    def _hash(self) -> str:
        digest = hashlib.sha256()
        for chunk in self.chunks():
            digest.update(chunk)
        return digest.hexdigest()


def put(ticket: dict[str, Any], body: Body, session: requests.Session | None = None) -> None:
    """PUT the body to the presigned URL of ``ticket`` (what the uploads route answered)."""
    data = body.open()
    try:
        response = (session or requests).request(ticket.get("method", "PUT"), ticket["url"], data=data,
                                                 headers=ticket.get("headers") or {}, timeout=PUT_TIMEOUT)
    finally:
        if hasattr(data, "close"):
            data.close()
    if response.status_code >= 300:
        raise requests.HTTPError(f"upload to S3 failed: {response.status_code} {response.text[:300]}",
                                 response=response)
