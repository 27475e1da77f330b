"""JWT verification with the pitfalls closed (reliability plan §4.1). Pure logic: no settings, no I/O.

* The algorithm is pinned: RS256 (and ``SHA256withRSA``, WSO2's name for the same RSASSA-PKCS1-v1_5
  SHA-256 signature that Abaco v2 tokens carry). Never HS*, never ``none``, never taken from the token.
* Keys come only from configuration: ``jku``, ``x5u``, ``jwk`` and ``x5c`` headers are refused, not
  followed; a ``kid`` must name the configured key when one is configured.
* ``exp`` is required, checked with at most 60 s of leeway; v2 tokens may carry it in milliseconds.
* Every failure is one exception type; the caller turns it into one generic 401.
"""
from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt.algorithms import RSAAlgorithm
from jwt.api_jws import PyJWS
from jwt.exceptions import PyJWTError

ALGORITHMS = ("RS256", "SHA256withRSA")
MAX_TOKEN_BYTES = 8_192  # a JWT longer than this is refused before parsing (DoS guard)
MAX_LEEWAY_SECONDS = 60
MS_THRESHOLD = 100_000_000_000  # an exp above this (year 5138 in seconds) is in milliseconds
_FORBIDDEN_HEADERS = ("jku", "x5u", "jwk", "x5c", "b64")  # b64: detached payloads
_MIN_KEY_BITS = 2048


class InvalidToken(Exception):
    """Why a token was refused (for the server log only; the response never says)."""


@dataclass(frozen=True)
class VerifierConfig:
    key: RSAPublicKey
    leeway: int = MAX_LEEWAY_SECONDS
    issuer: str | None = None
    audience: str | None = None
    key_id: str | None = None


def load_public_key(pem: str | bytes) -> RSAPublicKey:
    """Parse the configured PEM; anything but an RSA key of at least 2048 bits is a configuration error."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = load_pem_public_key(data)
    except ValueError as exc:
        raise ValueError(f"the JWT public key is not a PEM public key: {exc}") from exc
    if not isinstance(key, RSAPublicKey):
        raise ValueError("the JWT public key must be an RSA key (RS256 is the only algorithm accepted)")
    if key.key_size < _MIN_KEY_BITS:
        raise ValueError(f"the JWT public key has {key.key_size} bits; at least {_MIN_KEY_BITS} are required")
    return key


def _jws() -> PyJWS:
    jws = PyJWS(algorithms=["RS256"])
    jws.register_algorithm("SHA256withRSA", RSAAlgorithm(RSAAlgorithm.SHA256))
    return jws


_JWS = _jws()


def verify(token: str, config: VerifierConfig, now: float | None = None) -> dict[str, Any]:
    """The verified claims of ``token``, or ``InvalidToken``."""
    if not token or len(token) > MAX_TOKEN_BYTES:
        raise InvalidToken("missing or oversized token")
    try:
        decoded = _JWS.decode_complete(token, config.key, algorithms=list(ALGORITHMS))
    except PyJWTError as exc:
        raise InvalidToken(f"signature: {exc}") from exc
    except Exception as exc:  # malformed input can raise plain errors from the decoders; never a 500
        raise InvalidToken(f"malformed token: {type(exc).__name__}") from exc
    _check_header(decoded["header"], config)
    try:
        claims = json.loads(decoded["payload"])
    except ValueError as exc:
        raise InvalidToken("claims are not JSON") from exc
    if not isinstance(claims, dict):
        raise InvalidToken("claims are not an object")
    check_claims(claims, config, time.time() if now is None else now)
    return claims


def unverified_claim(token: str, name: str) -> Any:
    """One claim read **without** verification, only to choose the key that then verifies the token."""
    if not token or len(token) > MAX_TOKEN_BYTES:
        return None
    try:
        segment = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (IndexError, ValueError, TypeError):
        return None
    return claims.get(name) if isinstance(claims, dict) else None


def unverified_header(token: str, name: str) -> Any:
    """One header field read **without** verification, only to choose the key (``kid``)."""
    if not token or len(token) > MAX_TOKEN_BYTES:
        return None
    try:
        segment = token.split(".")[0]
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (IndexError, ValueError, TypeError):
        return None
    return header.get(name) if isinstance(header, dict) else None


def _check_header(header: Mapping[str, Any], config: VerifierConfig) -> None:
    present = [name for name in _FORBIDDEN_HEADERS if name in header]
    if present:
        raise InvalidToken(f"key-carrying headers are not accepted: {present}")
    if header.get("crit"):
        raise InvalidToken("critical header extensions are not supported")
    kid = header.get("kid")
    if kid is not None and config.key_id is not None and kid != config.key_id:
        raise InvalidToken("unknown kid")


def seconds(value: Any, name: str) -> float:
    """A NumericDate claim in seconds; Abaco v2 tokens may carry milliseconds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidToken(f"{name} is not a number")
    number = float(value)
    return number / 1000.0 if number > MS_THRESHOLD else number


def check_claims(claims: Mapping[str, Any], config: VerifierConfig, now: float) -> None:
    leeway = min(config.leeway, MAX_LEEWAY_SECONDS)
    if "exp" not in claims:
        raise InvalidToken("no exp")
    if seconds(claims["exp"], "exp") + leeway < now:
        raise InvalidToken("expired")
    if "nbf" in claims and seconds(claims["nbf"], "nbf") - leeway > now:
        raise InvalidToken("not yet valid")
    if "iat" in claims and seconds(claims["iat"], "iat") - leeway > now:
        raise InvalidToken("issued in the future")
    if config.issuer is not None and claims.get("iss") != config.issuer:
        raise InvalidToken("wrong issuer")
    if config.audience is not None:
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if config.audience not in audiences:
            raise InvalidToken("wrong audience")
