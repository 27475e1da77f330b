"""The cron duty (reference §4.7): fire the actors whose ``cron_next_ex`` slot has come.

For each due actor the duty first moves ``cron_next_ex`` to the next slot with a conditional update (the
winner of that update alone fires, so two hosts never fire a slot twice), then, if ``cron_on``, sends
Abaco's static message "This is your cron execution" with executor ``cron``. A schedule that fell
behind (the duty was down, or cron was off) runs once and jumps to the first slot after the current
hour, instead of firing every missed slot (Abaco issue #106 and its repeated catch-up firing).
Slots are whole UTC hours; parsing and slot arithmetic live in ``chalicelib/domain/cron.py``.
"""
from __future__ import annotations

import datetime as dt
import logging
import time

from chalicelib.domain import cron
from chalicelib.domain.errors import AbacoError, BadRequest
from chalicelib.domain.models import Actor, ActorStatus
from chalicelib.services import messages
from chalicelib.wiring.backend import Backend

LOG = logging.getLogger("abaco.cron")
CRON_EXECUTOR = "cron"  # Abaco's executor of cron executions (no _abaco_username is set for them)
CRON_MESSAGE = "This is your cron execution"  # Abaco's static cron message


def run_once(backend: Backend, now: float | None = None) -> list[str]:
    """One pass over every actor; returns the ids of the executions it started."""
    epoch = time.time() if now is None else now
    current = cron.now_hour(dt.datetime.fromtimestamp(epoch, dt.UTC))
    fired = []
    for actor in backend.actors.all():
        if not actor.cron_schedule or not actor.cron_next_ex or actor.status == ActorStatus.SHUTTING_DOWN:
            continue
        try:
            execution_id = _visit(backend, actor, current, epoch)
        except AbacoError as exc:
            LOG.warning("cron of actor %s: %s", actor.id, exc)
            continue
        if execution_id:
            fired.append(execution_id)
    return fired


def _visit(backend: Backend, actor: Actor, current: dt.datetime, epoch: float) -> str | None:
    due = cron.parse_slot(actor.cron_next_ex or "")
    if due > current:
        return None
    following = next_slot(due, schedule_of(actor.cron_schedule or ""), current)
    if not backend.actors.advance_cron(actor.tenant, actor.id, actor.cron_next_ex or "", cron.format_slot(following)):
        return None
    if not actor.cron_on:
        return None  # Abaco: a schedule that is off still advances
    parsed = messages.ParsedMessage("str", CRON_MESSAGE, CRON_MESSAGE)
    execution = messages.submit(backend, actor, CRON_EXECUTOR, parsed, {"Time_msg_queued": f"{epoch:.6f}"})
    LOG.info("cron fired actor %s (slot %s): execution %s", actor.id, cron.format_slot(due), execution.id)
    return execution.id


def schedule_of(text: str) -> cron.Schedule:
    """The step of a stored schedule (its start is in the past by now, which ``cron.parse`` refuses)."""
    if "+" not in text:
        raise BadRequest(f"The cron schedule {text!r} is not in the correct format")
    return cron.parse("now +" + text.split("+", 1)[1])


def next_slot(due: dt.datetime, schedule: cron.Schedule, current: dt.datetime) -> dt.datetime:
    """The first slot of the schedule strictly after the current hour (the current one fires now)."""
    slot = cron.catch_up(cron.advance(due, schedule), schedule, current)
    return slot if slot > current else cron.advance(slot, schedule)
