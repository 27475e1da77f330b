"""Pure logic of the runner and storage: container environment, queue messages, logs, item codec."""
from __future__ import annotations

import json

import pytest

from chalicelib.adapters.storage.base import from_dynamo, to_dynamo
from chalicelib.adapters.storage.logs import TRUNCATION_MARKER, cap
from chalicelib.domain.models import Actor, Execution
from chalicelib.domain.queue_messages import DecodeError, InboxMessage, StartWorkerCommand
from runners.pipeline import environment
from runners.pipeline.collectors import LogCollector, StatsCollector


def _actor(**kw: object) -> Actor:
    return Actor(tenant="T", id="A1", image="img", owner="alice", **kw)


def _message(**kw: object) -> InboxMessage:
    base = {"tenant": "T", "actor_id": "A1", "execution_id": "E1", "body": "hello", "env": {"q": "1"}}
    base.update(kw)
    return InboxMessage(**base)


def test_environment_overlays_in_abacos_order() -> None:
    actor = _actor(default_environment={"q": "from-actor", "only": "actor", "n": 5}, state={"k": [1]})
    env = environment.build(actor, Execution(tenant="T", actor_id="A1", id="E1", executor="bob", attempt=2),
                            _message(), "W1", configs={"c": "v"})
    assert env["q"] == "1"  # message variables override the actor's default environment
    assert env["only"] == "actor" and env["n"] == "5"
    assert env["MSG"] == "hello"
    assert env["_abaco_actor_state"] == "{'k': [1]}"  # Python repr, as Abaco
    assert env["_actor_configs"] == "{'c': 'v'}"
    assert env["_abaco_actor_dbid"] == "T_A1" and env["_abaco_worker_id"] == "W1"
    assert env["_abaco_execution_attempt"] == "2" and env["_abaco_actor_name"] == "None"


def test_json_messages_are_python_reprs_and_binary_has_no_msg() -> None:
    assert environment.msg_value(_message(content_type="application/json", body='{"a": true}')) == "{'a': True}"
    assert environment.msg_value(_message(content_type="application/octet-stream", body=None)) is None


def test_oversized_variables_are_reported() -> None:
    assert environment.oversized({"MSG": "x" * environment.MAX_ENV_STRING}) == ["MSG"]
    assert environment.oversized({"MSG": "x" * 1000}) == []


def test_queue_messages_round_trip_and_reject_foreign_bodies() -> None:
    message = _message()
    assert InboxMessage.decode(message.encode()) == message
    command = StartWorkerCommand(tenant="T", actor_id="A", worker_id="W", image="i", revision=2)
    assert StartWorkerCommand.decode(command.encode()) == command
    for raw in ("not json", json.dumps({"v": 2, "tenant": "T"}), json.dumps({**json.loads(message.encode()), "x": 1})):
        with pytest.raises(DecodeError):
            InboxMessage.decode(raw)


def test_log_cap_appends_abacos_marker() -> None:
    assert cap("short", 10) == "short"
    capped = cap("x" * 20, 10)
    assert capped.startswith("x" * 10) and capped.endswith(TRUNCATION_MARKER)


def test_log_collector_caps_memory_and_joins_split_utf8() -> None:
    snowman = "☃".encode()
    chunks = [b"ab", snowman[:1], snowman[1:] + b"cd", b"e" * 100]
    collector = LogCollector(iter(chunks), limit=10)
    text = collector.finish()
    assert text.startswith("ab☃cd") and len(text) == 11  # limit + 1 tells the caller it was cut


def test_stats_collector_keeps_cumulative_maxima() -> None:
    samples = [{"cpu_stats": {"cpu_usage": {"total_usage": 10}},
                "blkio_stats": {"io_service_bytes_recursive": [{"op": "Read", "value": 5}]}},
               {"cpu_stats": {"cpu_usage": {"total_usage": 30}}, "networks": {"eth0": {"rx_bytes": 7}}}]
    stats = StatsCollector(lambda: iter(samples))
    assert stats.finish() == (30, 7)


def test_item_codec_round_trips_complex_fields() -> None:
    value = {"pk": "a", "n": 3, "f": 1.5, "flag": True, "doc": {"x": [1, {"y": None}]}, "gone": None}
    item = to_dynamo(value, frozenset({"doc"}))
    assert "gone" not in item and item["doc"] == {"S": json.dumps(value["doc"])}
    assert from_dynamo(item, frozenset({"doc"})) == {k: v for k, v in value.items() if v is not None}
