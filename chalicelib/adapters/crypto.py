"""Encryption of secrets at rest (config values with ``is_secret``; reference §1.11).

The interface is two functions of a ``Cipher``: ``encrypt(tenant, plaintext) -> token`` and
``decrypt(tenant, token) -> plaintext``. Tokens carry a scheme prefix (``fernet:``) so another backend
(a KMS envelope) can be added beside this one and old tokens stay readable.

The Fernet backend uses ``MultiFernet`` over ``ABACO_ENCRYPTION_KEYS`` (comma-separated Fernet keys; the
first encrypts, all decrypt, so keys rotate by prepending a new one). Each token binds its tenant: the
plaintext is sealed together with the tenant id, and decrypting under another tenant fails, so a
ciphertext copied between tenants is useless.

Without configured keys a fixed development key derived from a public string is used, and a warning is
logged: secrets are then obfuscated, not protected. Production sets the setting (or uses KMS).
"""
from __future__ import annotations

import base64
import functools
import hashlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from chalicelib.domain.errors import DecryptionError
from chalicelib.wiring.settings import parse_keys

if TYPE_CHECKING:
    from chalicelib.wiring.settings import Settings

__all__ = ["DecryptionError", "FernetCipher", "cipher", "development_key", "parse_keys"]

LOG = logging.getLogger("abaco.crypto")

FERNET_SCHEME = "fernet:"
_SEPARATOR = "\x00"  # tenant ids never contain NUL; plaintext may (it is everything after the first)
_DEV_KEY_SEED = b"abaco-on-aws local development key; NOT A SECRET"


class Cipher(Protocol):
    """``name`` (the config's) is bound by the KMS backend too; Fernet tokens bind the tenant only."""

    def encrypt(self, tenant: str, plaintext: str, name: str = "") -> str: ...

    def decrypt(self, tenant: str, token: str, name: str = "") -> str: ...


def development_key() -> str:
    """The stable key used when ABACO_ENCRYPTION_KEYS is unset (local development only)."""
    return base64.urlsafe_b64encode(hashlib.sha256(_DEV_KEY_SEED).digest()).decode()


class FernetCipher:
    """MultiFernet: the first key encrypts, every key decrypts."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("FernetCipher needs at least one key")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    def encrypt(self, tenant: str, plaintext: str, name: str = "") -> str:
        sealed = f"{tenant}{_SEPARATOR}{plaintext}".encode()
        return FERNET_SCHEME + self._fernet.encrypt(sealed).decode()

    def decrypt(self, tenant: str, token: str, name: str = "") -> str:
        if not token.startswith(FERNET_SCHEME):
            raise DecryptionError("The secret was encrypted with an unknown scheme.")
        try:
            sealed = self._fernet.decrypt(token[len(FERNET_SCHEME):].encode()).decode()
        except (InvalidToken, UnicodeDecodeError) as exc:
            raise DecryptionError("The secret cannot be decrypted with the configured keys.") from exc
        owner, _, plaintext = sealed.partition(_SEPARATOR)
        if owner != tenant:
            raise DecryptionError("The secret belongs to another tenant.")
        return plaintext

    def rotate(self, token: str) -> str:
        """Re-encrypt under the first (newest) key, keeping the tenant binding."""
        return FERNET_SCHEME + self._fernet.rotate(token[len(FERNET_SCHEME):].encode()).decode()


@functools.lru_cache(maxsize=4)
def _cached(keys: tuple[str, ...]) -> FernetCipher:
    return FernetCipher(list(keys))


def cipher(settings: Settings) -> Cipher:
    """The process-wide cipher for these settings: Fernet (the development key when none is configured),
    or, with ``ABACO_SECRETS_BACKEND=kms``, KMS envelopes (which still read older ``fernet:`` tokens)."""
    if settings.secrets_backend == "kms":
        from chalicelib.adapters import aws
        from chalicelib.adapters.kms import KmsEnvelopeCipher
        from chalicelib.wiring import resources

        key_id = settings.kms_key_id or resources.kms_alias(settings.resource_prefix)
        kms = KmsEnvelopeCipher(aws.client("kms", settings), key_id, settings.kms_data_key_cache_seconds)
        return _Schemes(kms, lambda: _fernet(settings))
    return _fernet(settings)


def _fernet(settings: Settings) -> FernetCipher:
    keys = parse_keys(settings.encryption_keys)
    if not keys and settings.encryption_keys_secret_id:
        keys = parse_keys(_secret_keys(settings.encryption_keys_secret_id, settings))
    if not keys:
        _warn_development_key()
        keys = [development_key()]
    return _cached(tuple(keys))


class _Schemes:
    """Encrypt with the primary backend; decrypt each token with the backend its scheme prefix names."""

    def __init__(self, primary: Cipher, fernet: Callable[[], Cipher]) -> None:
        self._primary, self._fernet = primary, fernet

    def encrypt(self, tenant: str, plaintext: str, name: str = "") -> str:
        return self._primary.encrypt(tenant, plaintext, name)

    def decrypt(self, tenant: str, token: str, name: str = "") -> str:
        if token.startswith(FERNET_SCHEME):
            return self._fernet().decrypt(tenant, token, name)
        return self._primary.decrypt(tenant, token, name)


_SECRET_TEXT: dict[str, str] = {}  # secret id -> its keys' text, read once per process


def _secret_keys(secret_id: str, settings: Settings) -> str:
    """The keys' text from Secrets Manager, once per process (a Lambda's cold start pays one call). Never
    logged; an error names the secret, not its value, and never falls back to the development key."""
    if secret_id not in _SECRET_TEXT:
        from chalicelib.adapters import aws  # lazy, as for KMS above: settings -> crypto -> aws would cycle

        try:
            answer = aws.client("secretsmanager", settings).get_secret_value(SecretId=secret_id)
        except Exception as exc:  # no secret, no grant, no network: secrets stop, loudly
            raise DecryptionError(f"cannot read the encryption keys from secret {secret_id}: "
                                  f"{type(exc).__name__}") from exc
        _SECRET_TEXT[secret_id] = str(answer["SecretString"]).strip()
    return _SECRET_TEXT[secret_id]


@functools.lru_cache(maxsize=1)
def _warn_development_key() -> None:
    LOG.warning("ABACO_ENCRYPTION_KEYS is not set: secrets are encrypted with the public development key. "
                "Set ABACO_ENCRYPTION_KEYS in any real deployment.")
