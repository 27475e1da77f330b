"""The run-time gates of privileged actors (reliability plan §3.3, gates 2, 3 and 5).

Before a privileged actor's container is created the runner checks, every time: that it runs on a
runner flagged for privileged actors; that the actor's owner still holds the privileged or admin role
(as last seen by the API, ``chalicelib.services.roles``), so a revoked role stops the next run with a
clear ERROR; and it writes one structured audit line (logger ``abaco.audit``) for every privileged run.
"""
from __future__ import annotations

import datetime as dt
import logging

from chalicelib.adapters.storage.roles import Seen
from chalicelib.domain.models import Actor, Execution, parse_time
from chalicelib.services.roles import holds_privilege
from chalicelib.wiring.backend import Backend
from runners.pipeline.hardening import privilege_refusal

AUDIT = logging.getLogger("abaco.audit")
AUDIT_EVENT = "privileged_run"


def owner_refusal(actor: Actor, seen: Seen | None, max_age: int = 0, now: dt.datetime | None = None) -> str | None:
    """Why a privileged actor may not run for lack of its owner's role (None when it may). With
    ``max_age`` (``ABACO_PRIVILEGED_ROLE_MAX_AGE``) the role must also have been seen that recently: an
    owner who stopped calling the API (messages can still come by nonce, link or cron) loses it then."""
    if not actor.privileged:
        return None
    if seen is None or not holds_privilege(seen.roles):
        held = ", ".join(seen.roles) if seen and seen.roles else "none recorded"
        return (f"privileged actor refused: its owner {actor.owner} no longer holds the privileged or admin "
                f"role (roles: {held})")
    if max_age <= 0:
        return None
    seen_at = parse_time(seen.seen_at)
    age = int(((now or dt.datetime.now(dt.UTC)) - seen_at).total_seconds()) if seen_at else None
    if age is None or age > max_age:
        when = f"{age} s ago" if age is not None else "at an unknown time"
        return (f"privileged actor refused: its owner {actor.owner}'s privileged role was last seen {when} "
                f"(ABACO_PRIVILEGED_ROLE_MAX_AGE={max_age}); any request by the owner renews it")
    return None


def admit(backend: Backend, actor: Actor, execution: Execution, runner_id: str, worker_id: str) -> str | None:
    """None when this runner may run this execution now (audited when privileged), else the reason."""
    refusal = privilege_refusal(actor, backend.settings.runner_privileged)
    if refusal or not actor.privileged:
        return refusal
    refusal = owner_refusal(actor, backend.roles.find(actor.tenant, actor.owner),
                            backend.settings.privileged_role_max_age)
    audit(actor, execution, runner_id, worker_id, refusal)
    return refusal


def audit(actor: Actor, execution: Execution, runner_id: str, worker_id: str, refusal: str | None) -> None:
    """One JSON line per privileged run (or refusal): who, which actor and execution, where."""
    fields = {"audit": AUDIT_EVENT, "tenant": actor.tenant, "actor_id": actor.id, "owner": actor.owner,
              "execution_id": execution.id, "attempt": execution.attempt, "image": actor.image,
              "runner_id": runner_id, "worker_id": worker_id, "allowed": refusal is None}
    if refusal:
        AUDIT.warning("privileged run refused: %s", refusal, extra=fields)
    else:
        AUDIT.info("privileged run of actor %s for %s, execution %s", actor.id, actor.owner, execution.id,
                   extra=fields)
