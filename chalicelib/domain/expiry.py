"""Log expiry (Abaco's ``log_ex``, reference §4.6). Pure logic.

The effective expiry of an execution's logs is the actor's ``log_ex`` capped at the tenant's ceiling (or
the global one), else the tenant's default (or the global one). Zero or less keeps logs forever, as in
Tapis v3. DynamoDB expires items through the ``expires_at`` TTL attribute; reads filter on it too.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.wiring.settings import Settings


def log_ex_seconds(settings: Settings, tenant: str, actor_log_ex: int | None) -> int:
    """Seconds to keep an execution's logs; <= 0 means forever. A positive ceiling always wins: nobody
    keeps logs longer than the tenant (or the instance) allows, "forever" included."""
    default = settings.tenant_log_ex.get(tenant, settings.log_ex)
    ceiling = settings.tenant_log_ex_limit.get(tenant, settings.log_ex_limit)
    wanted = default if actor_log_ex is None else actor_log_ex
    if ceiling > 0 and (wanted <= 0 or wanted > ceiling):
        return ceiling
    return wanted


def log_expires_at(settings: Settings, tenant: str, actor_log_ex: int | None, now: float | None = None) -> int | None:
    """The TTL attribute for an execution's log items, or None to keep them."""
    seconds = log_ex_seconds(settings, tenant, actor_log_ex)
    return int(now if now is not None else time.time()) + seconds if seconds > 0 else None


def execution_expires_at(settings: Settings, tenant: str, now: float | None = None) -> int | None:
    """The TTL attribute of a terminal execution: ``execution_ex`` (or the tenant's), None to keep it."""
    seconds = settings.tenant_execution_ex.get(tenant, settings.execution_ex)
    return int(now if now is not None else time.time()) + seconds if seconds > 0 else None
