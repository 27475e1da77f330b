"""The in-container library's typed context and its tapipy-style ``actors`` calls (SDK or stdlib)."""
from __future__ import annotations

import json
from typing import Any

from abaco_sdk.actors import ActorsApi
from agavepy import actors
from agavepy.stdlib_actors import StdlibActors

from tests.unit.test_containerlib import api  # noqa: F401 (the recording HTTP server fixture)

ENV = {
    "MSG": "{'greeting': 'hi', 'n': 2}",
    "_abaco_Content_Type": "application/json",
    "_abaco_execution_id": "E1",
    "_abaco_actor_id": "A1",
    "_abaco_actor_revision": "3",
    "_abaco_execution_attempt": "1",
    "_abaco_access_token": "secret-token",
    "_abaco_actor_state": "{'count': 1}",
    "_actor_configs": "{'db': 'postgres://x'}",
    "CUSTOM": "yes",
}


def test_typed_context_has_typed_fields_and_hides_the_token() -> None:
    ctx = actors.get_typed_context(ENV)
    assert ctx.message == {"greeting": "hi", "n": 2} and ctx.message_dict["n"] == 2
    assert ctx.is_json and not ctx.is_binary
    assert ctx.actor_revision == 3 and ctx.execution_attempt == 1
    assert ctx.state == {"count": 1} and ctx.configs == {"db": "postgres://x"}
    assert ctx.environment == {"CUSTOM": "yes"} and ctx.access_token == "secret-token"
    assert "secret-token" not in repr(ctx)


def test_typed_context_of_a_binary_message() -> None:
    ctx = actors.get_typed_context({"_abaco_Content_Type": "application/octet-stream", "_abaco_actor_id": "A1"})
    assert ctx.is_binary and ctx.raw_message is None and ctx.message_dict == {} and ctx.actor_revision is None


def test_get_client_actors_is_the_sdk_when_installed() -> None:
    client = actors.get_client({"_abaco_api_server": "http://127.0.0.1:1", "_abaco_access_token": "tok"})
    assert isinstance(client.actors, ActorsApi)
    assert client.actors.transport.headers()["Authorization"] == "Bearer tok"


def test_stdlib_actors_speak_the_same_verbs(api: Any) -> None:  # noqa: F811
    client = actors.AbacoClient(api.url, "tok")
    subset = StdlibActors(client)
    assert subset.send_message(actor_id="A1", message="hello") == {"echo": "/actors/A1/messages"}
    subset.send_message("A1", request_body={"k": 1})
    subset.send_binary_message("A1", b"\x00\x01")
    subset.update_state("A1", {"count": 2})
    assert subset.get_execution("A1", "E/1") == {"echo": "/actors/A1/executions/E%2F1"}
    sent = [(r[0], r[1], r[2].get("Content-Type"), r[3]) for r in api.requests]
    assert sent[0][3] == b'{"message": "hello"}' and json.loads(sent[1][3]) == {"k": 1}
    assert sent[2][2:] == ("application/octet-stream", b"\x00\x01")
    assert sent[3][:2] == ("POST", "/actors/A1/state")
