"""Large messages through S3: ask for an upload URL, PUT the bytes to S3, then post the message that names it.

API Gateway stops request bodies at 10 MB and Lambda at 6 MB, so a binary message larger than that cannot
travel through the API in AWS. ``POST /actors/{id}/messages/uploads`` with the body's ``size`` and
``sha256`` (hex) answers a presigned PUT URL for a fresh object under the payloads prefix (the bucket's
lifecycle rule expires what is never used); the client PUTs the bytes straight to S3, then posts the
message with the header ``X-Abaco-Upload: <upload_id>`` and no body. The same permission (EXECUTE on the
actor), the same size limit (``ABACO_MAX_CONTENT_LENGTH``) and an expiry (``ABACO_UPLOAD_URL_SECONDS``)
hold as for a direct POST. The local stack serves the very same flow (the URL points at the emulator).

The upload id carries what the message needs (a random token, the size, the hash); the object key binds it
to the tenant and actor, so an id posted to another actor names no object. At message time the object is
moved (server-side copy, then delete) to an ordinary payload key: an upload is used once, and the execution
owns its payload as with any other binary message. S3 checks the length and checksum at upload (both are
signed into the URL); the runner checks size and hash again when it downloads the payload.
"""
from __future__ import annotations

import re
import secrets
from typing import Any

from chalicelib.adapters import payloads
from chalicelib.adapters.payloads import Pointer
from chalicelib.domain import bodies, inputs
from chalicelib.domain.errors import BadRequest
from chalicelib.domain.models import Actor
from chalicelib.domain.responses import MessageUploadResponse, made
from chalicelib.wiring.backend import Backend
from chalicelib.wiring.settings import DEFAULT_MAX_CONTENT_LENGTH

UPLOAD_HEADER = "X-Abaco-Upload"
_UPLOAD_ID = re.compile(r"^([0-9a-f]{32})\.([1-9][0-9]{0,11})\.([0-9a-f]{64})$")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def _key(actor: Actor, upload_id: str) -> str:
    return payloads.upload_key(actor.tenant, actor.id, upload_id)


def _size(value: Any, limit: int) -> int:
    size = inputs.as_int(value, "size", "Invalid upload request")
    if size is None or size < 1:
        raise BadRequest("size is required: the number of bytes of the message (at least 1).")
    if size > limit:
        raise BadRequest(f"Message exceeds max content length of: {limit}")
    return size


def _sha256(value: Any) -> str:
    sha256 = str(value or "")
    if not _SHA256.match(sha256):
        raise BadRequest("sha256 is required: the SHA-256 of the message as 64 hexadecimal digits.")
    return sha256


# The document's size: 1 to the default ABACO_MAX_CONTENT_LENGTH (a deployment may set it lower).
assert DEFAULT_MAX_CONTENT_LENGTH == 500_000_000, "the pattern below spells the limit"
Size = bodies.checked(int, lambda v, i: _size(v, bodies.context(i, "limit")), {
    "description": "bytes, 1 to ABACO_MAX_CONTENT_LENGTH (default 500,000,000)", "oneOf": [
        {"type": "integer", "minimum": 1, "maximum": DEFAULT_MAX_CONTENT_LENGTH},
        {"type": "string", "pattern": r"^\s*\+?0*([1-9][0-9]{0,7}|[1-4][0-9]{8}|500000000)\s*$"}]})
Sha256 = bodies.checked(str, lambda v, _i: _sha256(v), {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"})


class MessageUploadInput(bodies.Body):
    size: Size
    sha256: Sha256


def request(backend: Backend, actor: Actor, fields: dict[str, Any]) -> dict[str, Any]:
    """A presigned PUT for a body of ``size`` bytes with this ``sha256``."""
    limit = backend.settings.max_content_length
    given = MessageUploadInput.of(fields, limit=limit)
    size, sha256 = given.size, given.sha256
    upload_id = f"{secrets.token_hex(16)}.{size}.{sha256.lower()}"
    expires = backend.settings.upload_url_seconds
    url, headers = backend.payloads.presign_put(_key(actor, upload_id), size, sha256.lower(), expires)
    return made(MessageUploadResponse, upload_id=upload_id, url=url, method="PUT", headers=headers,
                expires_in=expires, max_bytes=limit, message_header=UPLOAD_HEADER)


def take(backend: Backend, actor: Actor, upload_id: str) -> Pointer:
    """The uploaded body as a payload pointer of a new message; the upload itself is gone afterwards."""
    match = _UPLOAD_ID.match(upload_id.strip())
    if not match:
        raise BadRequest(f"{UPLOAD_HEADER} must be an upload_id returned by POST .../messages/uploads.")
    size, sha256 = int(match.group(2)), match.group(3)
    source = _key(actor, upload_id.strip())
    stored = backend.payloads.size_of(source)
    if stored is None:
        raise BadRequest("No upload found with this id for this actor: it was never uploaded, was already "
                         "used, or expired.")
    if stored != size:
        backend.payloads.delete(source)
        raise BadRequest(f"The upload has {stored} bytes, not the {size} it was requested for.")
    target = payloads.new_key(actor.tenant, actor.id)
    backend.payloads.move(source, target)
    return Pointer(target, size, sha256)
