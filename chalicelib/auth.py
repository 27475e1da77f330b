"""Who is calling. ``access_control=none`` (local development) makes every caller ``anonymous`` with
Abaco's ``ALL`` role, in the tenant of the ``tenant`` header or the configured default."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from chalicelib.settings import Settings


@dataclass(frozen=True)
class Caller:
    username: str
    tenant: str
    roles: tuple[str, ...] = field(default_factory=tuple)
    jwt_header_name: str | None = None

    @property
    def is_admin(self) -> bool:
        return "ALL" in self.roles or "Internal/abaco-admin" in self.roles


def identify(headers: Mapping[str, str], settings: Settings) -> Caller:
    lowered = {k.lower(): v for k, v in headers.items()}
    tenant = lowered.get("tenant") or settings.tenant
    return Caller(username="anonymous", tenant=tenant, roles=("ALL",))
