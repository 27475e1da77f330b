"""Pure logic of the behaviours Abaco clients rely on: which events an actor's link and webhook get, a
nonce's ttl and how it is shown, and how many workers an admin may ask for (reference §4.8, §1.9, §1.7)."""
from __future__ import annotations

import re
from typing import Any

import pytest

from chalicelib.domain.errors import BadRequest
from chalicelib.domain.models import Actor, Nonce
from chalicelib.edge.openapi import inputs as doc
from chalicelib.services import events, nonces, workers
from chalicelib.wiring.settings import Settings


def _actor(**kw: Any) -> Actor:
    return Actor(tenant="T", id="A1", image="img", owner="o", **kw)


class _Queues:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send_event(self, message: Any) -> None:
        self.sent.append(message.event["event_type"])


@pytest.mark.parametrize("event_type", ["ACTOR_READY", "ACTOR_ERROR", "EXECUTION_COMPLETE"])
def test_abacos_events_go_to_every_link_and_webhook(event_type: str) -> None:
    assert events.wanted(_actor(link="B2"), event_type)
    assert events.wanted(_actor(webhook="https://example.org/h"), event_type)
    assert not events.wanted(_actor(), event_type)


def test_execution_started_goes_only_to_actors_with_the_opt_in_hint() -> None:
    assert not events.wanted(_actor(link="B2"), "EXECUTION_STARTED")
    assert not events.wanted(_actor(link="B2", hints=["sync"]), "EXECUTION_STARTED")
    assert events.wanted(_actor(link="B2", hints=["sync", events.EXECUTION_STARTED_HINT]), "EXECUTION_STARTED")
    assert not events.wanted(_actor(hints=[events.EXECUTION_STARTED_HINT]), "EXECUTION_STARTED")  # nowhere to go


def test_publish_drops_an_unwanted_started_event() -> None:
    queues = _Queues()
    plain, opted = _actor(link="B2"), _actor(link="B2", hints=[events.EXECUTION_STARTED_HINT])
    for actor in (plain, opted):
        for kind in (events.EventType.EXECUTION_STARTED, events.EventType.ACTOR_READY):
            events.publish(queues, actor, events.actor_event(actor, kind))  # type: ignore[arg-type]
    assert queues.sent == ["ACTOR_READY", "EXECUTION_STARTED", "ACTOR_READY"]


@pytest.mark.parametrize(("value", "expected"), [(None, None), ("", None), (1, 1), (" +0060 ", 60),
                                                 (nonces.MAX_TTL, nonces.MAX_TTL), (3600.0, 3600)])
def test_a_ttl_is_seconds_from_one_to_the_maximum(value: Any, expected: int | None) -> None:
    assert nonces.parse_ttl({"ttl": value}) == expected


@pytest.mark.parametrize("value", [0, -1, nonces.MAX_TTL + 1, "1h", "1_000", True, 2.5, "-0"])
def test_any_other_ttl_is_a_400(value: Any) -> None:
    with pytest.raises(BadRequest, match="ttl"):
        nonces.parse_ttl({"ttl": value})


@pytest.mark.parametrize("text", ["1", " 7 ", "+0042", "999999999", "0", "1000000000", "-3", "x", "1.5", ""])
def test_the_documented_ttl_pattern_is_what_the_service_accepts(text: str) -> None:
    schema = doc.request_schemas(["default"])["NonceInput"]["properties"]["ttl"]
    pattern = doc.spell_spaces(schema)["oneOf"][1]["pattern"]
    try:
        accepted = nonces.parse_ttl({"ttl": text}) is not None
    except BadRequest:
        accepted = False
    assert (re.search(pattern, text) is not None) == accepted, text


def _nonce(**kw: Any) -> Nonce:
    return Nonce(tenant="T", handle="h" * 32, secret_hash="x", owner="o", actor_id="A1", **kw)


def test_a_nonce_shows_its_id_only_when_given_and_its_expiry_as_a_time() -> None:
    shown = nonces.display(_nonce(expires_at=0), "T_" + "a" * 64)
    assert shown["id"] == "T_" + "a" * 64 and shown["handle"] == "h" * 32
    assert shown["expires_at"] == "1970-01-01T00:00:00.000000Z"
    hidden = nonces.display(_nonce(secret_cipher="fernet:sealed"))
    assert hidden["id"] is None and hidden["expires_at"] is None
    assert "secret_cipher" not in hidden and "secret_hash" not in hidden and "fernet:sealed" not in str(hidden)


def test_a_nonce_expires_at_its_expiry_not_before() -> None:
    assert not nonces.expired(_nonce(), 10 ** 12)
    assert not nonces.expired(_nonce(expires_at=100), 99.9)
    assert nonces.expired(_nonce(expires_at=100), 100)


def test_an_admin_may_ask_for_up_to_the_platform_maximum_even_for_a_stateful_actor() -> None:
    settings = Settings(max_workers_per_actor=5)
    assert workers.max_slots(_actor(stateless=False), settings) == 1  # scaling keeps it at one
    assert workers.explicit_limit(_actor(stateless=False), settings) == 5
    assert workers.explicit_limit(_actor(max_workers=2), settings) == 5
    assert workers.explicit_limit(_actor(max_workers=9), settings) == 9
