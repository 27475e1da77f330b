"""Actor and execution events (reference §4.8), published to the events queue when the actor has a
``link`` or a ``webhook``; the events duty on the runner hosts delivers them.

A link or webhook receives what Abaco sent: ``ACTOR_READY``, ``ACTOR_ERROR`` and ``EXECUTION_COMPLETE``.
Abaco declared ``EXECUTION_STARTED`` but never emitted it, so an existing link target (an event processor
written for Abaco) would take one as an unexpected message: it is opt-in, per actor, with the hint
``execution_started_events`` (``EXECUTION_STARTED_HINT``), and then sent right after the container starts.
Publishing never fails the caller: an event that cannot be queued is logged and dropped, as Abaco's
events were best effort too.
"""
from __future__ import annotations

import datetime as dt
import enum
import logging
from typing import Any

from chalicelib.adapters.queues import Queues
from chalicelib.domain.errors import AbacoError
from chalicelib.domain.models import Actor, ActorStatus, Execution
from chalicelib.domain.queue_messages import EventMessage

LOG = logging.getLogger("abaco.events")
EXECUTION_STARTED_HINT = "execution_started_events"  # the actor hint that opts in to EXECUTION_STARTED


class EventType(enum.StrEnum):
    ACTOR_READY = "ACTOR_READY"
    ACTOR_ERROR = "ACTOR_ERROR"
    EXECUTION_STARTED = "EXECUTION_STARTED"
    EXECUTION_COMPLETE = "EXECUTION_COMPLETE"


def _base(actor: Actor, event_type: EventType, now: dt.datetime | None = None) -> dict[str, Any]:
    moment = now or dt.datetime.now(dt.UTC)
    return {
        "tenant_id": actor.tenant,
        "event_type": event_type.value,
        "event_time_utc": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
        "event_time_display": moment.isoformat(),
        "actor_id": actor.id,
        "actor_dbid": actor.dbid,
        "_abaco_link": actor.link,
        "_abaco_webhook": actor.webhook,
    }


def actor_event(actor: Actor, event_type: EventType, status_message: str = "") -> dict[str, Any]:
    return {**_base(actor, event_type), "status_message": status_message}


def execution_event(actor: Actor, execution: Execution, event_type: EventType) -> dict[str, Any]:
    return {**_base(actor, event_type), "execution_id": execution.id, "status": execution.status.value,
            "exit_code": execution.exit_code}


def wanted(actor: Actor, event_type: str) -> bool:
    """Whether the actor's link and webhook get events of this type: every type Abaco sent, and
    ``EXECUTION_STARTED`` only with the opt-in hint."""
    if not (actor.link or actor.webhook):
        return False
    return event_type != EventType.EXECUTION_STARTED or EXECUTION_STARTED_HINT in actor.hints


def publish(queues: Queues, actor: Actor, event: dict[str, Any]) -> bool:
    """Queue the event when the actor has somewhere to send it and wants its type; True when it was queued."""
    if not wanted(actor, str(event.get("event_type"))):
        return False
    message = EventMessage(tenant=actor.tenant, actor_id=actor.id, link=actor.link_id or actor.link,
                           webhook=actor.webhook, event=event)
    try:
        queues.send_event(message)
    except AbacoError as exc:
        LOG.error("could not queue %s of actor %s: %s", event.get("event_type"), actor.id, exc)
        return False
    return True


def on_status(queues: Queues, actor: Actor | None) -> None:
    """After a status change that applied (``actor`` is the updated actor, None when nothing changed):
    ACTOR_READY or ACTOR_ERROR, as Abaco published them."""
    if actor is None:
        return
    if actor.status == ActorStatus.READY:
        publish(queues, actor, actor_event(actor, EventType.ACTOR_READY, actor.status_message))
    elif actor.status == ActorStatus.ERROR:
        publish(queues, actor, actor_event(actor, EventType.ACTOR_ERROR, actor.status_message))
