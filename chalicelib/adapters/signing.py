"""Actor-token signing with a KMS asymmetric key (``ABACO_PLATFORM_SIGNER=kms``), for AWS.

The private key never leaves KMS: the runner asks KMS to sign each token (RSASSA_PKCS1_V1_5_SHA_256, the
RS256 of JWTs), and the API verifies locally with the public key, fetched once per process. The key is an
``RSA_2048`` ``SIGN_VERIFY`` key named by ``ABACO_PLATFORM_KMS_KEY_ID`` (default
``alias/{prefix}-platform-tokens``); the runner role needs ``kms:Sign``, the API role ``kms:GetPublicKey``.
The signer interface is ``chalicelib.identity.platform_tokens.Signer``.
"""
from __future__ import annotations

import threading
from typing import Any

from cryptography.hazmat.primitives import serialization

from chalicelib.adapters import aws
from chalicelib.wiring.settings import Settings

ALGORITHM = "RSASSA_PKCS1_V1_5_SHA_256"


def default_key_alias(prefix: str) -> str:
    return f"alias/{prefix}-platform-tokens"


class KmsSigner:
    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self._kms = client or aws.client("kms", settings)
        self._key_id = settings.platform_kms_key_id or default_key_alias(settings.resource_prefix)
        self._pem: str | None = None
        self._lock = threading.Lock()

    def sign(self, message: bytes) -> bytes:
        response = self._kms.sign(KeyId=self._key_id, Message=message, MessageType="RAW",
                                  SigningAlgorithm=ALGORITHM)
        return bytes(response["Signature"])

    def public_pem(self) -> str:
        with self._lock:
            if self._pem is None:
                der = self._kms.get_public_key(KeyId=self._key_id)["PublicKey"]
                key = serialization.load_der_public_key(bytes(der))
                self._pem = key.public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo).decode()
            return self._pem
