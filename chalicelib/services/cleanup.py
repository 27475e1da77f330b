"""The cleanup of deleted actors: their inbox, executions and logs, removed in bounded passes.

``DELETE /actors/{id}`` only marks the actor (``chalicelib/services/actors.py``): with 5,000 executions the
old synchronous delete ran one query per execution inside one API request. A pass here removes at most
``cleanup_batch`` executions (and their logs) over all deleted actors; an actor's item goes last, once
no execution is left, so a runner finishing an execution meanwhile still finds its actor. Executions still
waiting end ERROR first (their message went with the inbox); running ones are left to their runner, or
to the reconciler once that runner is gone, and are removed by a later pass. Logs carry their own TTL
(``log_ex``, capped by the tenant's ``log_ex_limit``) and go with it: only logs kept for ever (no ceiling)
are deleted here, one query per execution; the others cost the cleanup nothing, and no API path reaches
them once their execution is gone.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from chalicelib.adapters.storage.logs import execution_key
from chalicelib.domain.errors import AbacoError
from chalicelib.domain.expiry import log_ex_seconds
from chalicelib.domain.models import Actor, ExecutionStatus
from chalicelib.wiring.backend import Backend

LOG = logging.getLogger("abaco.cleanup")
ACTORS_PER_PASS = 10  # deleted actors looked at per pass (each costs a few calls even when done)
EXECUTION_ORPHANED = "actor deleted before the execution ran"
_TERMINAL = {ExecutionStatus.COMPLETE.value, ExecutionStatus.ERROR.value}


@dataclass
class Report:
    executions_removed: int = 0
    executions_ended: list[str] = field(default_factory=list)
    actors_removed: list[str] = field(default_factory=list)


def run_once(backend: Backend, now: float) -> Report:
    """One bounded pass over the actors being deleted."""
    report = Report()
    budget = backend.settings.cleanup_batch
    for tenant, actor_id in backend.actors.deleting(ACTORS_PER_PASS):
        if budget <= 0:
            break
        actor = backend.actors.find(tenant, actor_id)
        if actor is None:
            continue
        try:
            budget -= clean(backend, actor, budget, report)
        except AbacoError as exc:  # one actor's trouble does not stop the others
            LOG.warning("cleanup of actor %s: %s", actor.id, exc)
    if report.executions_removed or report.actors_removed:
        LOG.info("cleanup: removed %d execution(s), %d actor(s)", report.executions_removed,
                 len(report.actors_removed))
    return report


def clean(backend: Backend, actor: Actor, budget: int, report: Report) -> int:
    """Remove up to ``budget`` of the actor's executions; the actor itself when none is left. Returns
    the number of executions looked at."""
    backend.queues.delete_inbox(actor.tenant, actor.id)  # idempotent: nothing new can be received
    keys = backend.executions.keys_page(actor.dbid, budget)
    if not keys:
        for worker in backend.workers.list(actor.dbid):
            backend.workers.delete(actor.dbid, worker.id)
        backend.executions.forget_totals(actor.dbid)
        backend.actors.delete(actor.tenant, actor.id)
        report.actors_removed.append(actor.id)
        return 1
    done = [eid for eid, status in keys if status in _TERMINAL]
    for eid, status in keys:
        if status == ExecutionStatus.SUBMITTED.value:
            _end_waiting(backend, actor, eid, report)
    if log_ex_seconds(backend.settings, actor.tenant, actor.log_ex) <= 0:  # kept for ever: delete them
        for eid in done:
            backend.logs.delete(execution_key(actor.dbid, eid))
    backend.executions.delete_many(actor.dbid, done)
    report.executions_removed += len(done)
    return len(keys)


def _end_waiting(backend: Backend, actor: Actor, execution_id: str, report: Report) -> None:
    execution = backend.executions.find(actor.dbid, execution_id)
    if execution is not None and backend.executions.fail(execution, EXECUTION_ORPHANED,
                                                         only_from=ExecutionStatus.SUBMITTED):
        report.executions_ended.append(execution_id)
