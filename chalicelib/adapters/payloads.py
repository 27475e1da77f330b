"""S3 adapter for message payloads: every binary message, and any body too large for SQS or for the
container environment, travels as an object in the payloads bucket with a pointer (key, size, sha256)
in the inbox message (architecture decision 4, the SQS extended-client pattern).

Uploads stream in parts so a 100 MB body never sits in memory whole; downloads stream to a file and
verify the hash. SDK errors are translated here, once.
"""
from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters import aws, aws_errors
from chalicelib.domain.errors import AbacoError, BadRequest, NotFound, Unavailable
from chalicelib.wiring import resources
from chalicelib.wiring.settings import Settings

PART_BYTES = 8 * 1024 * 1024  # multipart part size (S3's minimum is 5 MiB for every part but the last)
READ_BYTES = 1024 * 1024  # streaming read size for downloads and for filling a part


class PayloadCorrupt(AbacoError):
    """The downloaded object does not match the size or hash recorded when it was sent."""


class Readable(Protocol):
    def read(self, size: int = -1) -> bytes: ...


@dataclass(frozen=True)
class Pointer:
    key: str
    size: int
    sha256: str


def new_key(tenant: str, actor_id: str) -> str:
    """Random, unguessable keys under one prefix (the bucket lifecycle rule expires that prefix)."""
    return f"{resources.PAYLOAD_KEY_PREFIX}{_safe(tenant)}/{actor_id}/{secrets.token_hex(16)}"


def upload_key(tenant: str, actor_id: str, upload_id: str) -> str:
    """Where a client uploads a large message for this actor (under the same expiring prefix)."""
    return f"{resources.PAYLOAD_KEY_PREFIX}uploads/{_safe(tenant)}/{actor_id}/{upload_id}"


def _safe(tenant: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", tenant)


class PayloadStore:
    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self._s3 = client or aws.client("s3", settings)
        self.bucket = settings.payload_bucket or resources.bucket_name(settings.resource_prefix)

    def put_bytes(self, key: str, data: bytes) -> Pointer:
        self._call("put_object", Bucket=self.bucket, Key=key, Body=data)
        return Pointer(key, len(data), hashlib.sha256(data).hexdigest())

    def put_stream(self, key: str, stream: Readable, size: int) -> Pointer:
        """Upload exactly ``size`` bytes read from ``stream``, one part at a time."""
        first = _read_exactly(stream, min(size, PART_BYTES))
        if size <= PART_BYTES:
            return self.put_bytes(key, first)
        digest = hashlib.sha256(first)
        upload = self._call("create_multipart_upload", Bucket=self.bucket, Key=key)["UploadId"]
        try:
            parts = [self._part(key, upload, 1, first)]
            remaining = size - len(first)
            while remaining > 0:
                chunk = _read_exactly(stream, min(remaining, PART_BYTES))
                digest.update(chunk)
                parts.append(self._part(key, upload, len(parts) + 1, chunk))
                remaining -= len(chunk)
            self._call("complete_multipart_upload", Bucket=self.bucket, Key=key, UploadId=upload,
                       MultipartUpload={"Parts": parts})
        except BaseException:
            self._abort(key, upload)
            raise
        return Pointer(key, size, digest.hexdigest())

    def download(self, pointer: Pointer, dest: BinaryIO) -> None:
        """Stream the object into ``dest``; raise PayloadCorrupt unless size and sha256 match."""
        body = self._call("get_object", Bucket=self.bucket, Key=pointer.key)["Body"]
        digest, size = hashlib.sha256(), 0
        try:
            for chunk in iter(lambda: body.read(READ_BYTES), b""):
                digest.update(chunk)
                size += len(chunk)
                dest.write(chunk)
        except (BotoCoreError, OSError) as exc:
            raise Unavailable(f"S3 download of {pointer.key} failed: {exc}") from exc
        finally:
            body.close()
        if size != pointer.size or digest.hexdigest() != pointer.sha256:
            raise PayloadCorrupt(f"payload {pointer.key}: expected {pointer.size} bytes sha256 "
                                 f"{pointer.sha256[:12]}..., got {size} bytes {digest.hexdigest()[:12]}...")

    def delete(self, key: str) -> None:
        try:
            self._call("delete_object", Bucket=self.bucket, Key=key)
        except NotFound:
            pass

    def presign_put(self, key: str, size: int, sha256: str, expires: int) -> tuple[str, dict[str, str]]:
        """A URL that accepts one PUT of exactly ``size`` bytes whose SHA-256 is ``sha256`` (hex), for
        ``expires`` seconds, and the headers the PUT must carry. S3 checks the length and the checksum (both
        signed); the runner checks the hash again when it downloads the object."""
        checksum = base64.b64encode(bytes.fromhex(sha256)).decode()
        url = self._s3.generate_presigned_url(
            "put_object", ExpiresIn=expires, HttpMethod="PUT",
            Params={"Bucket": self.bucket, "Key": key, "ContentLength": size, "ChecksumSHA256": checksum,
                    "ContentType": "application/octet-stream"})
        return url, {"Content-Length": str(size), "Content-Type": "application/octet-stream",
                     "x-amz-checksum-sha256": checksum}

    def size_of(self, key: str) -> int | None:
        """The object's size, or None when there is no such object."""
        try:
            return int(self._call("head_object", Bucket=self.bucket, Key=key)["ContentLength"])
        except NotFound:
            return None

    def move(self, source: str, target: str) -> None:
        """Server-side copy, then delete the source (an upload is used once)."""
        self._call("copy_object", Bucket=self.bucket, Key=target, CopySource={"Bucket": self.bucket, "Key": source})
        self.delete(source)

    def exists(self, key: str) -> bool:
        try:
            self._call("head_object", Bucket=self.bucket, Key=key)
        except NotFound:
            return False
        return True

    def _part(self, key: str, upload: str, number: int, data: bytes) -> dict[str, Any]:
        etag = self._call("upload_part", Bucket=self.bucket, Key=key, UploadId=upload, PartNumber=number,
                          Body=data)["ETag"]
        return {"ETag": etag, "PartNumber": number}

    def _abort(self, key: str, upload: str) -> None:
        try:
            self._call("abort_multipart_upload", Bucket=self.bucket, Key=key, UploadId=upload)
        except AbacoError:
            pass  # the bucket's lifecycle rule also aborts incomplete uploads

    def _call(self, op: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return getattr(self._s3, op)(**kwargs)
        except ClientError as exc:
            missing = aws_errors.category(exc) is aws_errors.Category.NOT_FOUND
            raise aws_errors.translate(exc, f"S3 {op}",
                                       message=f"payload {kwargs.get('Key')} not found" if missing else None) from exc
        except BotoCoreError as exc:
            raise aws_errors.translate(exc, f"S3 {op}") from exc


def _read_exactly(stream: Readable, size: int) -> bytes:
    """``size`` bytes from a request body; a client that sends less than it announced gets a 400."""
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = stream.read(min(remaining, READ_BYTES))
        if not chunk:
            raise BadRequest("The request body is shorter than its Content-Length.")
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)
