"""KMS envelope encryption of secrets (reliability plan §4.6), behind ``chalicelib.adapters.crypto``'s Cipher.

Each secret gets a fresh data key from ``GenerateDataKey`` (AES-256); the value is sealed with AES-GCM
under that key and the plaintext key is dropped; the token keeps the KMS-encrypted key beside the
ciphertext. The encryption context ``{"tenant", "purpose", "name"}`` is bound twice: KMS will not decrypt
the data key under another context, and the same context is the AES-GCM associated data, so a token
copied to another tenant or another config cannot be opened. KMS itself is reached through the
configured endpoint (the moto server locally, where the context is enforced as in AWS).

Decrypting asks KMS for the data key; a runner starting a busy actor would ask for the same keys on every
execution. Data keys are kept ``ABACO_KMS_DATA_KEY_CACHE_SECONDS`` in the process, keyed by the encrypted
key and its context (as the AWS Encryption SDK's caching materials manager does): a changed secret has
a new data key, so the cache never serves an old value; a revoked grant takes effect within that time.
"""
from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections import OrderedDict
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from chalicelib.adapters import aws_errors
from chalicelib.domain.errors import DecryptionError, Misconfigured

KMS_SCHEME = "kms1:"
PURPOSE = "abaco-config-secret"
NONCE_BYTES = 12  # AES-GCM's standard nonce
# A ciphertext KMS will not open (tampered, another tenant's context, another key) is a secret that cannot
# be decrypted; every other KMS error is placed by the shared table (chalicelib/adapters/aws_errors.py).
_ERRORS = {aws_errors.Category.VALIDATION: DecryptionError}
_OVERRIDES = {"NotFoundException": aws_errors.Category.CONFIGURATION}  # the configured key does not exist


DATA_KEYS_KEPT = 1024  # plaintext data keys a process keeps at most (the least recently used go first)
_data_keys: OrderedDict[tuple[bytes, str], tuple[float, bytes]] = OrderedDict()
_data_keys_lock = threading.Lock()


def context(tenant: str, name: str) -> dict[str, str]:
    return {"tenant": tenant, "purpose": PURPOSE, "name": name}


def _aad(ctx: dict[str, str]) -> bytes:
    return json.dumps(ctx, sort_keys=True, separators=(",", ":")).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


class KmsEnvelopeCipher:
    """``encrypt(tenant, plaintext, name)`` / ``decrypt(tenant, token, name)`` with a KMS key."""

    def __init__(self, client: Any, key_id: str, cache_seconds: float = 0.0) -> None:
        self._kms, self._key_id, self._cache_seconds = client, key_id, cache_seconds

    def encrypt(self, tenant: str, plaintext: str, name: str = "") -> str:
        ctx = context(tenant, name)
        try:
            key = self._call("generate_data_key", KeyId=self._key_id, KeySpec="AES_256", EncryptionContext=ctx)
        except DecryptionError as exc:  # a refusal here is the deployment's fault (a key of the wrong kind)
            raise Misconfigured(f"cannot encrypt the secret: {exc}") from exc
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(key["Plaintext"]).encrypt(nonce, plaintext.encode(), _aad(ctx))
        body = {"k": _b64(key["CiphertextBlob"]), "n": _b64(nonce), "c": _b64(sealed)}
        return KMS_SCHEME + _b64(json.dumps(body, separators=(",", ":")).encode())

    def decrypt(self, tenant: str, token: str, name: str = "") -> str:
        if not token.startswith(KMS_SCHEME):
            raise DecryptionError("The secret was encrypted with an unknown scheme.")
        try:
            body = json.loads(base64.urlsafe_b64decode(token[len(KMS_SCHEME):].encode()))
            blob, nonce, sealed = (base64.urlsafe_b64decode(body[k].encode()) for k in ("k", "n", "c"))
        except (ValueError, KeyError, TypeError) as exc:
            raise DecryptionError("The secret is not a valid KMS envelope.") from exc
        ctx = context(tenant, name)
        try:
            return AESGCM(self._data_key(blob, ctx)).decrypt(nonce, sealed, _aad(ctx)).decode()
        except (InvalidTag, ValueError) as exc:
            raise DecryptionError("The secret cannot be decrypted (tampered, or another tenant's).") from exc

    def _data_key(self, blob: bytes, ctx: dict[str, str]) -> bytes:
        """The plaintext of an encrypted data key: from KMS, or from the process's cache while it is fresh."""
        entry, now = (blob, json.dumps(ctx, sort_keys=True)), time.monotonic()
        with _data_keys_lock:
            hit = _data_keys.get(entry) if self._cache_seconds > 0 else None
            if hit is not None and hit[0] > now:
                _data_keys.move_to_end(entry)
                return hit[1]
        plaintext = bytes(self._call("decrypt", CiphertextBlob=blob, EncryptionContext=ctx,
                                     KeyId=self._key_id)["Plaintext"])
        if self._cache_seconds > 0:
            with _data_keys_lock:
                _data_keys[entry] = (now + self._cache_seconds, plaintext)
                _data_keys.move_to_end(entry)
                while len(_data_keys) > DATA_KEYS_KEPT:
                    _data_keys.popitem(last=False)
        return plaintext

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return getattr(self._kms, operation)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise aws_errors.translate(exc, f"KMS {operation}", _OVERRIDES, errors_by=_ERRORS) from exc
