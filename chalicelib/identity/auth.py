"""Who is calling: roles, and the identity carried by a JWT (reference §5).

``access_control=jwt`` accepts Abaco v2's ``X-Jwt-Assertion-<TENANT>`` (WSO2 claims; the tenant is the
header suffix, upper-cased), ``Authorization: Bearer`` (``sub``, ``tenant``, ``roles``) and Tapis v3's
``X-Tapis-Token`` (``chalicelib.identity.tapis``; also as a bearer token). Every token is bound to one
tenant: by that tenant's own key (``ABACO_JWT_TENANT_KEYS_FILE``) or by a signed tenant claim; a v2 header
alone names the tenant only with ``ABACO_JWT_TRUST_HEADER_TENANT`` (development). Tapis v3 tokens carry no
roles: theirs come from the role store (``grants``, read per request). ``none`` is
for local development only: every caller is ``anonymous`` with Abaco's ``ALL`` role (an admin), in the
tenant of the ``tenant`` header or the configured default; it is refused when ``ABACO_PRODUCTION`` is set.
Nonces (``x-nonce``) are redeemed by the guard, which knows the route (``chalicelib.edge.guard``).
"""
from __future__ import annotations

import dataclasses
import enum
import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalicelib.domain.errors import NotAuthorized, Unauthenticated
from chalicelib.identity import platform_tokens, tapis, tokens
from chalicelib.wiring.settings import Settings

V2_HEADER_PREFIX = "x-jwt-assertion-"
TAPIS_HEADER = "x-tapis-token"
WSO2_USER = "http://wso2.org/claims/enduser"
WSO2_ROLES = "http://wso2.org/claims/role"
V2_DEFAULT_ROLES = ("Internal/everyone",)  # Abaco: a token without a role claim has this role
TENANT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # no '#': it separates key parts
USERNAME_PATTERN = re.compile(r"^[^\x00-\x1f#\s]{1,128}$")
MISSING_ROLE = "Not authorized -- missing required role."


Grants = Callable[[str, str], tuple[str, ...]]  # (tenant, username) -> Tapis v3 role names held now


class ConfigurationError(Exception):
    """The API cannot serve with these settings; raised at start-up with a clear message."""


class Role(enum.StrEnum):
    ADMIN = "admin"
    PRIVILEGED = "privileged"
    USER = "user"
    LIMITED = "limited"


# Abaco v2 role names, Tapis v3 names and plain names, all lower-cased. ``ALL`` is access_control none.
ROLE_NAMES: dict[str, Role] = {
    "all": Role.ADMIN, "internal/abaco-admin": Role.ADMIN, "abaco_admin": Role.ADMIN, "admin": Role.ADMIN,
    "internal/abaco-privileged": Role.PRIVILEGED, "abaco_privileged": Role.PRIVILEGED,
    "privileged": Role.PRIVILEGED,
    "internal/abaco-user": Role.USER, "internal/everyone": Role.USER, "abaco_user": Role.USER, "user": Role.USER,
    "internal/abaco-limited": Role.LIMITED, "abaco_limited": Role.LIMITED, "limited": Role.LIMITED,
}


def canonical_roles(names: Any, user_role: str | None = None) -> tuple[str, ...]:
    """Our role names for a list (or comma-separated string) of v2/v3/plain names; unknown ones drop."""
    if isinstance(names, str):
        names = names.split(",")
    if not isinstance(names, (list, tuple)):
        return ()
    table = dict(ROLE_NAMES)
    if user_role:
        table[user_role.lower()] = Role.USER
    found = {table[n.strip().lower()] for n in names if isinstance(n, str) and n.strip().lower() in table}
    return tuple(r.value for r in Role if r in found)


@dataclass(frozen=True)
class Caller:
    username: str
    tenant: str
    roles: tuple[str, ...] = field(default_factory=tuple)
    jwt_header_name: str | None = None
    nonce: str | None = None  # the handle of the nonce this request was authorised by
    execution: tuple[str, str] | None = None  # (actor dbid, execution id) of an actor token: valid while it runs

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN.value in self.roles

    @property
    def is_privileged(self) -> bool:
        """Abaco's ``check_privileged``: admins and the privileged role may set privileged fields."""
        return self.is_admin or Role.PRIVILEGED.value in self.roles

    @property
    def has_base_role(self) -> bool:
        return bool(self.roles)

    @property
    def principal(self) -> str:
        """The key rate limits count against."""
        return f"nonce:{self.nonce}" if self.nonce else f"{self.tenant}/{self.username}"


def check_configuration(settings: Settings) -> None:
    """Fail closed at start-up: no ``none`` in production, no ``jwt`` without a usable key, and in production
    tokens bound to this API by issuer and audience."""
    if settings.access_control == "none" and settings.production:
        raise ConfigurationError("ABACO_ACCESS_CONTROL=none is refused when ABACO_PRODUCTION is set: "
                                 "it makes every caller an administrator.")
    if settings.access_control == "jwt":
        verifier(settings)
    if settings.production and not (settings.jwt_issuer and settings.jwt_audience):
        raise ConfigurationError("ABACO_PRODUCTION needs ABACO_JWT_ISSUER and ABACO_JWT_AUDIENCE: without them "
                                 "a token signed by the same key for another service would be accepted.")


def verifier(settings: Settings, tenant: str | None = None) -> tokens.VerifierConfig:
    """The verification settings for ``tenant``: its own key (``ABACO_JWT_TENANT_KEYS_FILE`` or
    ``ABACO_JWT_TENANT_KEYS``) when it has one, else the global key. Built once per process;
    ``tenant=None`` is the start-up check."""
    tenant_keys = _tenant_keys(settings)
    pem = (tenant_keys.get(tenant.upper()) if tenant else None) or _global_pem(settings)
    if pem is None and tenant_keys:
        if tenant is not None:
            raise tokens.InvalidToken("no key for the token's tenant")  # its text is unverified: never logged
        pem = next(iter(tenant_keys.values()))  # a map-only setup: the map itself was validated
    if pem is None:
        raise ConfigurationError("ABACO_ACCESS_CONTROL=jwt needs ABACO_JWT_PUBLIC_KEY (PEM text), "
                                 "ABACO_JWT_PUBLIC_KEY_FILE (a path to it) or per-tenant keys "
                                 "(ABACO_JWT_TENANT_KEYS_FILE or ABACO_JWT_TENANT_KEYS).")
    return _verifier(pem, settings.jwt_leeway, settings.jwt_issuer, settings.jwt_audience, settings.jwt_key_id)


def _global_pem(settings: Settings) -> str | None:
    if settings.jwt_public_key:
        return settings.jwt_public_key
    if settings.jwt_public_key_file:
        return _read(settings.jwt_public_key_file, "ABACO_JWT_PUBLIC_KEY_FILE")
    return None


def _read(path: str, setting: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise ConfigurationError(f"cannot read {setting}: {exc}") from exc


def tenant_key_names(settings: Settings) -> list[str]:
    """The tenants with their own key, spelled as configured (the Tenants API lists them)."""
    return [name for name, _ in _tenant_key_items(settings)]


def public_pem(settings: Settings, tenant: str) -> str:
    """The PEM a tenant's tokens verify with (its own, else the global one; "" with neither)."""
    own = _tenant_keys(settings).get(tenant.upper())
    try:
        return own or _global_pem(settings) or ""
    except ConfigurationError:
        return ""


def _tenant_keys(settings: Settings) -> dict[str, str]:
    return {k.upper(): v for k, v in _tenant_key_items(settings)}


def _tenant_key_items(settings: Settings) -> tuple[tuple[str, str], ...]:
    """Each tenant's own key: ``ABACO_JWT_TENANT_KEYS_FILE`` (a JSON file) and ``ABACO_JWT_TENANT_KEYS``
    (the same JSON inline, for environments without files, such as Lambda through the CDK's extra_env)."""
    inline = _checked(tuple(settings.jwt_tenant_keys.items()), "ABACO_JWT_TENANT_KEYS")
    return _file_keys(settings.jwt_tenant_keys_file) + inline


@functools.lru_cache(maxsize=4)
def _file_keys(path: str | None) -> tuple[tuple[str, str], ...]:
    """``{"TENANT": "<PEM>"}`` from a JSON file: each tenant's tokens verify with its own key only."""
    if not path:
        return ()
    try:
        data = json.loads(_read(path, "ABACO_JWT_TENANT_KEYS_FILE"))
    except ValueError as exc:
        raise ConfigurationError(f"ABACO_JWT_TENANT_KEYS_FILE is not JSON: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ConfigurationError("ABACO_JWT_TENANT_KEYS_FILE must map tenant names to PEM public keys")
    return _checked(tuple(data.items()), "ABACO_JWT_TENANT_KEYS_FILE")


@functools.lru_cache(maxsize=8)
def _checked(items: tuple[tuple[str, str], ...], setting: str) -> tuple[tuple[str, str], ...]:
    for tenant, pem in items:
        try:
            tokens.load_public_key(pem)
        except ValueError as exc:
            raise ConfigurationError(f"{setting}, tenant {tenant}: {exc}") from exc
    return items


@functools.lru_cache(maxsize=64)
def _verifier(pem: str, leeway: int, issuer: str | None, audience: str | None,
              key_id: str | None) -> tokens.VerifierConfig:
    try:
        key = tokens.load_public_key(pem)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from exc
    return tokens.VerifierConfig(key=key, leeway=leeway, issuer=issuer, audience=audience, key_id=key_id)


def identify(headers: Mapping[str, str], settings: Settings, grants: Grants | None = None) -> Caller | None:
    """The caller named by the request's credentials; None when it carries none (a nonce may apply).
    ``grants`` gives the roles of Tapis v3 callers (default: ``ABACO_ROLE_GRANTS`` alone)."""
    if settings.access_control == "none":
        return _anonymous(headers, settings)
    credentials = _credentials(headers)
    if not credentials:
        return None
    if len(credentials) > 1:
        raise Unauthenticated("more than one identity header")
    name, value = credentials[0]
    lookup = grants or functools.partial(configured_grants, settings)
    try:
        if name == TAPIS_HEADER:
            return _v3(value.strip(), settings, lookup)
        if name == "authorization":
            return _bearer(value, settings, lookup)
        return _v2(name, value, settings)
    except tokens.InvalidToken as exc:
        raise Unauthenticated(str(exc)) from exc


def _anonymous(headers: Mapping[str, str], settings: Settings) -> Caller:
    lowered = {k.lower(): v for k, v in headers.items()}
    tenant = lowered.get("tenant") or settings.tenant
    if not TENANT_PATTERN.match(tenant):
        raise Unauthenticated("invalid tenant header")
    return Caller(username="anonymous", tenant=tenant, roles=(Role.ADMIN.value,))


def _credentials(headers: Mapping[str, str]) -> list[tuple[str, str]]:
    found = []
    for name, value in headers.items():
        lowered = name.lower()
        if lowered.startswith(V2_HEADER_PREFIX) or (lowered in ("authorization", TAPIS_HEADER) and value):
            found.append((lowered, value))
    return found


def _v2(header: str, token: str, settings: Settings) -> Caller:
    tenant = header[len(V2_HEADER_PREFIX):].upper()
    if not TENANT_PATTERN.match(tenant):
        raise tokens.InvalidToken("invalid tenant in the header name")
    claims = tokens.verify(token.strip(), verifier(settings, tenant))
    claimed = claims.get("tenant")
    if claimed is not None and str(claimed).upper() != tenant:
        raise tokens.InvalidToken("the header tenant and the token tenant differ")
    own_key = tenant in _tenant_keys(settings)
    if claimed is None and not own_key and not settings.jwt_trust_header_tenant:
        raise tokens.InvalidToken("a global-key token without a tenant claim is not bound to the header's tenant")
    user = claims.get(WSO2_USER)
    if not isinstance(user, str) or not user:
        raise tokens.InvalidToken("no enduser claim")
    username = user.split("@", 1)[0]
    raw_roles = claims.get(WSO2_ROLES, list(V2_DEFAULT_ROLES))
    return _caller(username, tenant, raw_roles, settings, jwt_header_name=_header_title(header))


def _bearer(value: str, settings: Settings, grants: Grants) -> Caller:
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise tokens.InvalidToken("not a bearer credential")
    if tapis.is_tapis_token(token.strip()):
        return _v3(token.strip(), settings, grants)
    named = tokens.unverified_claim(token.strip(), "tenant")  # only picks the key; verified just below
    claims = tokens.verify(token.strip(), verifier(settings, named if isinstance(named, str) else None))
    tenant, username = claims.get("tenant"), claims.get("sub")
    if not isinstance(tenant, str) or not TENANT_PATTERN.match(tenant):
        raise tokens.InvalidToken("no valid tenant claim")
    if not isinstance(username, str) or not username:
        raise tokens.InvalidToken("no sub claim")
    return _caller(username, tenant, claims.get("roles", [Role.USER.value]), settings)


def _v3(token: str, settings: Settings, grants: Grants) -> Caller:
    """A Tapis v3 access token (or an actor token the platform minted): user, then roles from the store."""
    def key_for(tenant: str, kid: Any) -> tokens.VerifierConfig:
        if isinstance(kid, str) and kid.startswith(platform_tokens.KID_PREFIX):
            try:
                return platform_tokens.verifier(settings)
            except Exception as exc:  # a missing key file or KMS outage: refused like any unverifiable token
                raise tokens.InvalidToken(f"platform key unavailable: {type(exc).__name__}") from exc
        return verifier(settings, tenant)

    identity = tapis.verify(token, key_for)
    granted = grants(identity.tenant, identity.username)
    base = [] if Role.LIMITED.value in canonical_roles(granted) else [Role.USER.value]  # everyone else: user
    caller = _caller(identity.username, identity.tenant, [*base, *granted], settings)
    execution = platform_tokens.execution_of(identity.claims)
    return dataclasses.replace(caller, execution=execution) if execution else caller


def configured_grants(settings: Settings, tenant: str, username: str) -> tuple[str, ...]:
    """The roles ``ABACO_ROLE_GRANTS`` gives (tenant names compare without case, as v2 headers do)."""
    users = settings.role_grants.get(tenant)
    if users is None:
        users = next((u for t, u in settings.role_grants.items() if t.upper() == tenant.upper()), {})
    return tuple(users.get(username, ()))


def _caller(username: str, tenant: str, raw_roles: Any, settings: Settings,
            jwt_header_name: str | None = None) -> Caller:
    if not USERNAME_PATTERN.match(username):
        raise tokens.InvalidToken("invalid username")
    roles = canonical_roles(raw_roles, settings.user_role)
    if not roles:
        raise NotAuthorized(MISSING_ROLE)
    return Caller(username=username, tenant=tenant, roles=roles, jwt_header_name=jwt_header_name)


def _header_title(lowered: str) -> str:
    """``x-jwt-assertion-dev-develop`` -> ``X-Jwt-Assertion-Dev-Develop`` (what Abaco puts in the env)."""
    return "-".join(part.capitalize() for part in lowered.split("-"))
