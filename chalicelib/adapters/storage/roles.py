"""The roles table: PK ``tenant``, SK ``username``; the roles a principal's latest request carried.

Two kinds of item share the table. ``<username>``: what the API last saw a principal present, so that a
runner (which never sees a token) can refuse a privileged actor whose owner lost the role (reliability
plan §3.3, gate 3). ``grant#<username>``: the platform's own grant for tokens that carry no roles (Tapis v3
and actor tokens), written by the roles API; it overrides ``ABACO_ROLE_GRANTS`` for that user, and an empty
grant is a revocation. Usernames never contain ``#`` (``chalicelib.identity.auth.USERNAME_PATTERN``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.storage.base import Table
from chalicelib.domain.models import utcnow
from chalicelib.wiring.resources import ROLES
from chalicelib.wiring.settings import Settings


@dataclass(frozen=True)
class Seen:
    roles: tuple[str, ...]
    seen_at: str  # ISO-8601 UTC, as ``utcnow`` writes it


GRANT_PREFIX = "grant#"


@dataclass(frozen=True)
class Grant:
    roles: tuple[str, ...]
    granted_by: str
    granted_at: str


def _key(tenant: str, username: str) -> dict[str, Any]:
    return {"tenant": {"S": tenant}, "username": {"S": username}}


class RoleStore:
    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self._table = Table(ROLES, settings, client)

    def record(self, tenant: str, username: str, roles: tuple[str, ...]) -> None:
        self._table.put({**_key(tenant, username), "roles": {"L": [{"S": r} for r in roles]},
                         "seen_at": {"S": utcnow()}})

    def find(self, tenant: str, username: str) -> Seen | None:
        """The roles last seen and when (None: this principal never reached the API with credentials)."""
        item = self._table.get(_key(tenant, username))
        if item is None:
            return None
        return Seen(tuple(r["S"] for r in item.get("roles", {}).get("L", [])), item.get("seen_at", {}).get("S", ""))

    def grant(self, tenant: str, username: str, roles: tuple[str, ...], by: str) -> Grant:
        """Replace the user's grant (an empty tuple revokes every role, ``ABACO_ROLE_GRANTS`` included)."""
        grant = Grant(tuple(roles), by, utcnow())
        self._table.put({**_key(tenant, GRANT_PREFIX + username), "roles": {"L": [{"S": r} for r in roles]},
                         "granted_by": {"S": by}, "granted_at": {"S": grant.granted_at}})
        return grant

    def granted(self, tenant: str, username: str) -> Grant | None:
        """The stored grant (None: the roles API never set one, ``ABACO_ROLE_GRANTS`` applies).
        A strongly consistent read, so a revocation holds from the next request on."""
        item = self._table.get(_key(tenant, GRANT_PREFIX + username))
        if item is None:
            return None
        return Grant(tuple(r["S"] for r in item.get("roles", {}).get("L", [])),
                     item.get("granted_by", {}).get("S", ""), item.get("granted_at", {}).get("S", ""))

    def forget_grant(self, tenant: str, username: str) -> None:
        """Drop the stored grant: the user falls back to ``ABACO_ROLE_GRANTS``."""
        self._table.delete(_key(tenant, GRANT_PREFIX + username))
