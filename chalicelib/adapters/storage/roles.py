"""The roles table: PK ``tenant``, SK ``username``; the roles a principal's latest request carried.

Roles live in the identity provider's tokens, not here: this table only remembers what the API last saw,
so that a runner (which never sees a token) can refuse a privileged actor whose owner lost the role
(reliability plan §3.3, gate 3). One small item per principal, overwritten when the roles change.
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
