"""Test credentials: RSA key pairs made with ``cryptography`` and JWTs in Abaco's two forms."""
from __future__ import annotations

import base64
import functools
import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "wso2.org/products/am"
WSO2_USER = "http://wso2.org/claims/enduser"
WSO2_ROLES = "http://wso2.org/claims/role"
ROLE_NAMES = {"admin": "Internal/abaco-admin", "privileged": "Internal/abaco-privileged",
              "user": "Internal/abaco-user", "limited": "Internal/abaco-limited"}


def key_pair(name: str = "main") -> tuple[rsa.RSAPrivateKey, str]:
    """A 2048-bit private key and its public PEM (one per name per test session)."""
    return _key_pair(name)


@functools.cache
def _key_pair(name: str) -> tuple[rsa.RSAPrivateKey, str]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = private.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public.decode()


def sign(claims: dict[str, Any], key_name: str = "main", headers: dict[str, Any] | None = None,
         algorithm: str = "RS256") -> str:
    private, _ = key_pair(key_name)
    return jwt.encode(claims, private, algorithm=algorithm, headers=headers)


def v2_claims(user: str, role: str = "user", lifetime: float = 3600, millis: bool = True,
              tenant: str | None = None) -> dict[str, Any]:
    """WSO2-style claims as Abaco v2 saw them: enduser with a @domain, roles comma separated, exp in ms.
    ``tenant`` binds a token signed by the one global key to its tenant (without it, only a per-tenant key
    or ABACO_JWT_TRUST_HEADER_TENANT lets the header name the tenant)."""
    now = time.time()
    exp = now + lifetime
    claims: dict[str, Any] = {"iss": ISSUER, WSO2_USER: f"{user}@carbon.super",
                              WSO2_ROLES: f"Internal/everyone,{ROLE_NAMES[role]}",
                              "exp": int(exp * 1000) if millis else int(exp)}
    if tenant is not None:
        claims["tenant"] = tenant
    return claims


def bearer_claims(user: str, tenant: str, role: str = "user", lifetime: float = 3600) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": ISSUER, "sub": user, "tenant": tenant, "roles": [role], "iat": now, "exp": now + int(lifetime)}


def v3_claims(user: str, tenant: str, token_type: str = "access", account_type: str = "user",
              lifetime: float = 3600, use_sub: bool = False) -> dict[str, Any]:
    """A Tapis v3 token's claims (tapis/* names, as the Tapis Tokens API mints them; no roles)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER, "jti": f"{user}-{now}", "sub": f"{user}@{tenant}", "tapis/tenant_id": tenant,
        "tapis/token_type": token_type, "tapis/delegation": False, "tapis/delegation_sub": None,
        "tapis/account_type": account_type, "tapis/client_id": None, "tapis/grant_type": "password",
        "iat": now, "exp": now + int(lifetime)}
    if not use_sub:
        claims["tapis/username"] = user
    return claims


def v3_headers(user: str, tenant: str, key_name: str = "main", **kwargs: Any) -> dict[str, str]:
    return {"X-Tapis-Token": sign(v3_claims(user, tenant, **kwargs), key_name=key_name)}


def v2_headers(user: str, tenant: str, role: str = "user") -> dict[str, str]:
    return {f"X-Jwt-Assertion-{tenant}": sign(v2_claims(user, role, tenant=tenant))}


def bearer_headers(user: str, tenant: str, role: str = "user") -> dict[str, str]:
    return {"Authorization": "Bearer " + sign(bearer_claims(user, tenant, role))}


def b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """A token assembled by hand (for alg=none and other forgeries PyJWT refuses to make)."""
    return f"{b64(json.dumps(header))}.{b64(json.dumps(claims))}.{b64(signature)}"
