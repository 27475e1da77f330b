"""Tapis v3 access tokens (reference §5.2): who they name, and which key may have signed them.

A Tapis v3 token names its tenant in ``tapis/tenant_id`` and its user in ``tapis/username`` (or ``sub`` =
``user@tenant``). The tenant claim, read before verification, only chooses the key; the token must then
verify with that tenant's key (or, when no tenant has its own, the global one), so the signed claim is what
binds the token to the tenant: no header ever names it. Only user access tokens are accepted: refresh and
service tokens get the same generic refusal as a forged one. Tokens the platform mints for actors
(``chalicelib.identity.platform_tokens``) have the same shape and verify with the platform's key.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.identity import tokens

TENANT_CLAIM = "tapis/tenant_id"
USERNAME_CLAIM = "tapis/username"
TOKEN_TYPE_CLAIM = "tapis/token_type"
ACCOUNT_TYPE_CLAIM = "tapis/account_type"
TENANT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # as chalicelib.identity.auth's

KeyChooser = Callable[[str, Any], tokens.VerifierConfig]  # (tenant claim, kid header) -> the key


@dataclass(frozen=True)
class Identity:
    tenant: str
    username: str
    claims: dict[str, Any]


def is_tapis_token(token: str) -> bool:
    """Whether a token has Tapis v3's shape (a bearer token may be one: the in-container client sends it so)."""
    return tokens.unverified_claim(token, TENANT_CLAIM) is not None


def verify(token: str, key_for: KeyChooser) -> Identity:
    """The tenant and user of a Tapis v3 user access token, or ``InvalidToken``.

    ``key_for(tenant, kid)`` chooses the one key the token must verify with: the tenant's own, the global
    one, or the platform's for actor tokens (chosen by ``kid``, then checked like any other)."""
    named = tokens.unverified_claim(token, TENANT_CLAIM)
    if not isinstance(named, str) or not TENANT_PATTERN.match(named):
        raise tokens.InvalidToken("no valid tapis/tenant_id claim")
    claims = tokens.verify(token, key_for(named, tokens.unverified_header(token, "kid")))
    return Identity(tenant=named, username=_username(claims, named), claims=claims)


def _username(claims: dict[str, Any], tenant: str) -> str:
    if claims.get(TOKEN_TYPE_CLAIM) != "access":
        raise tokens.InvalidToken("not an access token")
    if claims.get(ACCOUNT_TYPE_CLAIM) != "user":
        raise tokens.InvalidToken("not a user account token")
    username = claims.get(USERNAME_CLAIM)
    sub = claims.get("sub")
    if username is None and isinstance(sub, str) and "@" in sub:
        username, _, sub_tenant = sub.rpartition("@")
        if sub_tenant != tenant:
            raise tokens.InvalidToken("sub names another tenant")
    if not isinstance(username, str) or not username:
        raise tokens.InvalidToken("no username claim")
    return username
