"""Pure logic of the runtime contract: message parsing, log expiry, cron slots, webhook address vetting,
the container's files and environment overlay, the results collector and event publishing."""
from __future__ import annotations

import datetime as dt
import socket
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from chalicelib.adapters.payloads import Pointer
from chalicelib.adapters.storage.results import MAX_RESULT_BYTES, SEQ_PER_ATTEMPT, result_seq
from chalicelib.domain import cron
from chalicelib.domain.errors import BadRequest
from chalicelib.domain.expiry import log_ex_seconds, log_expires_at
from chalicelib.domain.models import Actor, ActorStatus, Execution, ExecutionStatus
from chalicelib.domain.queue_messages import EventMessage
from chalicelib.edge import staging
from chalicelib.services import events
from chalicelib.services.messages import parse_message
from chalicelib.wiring.settings import Settings
from runners.duties.cron import next_slot, schedule_of
from runners.pipeline.delivery import Delivery
from runners.pipeline.results import ResultsCollector

BINARY = "application/octet-stream"


# --- message parsing ---------------------------------------------------------------------------

def test_binary_bodies_need_a_content_length_within_the_maximum() -> None:
    parsed = parse_message(BINARY, b"\x00\x01", None, None, content_length="2", max_length=10)
    assert (parsed.content_type, parsed.body, parsed.binary, parsed.echo) == (BINARY, None, b"\x00\x01",
                                                                              "binary - omitted")
    with pytest.raises(BadRequest, match="Content Length required"):
        parse_message(BINARY, b"x", None, None, content_length=None)
    with pytest.raises(BadRequest, match="must be an integer"):
        parse_message(BINARY, b"x", None, None, content_length="ten")
    with pytest.raises(BadRequest, match="max content length of: 10"):
        parse_message(BINARY, b"x", None, None, content_length="11", max_length=10)


def test_a_staged_body_needs_no_bytes_and_a_message_field_still_wins() -> None:
    pointer = Pointer("messages/staged/k", 5, "ab")
    assert parse_message(BINARY, b"", None, None, staged=pointer).staged == pointer
    assert parse_message(BINARY, b"", {"message": "text"}, None, staged=pointer).body == "text"


def test_raw_json_bodies_become_str_messages_in_pythons_repr() -> None:
    parsed = parse_message("text/plain", b'{"a": [true, null]}', None, None)
    assert (parsed.content_type, parsed.body, parsed.echo) == ("str", "{'a': [True, None]}", {"a": [True, None]})
    assert parse_message(None, b"", None, {"message": {"k": 1}}).body == "{'k': 1}"  # reqparse's str()


def test_staged_offers_ride_in_their_request_and_are_taken_once() -> None:
    pointer = Pointer("k", 1, "h")
    context, offer = staging.context_for(pointer)
    request = SimpleNamespace(context={"httpMethod": "POST", **context})
    assert staging.take(request) == pointer and offer.taken
    assert staging.take(request) is None
    assert staging.take(SimpleNamespace(context={"httpMethod": "POST"})) is None  # another request: nothing
    # What API Gateway (or anything a client controls) could put there is plain data, never an offer.
    forged = SimpleNamespace(context={staging.CONTEXT_KEY: {"pointer": {"key": "k", "size": 1, "sha256": "h"}}})
    assert staging.take(forged) is None


# --- log expiry --------------------------------------------------------------------------------

def _settings(**kw: Any) -> Settings:
    return Settings(**{"log_ex": 100, "log_ex_limit": 1000, **kw})


@pytest.mark.parametrize(("tenant", "actor_log_ex", "expected"), [
    ("T", None, 100),  # the global default
    ("T", 500, 500),  # an actor's own value under the ceiling
    ("T", 5000, 1000),  # capped at the global ceiling
    ("T", -1, 1000),  # "forever" is capped too
    ("SHORT", None, 7),  # the tenant default
    ("CAPPED", 50, 20),  # the tenant ceiling
    ("CAPPED", None, 20),  # a default over the tenant ceiling is capped
])
def test_log_ex_defaults_and_ceilings(tenant: str, actor_log_ex: int | None, expected: int) -> None:
    settings = _settings(tenant_log_ex={"SHORT": 7}, tenant_log_ex_limit={"CAPPED": 20})
    assert log_ex_seconds(settings, tenant, actor_log_ex) == expected


def test_no_ceiling_and_no_positive_value_keeps_logs() -> None:
    settings = _settings(log_ex=-1, log_ex_limit=0)
    assert log_expires_at(settings, "T", None, now=10) is None
    assert log_expires_at(_settings(), "T", 30, now=10) == 40


# --- cron slots --------------------------------------------------------------------------------

def test_cron_next_slot_is_strictly_after_the_current_hour() -> None:
    hourly = schedule_of("2020-01-01 00 + 1 hour")
    now = dt.datetime(2030, 5, 1, 10)
    assert next_slot(dt.datetime(2030, 5, 1, 10), hourly, now) == dt.datetime(2030, 5, 1, 11)
    assert next_slot(dt.datetime(2030, 5, 1, 4), hourly, now) == dt.datetime(2030, 5, 1, 11)  # catch-up once
    daily = schedule_of("2020-01-01 07 + 2 days")
    assert next_slot(dt.datetime(2030, 4, 20, 7), daily, now) == dt.datetime(2030, 5, 2, 7)
    monthly = schedule_of("2020-01-31 09 + 1 month")
    assert next_slot(dt.datetime(2030, 1, 31, 9), monthly, dt.datetime(2030, 3, 1, 0)) == dt.datetime(2030, 3, 28, 9)
    with pytest.raises(BadRequest):
        schedule_of("2020-01-01 00")
    assert cron.format_slot(dt.datetime(2030, 5, 1, 11)) == "2030-5-1 11"


# --- the container's files ---------------------------------------------------------------------

def test_delivery_overlays_and_removes_variables(tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        delivery = Delivery(tmp_path, sock, env={"_abaco_message_file": "/_abaco_message"}, unset=("MSG",))
        assert delivery.apply({"MSG": "x", "A": "1"}) == {"A": "1", "_abaco_message_file": "/_abaco_message"}


class _Results:
    """An in-memory result store with the one method the collector uses."""

    def __init__(self) -> None:
        self.items: list[tuple[str, int, bytes]] = []

    def append(self, key: str, seq: int, data: bytes, expires_at: int) -> None:
        self.items.append((key, seq, data))


def test_results_collector_keeps_each_datagram_and_drops_oversized_ones(tmp_path: Path) -> None:
    path = str(tmp_path / "r.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    server.bind(path)
    store = _Results()
    collector = ResultsCollector(server, store, "K", attempt=2, ttl_seconds=60)  # type: ignore[arg-type]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        client.connect(path)
        for payload in (b"a", b"x" * MAX_RESULT_BYTES, b"y" * (MAX_RESULT_BYTES + 1), b"b"):
            client.send(payload)
    assert collector.finish() == 3 and collector.dropped == 1
    assert collector.finish() == 3  # idempotent
    server.close()
    assert [data[:1] for _, _, data in store.items] == [b"a", b"x", b"b"]
    assert [seq for _, seq, _ in store.items] == [result_seq(2, n) for n in (1, 2, 3)]
    assert result_seq(3, 1) > result_seq(2, SEQ_PER_ATTEMPT - 1)


# --- events ------------------------------------------------------------------------------------

class _Queues:
    def __init__(self) -> None:
        self.sent: list[EventMessage] = []

    def send_event(self, message: EventMessage) -> None:
        self.sent.append(message)


def _actor(**kw: Any) -> Actor:
    return Actor(tenant="T", id="A1", image="img", owner="o", **kw)


def test_events_are_published_only_for_actors_with_a_link_or_a_webhook() -> None:
    queues = _Queues()
    execution = Execution(tenant="T", actor_id="A1", id="E1", executor="o", status=ExecutionStatus.COMPLETE,
                          exit_code=3)
    event = events.execution_event(_actor(), execution, events.EventType.EXECUTION_COMPLETE)
    assert events.publish(queues, _actor(), event) is False  # type: ignore[arg-type]
    assert events.publish(queues, _actor(link="B2"), event) is True  # type: ignore[arg-type]
    sent = EventMessage.decode(queues.sent[0].encode())
    assert (sent.link, sent.event["execution_id"], sent.event["exit_code"]) == ("B2", "E1", 3)
    assert sent.event["event_type"] == "EXECUTION_COMPLETE" and sent.event["actor_dbid"] == "T_A1"
    assert sent.event["event_time_utc"].endswith("Z") and len(sent.event["event_time_utc"]) == 24


def test_status_changes_publish_ready_and_error() -> None:
    queues = _Queues()
    events.on_status(queues, None)  # type: ignore[arg-type]
    events.on_status(queues, _actor(webhook="https://example.org/h", status=ActorStatus.READY))  # type: ignore[arg-type]
    events.on_status(queues, _actor(webhook="https://example.org/h", status=ActorStatus.ERROR,  # type: ignore[arg-type]
                                    status_message="image missing"))
    events.on_status(queues, _actor(webhook="https://example.org/h", status=ActorStatus.SUBMITTED))  # type: ignore[arg-type]
    assert [(m.event["event_type"], m.event["status_message"]) for m in queues.sent] == [
        ("ACTOR_READY", ""), ("ACTOR_ERROR", "image missing")]
