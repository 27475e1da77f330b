"""Actor tokens: the ``_abaco_access_token`` an actor with ``token: true`` gets (reference §3.5).

Abaco v3 asks the Tapis Tokens API for a 4 h token of the actor's **owner** per execution. We mint it
ourselves: a Tapis v3 user access token (``tapis/tenant_id``, ``tapis/username``, ``tapis/token_type``
``access``) for the owner, in the owner's tenant, that expires with the execution (``max_run_time``, at most
MAX_LIFETIME_SECONDS, and refused as soon as the execution has finished: ``chalicelib.edge.guard``), signed
by the platform's key. The API accepts it like any Tapis v3 token
(``chalicelib.identity.tapis``), in ``X-Tapis-Token`` or as a bearer token, with the owner's roles from the
role store. The runner mints (``runners/pipeline/execution.py``); the API only verifies, with the public key.

The key sits behind a small ``Signer``: ``FileSigner``, an RSA key generated on first use into a file only
its user can read (local mode: the API and the runners share the machine), or ``KmsSigner``
(``chalicelib.adapters.signing``), a KMS asymmetric key whose private half never leaves KMS (AWS).
"""
from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from chalicelib.identity import tokens
from chalicelib.wiring.settings import Settings

LOG = logging.getLogger("abaco.identity")
ISSUER = "abaco-platform"
KID_PREFIX = "abaco-platform-"
MAX_LIFETIME_SECONDS = 4 * 3600  # Tapis v3 mints actor tokens with a 4 h TTL (reference §3.5)
KEY_BITS = 2048
ACTOR_CLAIM = "abaco/actor_dbid"
EXECUTION_CLAIM = "abaco/execution_id"


class Signer(Protocol):
    """Signs RS256 (RSASSA-PKCS1-v1_5 with SHA-256) and publishes the matching public key."""

    def sign(self, message: bytes) -> bytes: ...

    def public_pem(self) -> str: ...


@functools.lru_cache(maxsize=8)
def key_id(public_pem: str) -> str:
    """The ``kid`` of the platform's key: a fingerprint, so a rotated key gets a new one."""
    der = tokens.load_public_key(public_pem).public_bytes(serialization.Encoding.DER,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    return KID_PREFIX + hashlib.sha256(der).hexdigest()[:16]


class FileSigner:
    """An RSA key in a PEM file, generated atomically on first use (whoever comes first, API or runner)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._key = _load_or_create(self.path)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message, padding.PKCS1v15(), hashes.SHA256())

    def public_pem(self) -> str:
        return self._key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _load_or_create(path: Path) -> rsa.RSAPrivateKey:
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".platform-key-")  # mode 0600
        try:
            os.write(fd, pem)
            os.close(fd)
            os.link(tmp, path)  # atomic: fails when another process created the key first
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey) or loaded.key_size < KEY_BITS:
        raise ValueError(f"{path}: the platform key must be an RSA key of at least {KEY_BITS} bits")
    return loaded


def default_key_file() -> str:
    return str(Path(tempfile.gettempdir()) / f"abaco-platform-key-{os.getuid()}.pem")


_SIGNERS: dict[tuple[str, ...], Signer] = {}
_VERIFIERS: dict[tuple[str, ...], tokens.VerifierConfig] = {}
_LOCK = threading.Lock()


def _identity(settings: Settings) -> tuple[str, ...]:
    return (settings.platform_signer, settings.platform_key_file or default_key_file(),
            settings.platform_kms_key_id or "", settings.resource_prefix, settings.aws_endpoint_url or "")


def signer(settings: Settings) -> Signer:
    """The process's signer, built on first use (never at import)."""
    key = _identity(settings)
    with _LOCK:
        if key not in _SIGNERS:
            if settings.platform_signer == "kms":
                from chalicelib.adapters.signing import KmsSigner

                _SIGNERS[key] = KmsSigner(settings)
            else:
                _SIGNERS[key] = FileSigner(key[1])
        return _SIGNERS[key]


def verifier(settings: Settings) -> tokens.VerifierConfig:
    """What the API verifies actor tokens with: the platform's public key, its ``kid`` and issuer."""
    key = _identity(settings)
    if key not in _VERIFIERS:
        pem = signer(settings).public_pem()
        _VERIFIERS[key] = tokens.VerifierConfig(key=tokens.load_public_key(pem), issuer=ISSUER, key_id=key_id(pem))
    return _VERIFIERS[key]


def mint(sign: Signer, tenant: str, username: str, lifetime: int, actor_dbid: str, execution_id: str,
         now: float | None = None) -> str:
    """A Tapis v3 access token for ``username`` in ``tenant``, valid for ``lifetime`` seconds (capped)."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": ISSUER, "sub": f"{username}@{tenant}", "jti": str(uuid.uuid4()), "iat": issued,
        "exp": issued + max(1, min(lifetime, MAX_LIFETIME_SECONDS)),
        "tapis/tenant_id": tenant, "tapis/username": username, "tapis/token_type": "access",
        "tapis/account_type": "user", "tapis/delegation": False,
        ACTOR_CLAIM: actor_dbid, EXECUTION_CLAIM: execution_id,
    }
    header = {"alg": "RS256", "typ": "JWT", "kid": key_id(sign.public_pem())}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{_b64(sign.sign(signing_input.encode()))}"


def lifetime(max_run_time: int | None, default_run_time: int) -> int:
    """Seconds an actor token lives: the execution's ``max_run_time``, at most MAX_LIFETIME_SECONDS."""
    limit = max_run_time or default_run_time
    return MAX_LIFETIME_SECONDS if limit is None or limit <= 0 else min(limit, MAX_LIFETIME_SECONDS)


def for_execution(settings: Settings, tenant: str, owner: str, wants_token: bool, max_run_time: int | None,
                  actor_dbid: str, execution_id: str) -> str:
    """The execution's ``_abaco_access_token``: "" when the actor has no token (or there is no auth at
    all). A signer failure is logged and gives "", as Abaco injects "" when its token call fails."""
    if not wants_token or settings.access_control != "jwt":
        return ""
    try:
        return mint(signer(settings), tenant, owner, lifetime(max_run_time, settings.max_run_time),
                    actor_dbid, execution_id)
    except Exception as exc:  # the KMS client and key files raise many types; never fail the run for it
        LOG.error("could not mint the actor token for execution %s: %s", execution_id, type(exc).__name__)
        return ""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def execution_of(claims: dict[str, Any]) -> tuple[str, str] | None:
    """(actor dbid, execution id) of an actor token's claims; None for any other token."""
    dbid, execution_id = claims.get(ACTOR_CLAIM), claims.get(EXECUTION_CLAIM)
    if claims.get("iss") == ISSUER and isinstance(dbid, str) and isinstance(execution_id, str):
        return dbid, execution_id
    return None
