"""The SDK's pure logic: configuration precedence, retries and backoff, error mapping, records, pagination.

HTTP is faked at the transport level with ``responses`` (requests' own adapter is replaced, nothing is
patched in our code); the integration tests run the same calls against the real API.
"""
from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import responses
from abaco_sdk import Abaco, BadRequest, ConfigError, NotFound, ServerError, Throttled, TransportError, config
from abaco_sdk.models import Execution, Record, wrap
from abaco_sdk.transport import BACKOFF_MAX, Transport, backoff

URL = "http://abaco.test"


def envelope(result: object, message: str = "ok", status: str = "success") -> dict[str, object]:
    return {"message": message, "result": result, "status": status, "version": ":dev"}


def client(retries: int = 3, sleeps: list[float] | None = None, **kwargs: str) -> Abaco:
    sdk = Abaco(base_url=URL, retries=retries, **kwargs)
    record = sleeps if sleeps is not None else []
    sdk.transport._sleep = record.append  # no real waiting in unit tests; the pauses are recorded
    return sdk


# --- configuration ------------------------------------------------------------------------------------

def test_arguments_beat_environment_which_beats_the_profile_file(tmp_path: Path) -> None:
    path = tmp_path / "config"
    config.write_profile(config.Profile(url="http://file", token="file-token", tenant="FILE"), "default", path)
    env = {"ABACO_CONFIG": str(path), "ABACO_TOKEN": "env-token"}
    resolved = config.resolve(environ=env, url="http://arg")
    assert (resolved.url, resolved.token, resolved.tenant) == ("http://arg", "env-token", "FILE")
    assert oct(path.stat().st_mode & 0o777) == "0o600"  # credentials readable by the owner only


def test_named_profile_and_unknown_profile(tmp_path: Path) -> None:
    path = tmp_path / "config"
    config.write_profile(config.Profile(url="http://staging"), "staging", path)
    env = {"ABACO_CONFIG": str(path), "ABACO_PROFILE": "staging"}
    assert config.resolve(environ=env).url == "http://staging"
    with pytest.raises(ConfigError, match="profile 'prod' not found"):
        config.resolve("prod", environ={"ABACO_CONFIG": str(path)})


def test_missing_url_is_a_config_error_and_tokens_are_masked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ABACO_URL"):
        Transport(config.Profile())
    assert "secret" not in repr(config.Profile(url="u", token="secret", nonce="n"))


# --- headers ------------------------------------------------------------------------------------------

@responses.activate
def test_bearer_token_tenant_header_and_nonce_parameter() -> None:
    responses.get(f"{URL}/actors", json=envelope([]))
    client(access_token="tok", tenant="T1", nonce="T1_abc").actors.list_actors()
    sent = responses.calls[0].request
    assert sent.headers["Authorization"] == "Bearer tok" and sent.headers["tenant"] == "T1"
    assert "x-nonce=T1_abc" in sent.url


@responses.activate
def test_jwt_in_the_abaco_v2_header_instead_of_bearer() -> None:
    responses.get(f"{URL}/actors", json=envelope([]))
    client(access_token="jwt", jwt_header="X-Jwt-Assertion-DEV-DEVELOP").actors.list_actors()
    sent = responses.calls[0].request
    assert sent.headers["X-Jwt-Assertion-DEV-DEVELOP"] == "jwt" and "Authorization" not in sent.headers


# --- retries ------------------------------------------------------------------------------------------

@responses.activate
def test_get_retries_server_errors_then_succeeds() -> None:
    responses.get(f"{URL}/actors/a1", status=503, json=envelope(None, "busy", "error"))
    responses.get(f"{URL}/actors/a1", status=502, body="bad gateway")
    responses.get(f"{URL}/actors/a1", json=envelope({"id": "a1", "status": "READY"}))
    sleeps: list[float] = []
    actor = client(sleeps=sleeps).actors.get_actor("a1")
    assert actor.status == "READY" and len(responses.calls) == 3 and len(sleeps) == 2


@responses.activate
def test_post_is_not_retried_on_a_500_because_it_may_have_taken_effect() -> None:
    responses.post(f"{URL}/actors/a1/messages", status=500, json=envelope(None, "boom", "error"))
    with pytest.raises(ServerError, match="boom"):
        client().actors.send_message("a1", "hi")
    assert len(responses.calls) == 1


@responses.activate
def test_throttled_post_is_retried_after_the_servers_retry_after() -> None:
    responses.post(f"{URL}/actors/a1/messages", status=429, headers={"Retry-After": "3"},
                   json=envelope(None, "slow down", "error"))
    responses.post(f"{URL}/actors/a1/messages", json=envelope({"execution_id": "e1", "msg": "hi"}))
    sleeps: list[float] = []
    sent = client(sleeps=sleeps).actors.send_message("a1", "hi")
    assert sent.execution_id == "e1" and sleeps == [3.0]
    assert json.loads(responses.calls[1].request.body) == {"message": "hi"}


@responses.activate
def test_retries_are_bounded() -> None:
    responses.get(f"{URL}/actors", status=429, json=envelope(None, "throttled", "error"))
    with pytest.raises(Throttled):
        client(retries=2).actors.list_actors()
    assert len(responses.calls) == 3


def test_post_to_a_closed_port_is_retried_because_nothing_was_sent() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again on exit: connections are refused
    sleeps: list[float] = []
    sdk = Abaco(base_url=f"http://127.0.0.1:{port}", retries=2)
    sdk.transport._sleep = sleeps.append
    with pytest.raises(TransportError):
        sdk.actors.send_message("a1", "hi")
    assert len(sleeps) == 2


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    assert backoff(0, rng=lambda: 1.0) == 0.25 and backoff(2, rng=lambda: 1.0) == 1.0
    assert backoff(3, rng=lambda: 0.0) == 1.0  # half of 2.0 at the lowest jitter
    assert backoff(20, rng=lambda: 1.0) == BACKOFF_MAX
    assert backoff(0, "120") == BACKOFF_MAX and backoff(0, "1.5") == 1.5


# --- errors and records -------------------------------------------------------------------------------

@responses.activate
def test_errors_carry_the_api_message_and_status() -> None:
    responses.get(f"{URL}/actors/nope", status=404,
                  json=envelope(None, "Actor with identifier 'nope' not found", "error"))
    responses.post(f"{URL}/actors", status=400, json=envelope(None, "Invalid actor description: image", "error"))
    with pytest.raises(NotFound) as missing:
        client().actors.get_actor("nope")
    assert missing.value.status_code == 404 and "'nope' not found" in missing.value.message
    with pytest.raises(BadRequest, match="image"):
        client().actors.create_actor(name="no image")


@responses.activate
def test_path_segments_are_quoted() -> None:
    responses.get(f"{URL}/actors/aliases/a%2Fb", json=envelope({"alias": "a/b"}))
    assert client().actors.get_alias("a/b").alias == "a/b"


def test_records_read_snake_names_in_camel_mode() -> None:
    execution = wrap({"id": "e1", "exitCode": 0, "status": "COMPLETE", "finalState": {"ExitCode": 0}}, Execution)
    assert execution.exit_code == 0 and execution.final_state.ExitCode == 0 and execution.finished
    assert isinstance(execution, dict) and json.loads(json.dumps(execution))["exitCode"] == 0
    with pytest.raises(AttributeError):
        _ = Record({}).missing


@responses.activate
def test_search_pages_through_every_result() -> None:
    def page(items: list[int], total: int) -> dict[str, object]:
        return envelope({"_metadata": {"total_count": total, "count_returned": len(items)},
                         "search": [{"id": str(i)} for i in items]})

    responses.get(f"{URL}/actors/search/executions", json=page([1, 2], 5))
    responses.get(f"{URL}/actors/search/executions", json=page([3, 4], 5))
    responses.get(f"{URL}/actors/search/executions", json=page([5], 5))
    found = [r.id for r in client().actors.search("executions", {"status": "COMPLETE"}, page_size=2)]
    assert found == ["1", "2", "3", "4", "5"]
    skips = [c.request.url.split("skip=")[1].split("&")[0] for c in responses.calls]
    assert skips == ["0", "2", "4"] and "status=COMPLETE" in responses.calls[0].request.url


@responses.activate
def test_search_follows_the_cursor_through_empty_windows() -> None:
    def page(items: list[int], cursor: str | None) -> dict[str, object]:
        return envelope({"_metadata": {"total_count": len(items), "next_cursor": cursor},
                         "search": [{"id": str(i)} for i in items]})

    responses.get(f"{URL}/actors/search/actors", json=page([1, 2], "c1"))
    responses.get(f"{URL}/actors/search/actors", json=page([], "c2"))  # a window with nothing visible
    responses.get(f"{URL}/actors/search/actors", json=page([3], None))
    assert [r.id for r in client().actors.search("actors", page_size=2)] == ["1", "2", "3"]
    cursors = [c.request.url.partition("cursor=")[2] for c in responses.calls]
    assert cursors == ["", "c1", "c2"]


@responses.activate
def test_synchronous_message_returns_raw_logs_or_bytes() -> None:
    responses.post(f"{URL}/actors/a1/messages", body="Contents of MSG: hi", content_type="text/html")
    responses.post(f"{URL}/actors/a1/messages", body=b"\x00\x01", content_type="application/octet-stream")
    assert client().actors.send_message("a1", "hi", synchronous=True) == "Contents of MSG: hi"
    assert client().actors.send_binary_message("a1", b"data", synchronous=True) == b"\x00\x01"
    assert "_abaco_synchronous=true" in responses.calls[0].request.url
    assert responses.calls[1].request.headers["Content-Type"] == "application/octet-stream"
