"""What the runners know of roles (reliability plan §3.3, gates 3 and 4).

Roles arrive in JWTs only. ``observe`` records, per principal, the roles of its latest request in the
roles table, so a runner can re-check that a privileged actor's owner still holds the privileged or
admin role (``chalicelib.adapters.storage.roles``). Each API process writes a principal's roles when they change,
and at most every ROLE_REFRESH_SECONDS otherwise (another process may have recorded other roles since).
Nonce requests record nothing: their roles are the nonce's, capped at ``user`` (``nonce_roles``).
"""
from __future__ import annotations

import threading
import time

from chalicelib.identity.auth import Caller, Role
from chalicelib.wiring.backend import Backend

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
