"""The events duty: deliver queued actor and execution events (reference §4.8).

A link gets a new execution on the linked actor (executor ``Abaco Event``, the event as a JSON message);
a webhook gets one HTTP POST of the event. Every event message is deleted after one delivery attempt,
as Abaco acked them all. A leased duty (``runners/duties/scheduler.py``): one runner host at a time delivers, so
events of one actor keep their order as far as SQS keeps it.
"""
from __future__ import annotations

import http.client
import json
import logging
from typing import Any

from chalicelib.adapters import netguard
from chalicelib.domain.errors import AbacoError, NotFound
from chalicelib.domain.queue_messages import DecodeError, EventMessage
from chalicelib.services import aliases, messages
from chalicelib.wiring.backend import Backend

LOG = logging.getLogger("abaco.events")
EVENT_EXECUTOR = "Abaco Event"  # executor and _abaco_username of executions an event started
BATCH = 10  # SQS receive maximum
MAX_BATCHES = 20  # receives per pass; the rest waits for the next pass
INTERVAL_SECONDS = 1.0  # the duty's period: an event is delivered about a second after it happened


def run_once(backend: Backend, now: float | None = None) -> int:
    """One pass of the duty: deliver what is queued (up to ``MAX_BATCHES`` receives); returns how many."""
    url = backend.queues.events_url()
    handled = 0
    for _ in range(MAX_BATCHES):
        received = backend.queues.receive(url, wait_seconds=0, max_messages=BATCH)
        for message in received:
            try:
                deliver(backend, EventMessage.decode(message.body))
            except DecodeError as exc:
                LOG.error("dropping a malformed event: %s", exc)
            backend.queues.delete(url, message.receipt)
        handled += len(received)
        if len(received) < BATCH:
            break
    return handled


def deliver(backend: Backend, message: EventMessage) -> None:
    if message.link:
        _to_link(backend, message)
    if message.webhook:
        _to_webhook(backend, message)


def _to_link(backend: Backend, message: EventMessage) -> None:
    try:
        target = backend.actors.find(message.tenant, aliases.resolve(backend, message.tenant, message.link))
    except NotFound:
        target = None
    if target is None:
        LOG.warning("actor %s links to %s, which does not exist; event dropped", message.actor_id, message.link)
        return
    event: dict[str, Any] = message.event
    parsed = messages.ParsedMessage("application/json", json.dumps(event), event)
    try:
        messages.submit(backend, target, EVENT_EXECUTOR, parsed, {"_abaco_username": EVENT_EXECUTOR})
    except AbacoError as exc:
        LOG.error("could not deliver %s of %s to %s: %s", event.get("event_type"), message.actor_id,
                  target.id, exc)


def _to_webhook(backend: Backend, message: EventMessage) -> None:
    """One POST, vetted against private ranges by ``chalicelib.adapters.netguard`` (no retries, as in Abaco)."""
    body = json.dumps(message.event).encode()
    try:
        status = netguard.post(message.webhook, body, allow_private=backend.settings.allow_private_webhooks)
    except (netguard.UnsafeTarget, OSError, http.client.HTTPException) as exc:
        LOG.warning("webhook of actor %s not called: %s", message.actor_id, exc)
        return
    if status >= 400:
        LOG.warning("webhook of actor %s answered %d", message.actor_id, status)
