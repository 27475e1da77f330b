"""Roles the platform grants, and what the runners know of roles (reliability plan §3.3, gates 3 and 4).

Tapis v3 tokens and actor tokens carry no roles: theirs come from the role store, read on every request
(no cache, so a revocation holds from the next request): a grant written by the admin API
(``/actors/admin/roles/{username}``, ``chalicelib.api.roles``) or else ``ABACO_ROLE_GRANTS``. Other roles
arrive in JWTs. ``observe`` records, per principal, the roles of its latest request in the
roles table, so a runner can re-check that a privileged actor's owner still holds the privileged or
admin role (``chalicelib.adapters.storage.roles``). Each API process writes a principal's roles when they change,
and at most every ROLE_REFRESH_SECONDS otherwise (another process may have recorded other roles since).
Nonce requests record nothing: their roles are the nonce's, capped at ``user`` (``nonce_roles``).
"""
from __future__ import annotations

import re
import threading
import time
from typing import Any

from chalicelib.domain import bodies
from chalicelib.domain.errors import BadRequest
from chalicelib.domain.responses import RoleGrantResponse, made
from chalicelib.identity.auth import USERNAME_PATTERN, Caller, Role, canonical_roles, configured_grants
from chalicelib.wiring.backend import Backend
from chalicelib.wiring.settings import GRANTABLE_ROLES

# A username the roles API takes: no controls, blanks or '#', the same class in Python and in the OpenAPI
# document's ECMA regex (chalicelib/edge/openapi), so what the document allows the API accepts.
GRANT_USERNAME = r"^[^\u0000-\u0020#\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]{1,128}$"
ROLE_REFRESH_SECONDS = 60.0
MAX_REMEMBERED = 10_000  # principals one API process remembers before starting over
PRIVILEGE_ROLES = frozenset({Role.ADMIN.value, Role.PRIVILEGED.value})
_seen: dict[tuple[str, str, str], tuple[tuple[str, ...], float]] = {}
_lock = threading.Lock()


def holds_privilege(roles: tuple[str, ...] | list[str] | None) -> bool:
    """Whether these roles may own a privileged actor (Abaco's ``check_privileged``: admin or privileged)."""
    return bool(roles) and bool(PRIVILEGE_ROLES & set(roles or ()))


def nonce_roles(roles: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The roles a nonce acts with: at most ``user`` (gate 4). A nonce is a bearer secret that can leak;
    upstream copied the creator's roles into it forever, admin included."""
    if set(roles) & (PRIVILEGE_ROLES | {Role.USER.value}):
        return (Role.USER.value,)
    return tuple(r for r in roles if r == Role.LIMITED.value)


def observe(backend: Backend, caller: Caller) -> None:
    """Record the roles this (token-bearing) caller presented, when changed or due for a refresh."""
    if caller.nonce:
        return
    key = (backend.settings.resource_prefix, caller.tenant, caller.username)
    now = time.monotonic()
    with _lock:
        last = _seen.get(key)
        if last is not None and last[0] == caller.roles and now - last[1] < ROLE_REFRESH_SECONDS:
            return
    backend.roles.record(caller.tenant, caller.username, caller.roles)
    with _lock:
        if len(_seen) >= MAX_REMEMBERED:
            _seen.clear()
        _seen[key] = (caller.roles, now)


def granted(backend: Backend, tenant: str, username: str) -> tuple[str, ...]:
    """The Tapis v3 role names this user holds now: the stored grant, else the configured one."""
    stored = backend.roles.granted(tenant, username)
    if stored is not None:
        return stored.roles
    return configured_grants(backend.settings, tenant, username)


def show(backend: Backend, caller: Caller, username: str) -> dict[str, Any]:
    """The grant as the roles API shows it, with where it comes from."""
    _check_username(username)
    stored = backend.roles.granted(caller.tenant, username)
    if stored is not None:
        return made(RoleGrantResponse, username=username, tenant=caller.tenant, roles=list(stored.roles),
                    source="api", granted_by=stored.granted_by, granted_at=stored.granted_at)
    roles = configured_grants(backend.settings, caller.tenant, username)
    return made(RoleGrantResponse, username=username, tenant=caller.tenant, roles=list(roles),
                source="settings" if roles else "none")


def _roles(names: Any) -> list[str]:
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise BadRequest("roles: a list of at least one role name is required (DELETE revokes them all).")
    unknown = [n for n in names if n not in GRANTABLE_ROLES]
    if unknown:
        raise BadRequest(f"roles: unknown role names {unknown}; use {list(GRANTABLE_ROLES)}.")
    return names


Roles = bodies.checked(list[str], lambda v, _i: _roles(v), {
    "type": "array", "minItems": 1, "items": {"type": "string", "enum": list(GRANTABLE_ROLES)}})


class RolesInput(bodies.Body):
    roles: Roles


def put(backend: Backend, caller: Caller, username: str, body: dict[str, Any]) -> dict[str, Any]:
    """Replace the user's roles in the caller's tenant (``{"roles": ["abaco_admin"]}``)."""
    _check_username(username)
    names = RolesInput.of(body).roles
    backend.roles.grant(caller.tenant, username, tuple(dict.fromkeys(names)), caller.username)
    _reseen(backend, caller.tenant, username, tuple(names))
    return show(backend, caller, username)


def revoke(backend: Backend, caller: Caller, username: str) -> dict[str, Any]:
    """Take every granted role away (an empty grant: ``ABACO_ROLE_GRANTS`` no longer applies either)."""
    _check_username(username)
    backend.roles.grant(caller.tenant, username, (), caller.username)
    _reseen(backend, caller.tenant, username, ())
    return show(backend, caller, username)


def _reseen(backend: Backend, tenant: str, username: str, granted: tuple[str, ...]) -> None:
    """Record the new roles as the user's latest, so the runners' privileged gate sees a revocation now,
    not at the user's next request. A v2 user's own token re-records its roles at that next request."""
    if backend.roles.find(tenant, username) is None:
        return
    base = [] if Role.LIMITED.value in canonical_roles(granted) else [Role.USER.value]
    backend.roles.record(tenant, username, canonical_roles([*base, *granted]))


def _check_username(username: str) -> None:
    if not re.fullmatch(GRANT_USERNAME, username) or not USERNAME_PATTERN.match(username):
        raise BadRequest("invalid username.")
