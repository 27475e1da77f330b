"""Per-user and per-tenant caps on actors and on concurrent workers.

One tenant's users share the platform's runner hosts, so one user (or one tenant) must not register actors
or start workers without bound. Actor caps are checked at registration against counts DynamoDB makes (the
tenant's actors, the owner's through the owner index: nothing listed); they are soft under concurrency
(two registrations racing past the last free place both succeed), which bounds the overshoot by the
concurrency of one user's requests. Worker caps apply to every worker beyond an actor's first: the first
worker of an actor with a message is never refused (Abaco's "ensure one worker", on every message), and
the actor cap bounds those. The counts come from the workers table, which holds live workers only (records
go when workers exit).
"""
from __future__ import annotations

from collections.abc import Iterable

from chalicelib.domain.errors import BadRequest
from chalicelib.domain.models import LIVE_WORKER_STATUSES, Actor, Worker
from chalicelib.wiring.backend import Backend


def check_new_actor(backend: Backend, tenant: str, owner: str) -> None:
    """Refuse a registration over the owner's or the tenant's actor cap (0: no cap)."""
    settings = backend.settings
    if not settings.max_actors_per_user and not settings.max_actors_per_tenant:
        return
    tenant_count = backend.actors.count(tenant) if settings.max_actors_per_tenant else 0
    if settings.max_actors_per_tenant and tenant_count >= settings.max_actors_per_tenant:
        raise BadRequest(f"The tenant already has {tenant_count} actors, its limit "
                         "(ABACO_MAX_ACTORS_PER_TENANT). Delete some before registering more.")
    owned = backend.actors.count(tenant, owner=owner) if settings.max_actors_per_user else 0
    if settings.max_actors_per_user and owned >= settings.max_actors_per_user:
        raise BadRequest(f"You already own {owned} actors, the limit per user (ABACO_MAX_ACTORS_PER_USER). "
                         "Delete some before registering more.")


def workers_left(backend: Backend, actor: Actor, workers: Iterable[Worker]) -> int:
    """How many more workers ``actor`` may get under its tenant's and its owner's caps, given every live
    worker of the platform (``backend.workers.all()``)."""
    settings = backend.settings
    live = [w for w in workers if w.status in LIVE_WORKER_STATUSES and w.tenant == actor.tenant]
    left = []
    if settings.max_workers_per_tenant:
        left.append(settings.max_workers_per_tenant - len(live))
    if settings.max_workers_per_user:
        left.append(settings.max_workers_per_user - sum(1 for w in live if w.owner == actor.owner))
    return max(0, min(left)) if left else 1_000_000
