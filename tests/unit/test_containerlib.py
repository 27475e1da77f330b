"""Unit tests for the in-container helper library (containerlib/agavepy/actors.py).

Pure logic: no Docker. Sockets and the HTTP server are real but local (tmp dir, 127.0.0.1).
"""

from __future__ import annotations

import json
import os
import pickle
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from agavepy import actors

ABACO_ENV = {
    "MSG": "{'a': 1, 'b': [1, 2]}",
    "_abaco_actor_id": "yP0PDpZWG38Bg",
    "_abaco_actor_dbid": "DEV_yP0PDpZWG38Bg",
    "_abaco_execution_id": "JN0Boakk0VzKX",
    "_abaco_worker_id": "W0rk3r",
    "_abaco_Content_Type": "application/json",
    "_abaco_username": "testuser",
    "_abaco_api_server": "http://127.0.0.1:1",
    "_abaco_access_token": "tok",
    "_abaco_actor_state": "{'count': 3}",
    "_abaco_actor_name": "wc",
    "_abaco_container_repo": "abacosamples/wc",
    "_abaco_execution_attempt": "2",
    "_actor_configs": "{'cfg': 'value'}",
    "MY_VAR": "mine",
}


def test_context_parses_repr_message_state_and_configs() -> None:
    ctx = actors.get_context(ABACO_ENV)
    assert ctx["raw_message"] == ABACO_ENV["MSG"]
    assert ctx["message_dict"] == {"a": 1, "b": [1, 2]}
    assert ctx.state == {"count": 3}
    assert ctx.configs == {"cfg": "value"}
    assert ctx.execution_attempt == 2
    assert ctx.content_type == "application/json"
    assert (ctx.actor_id, ctx.actor_dbid, ctx.worker_id) == ("yP0PDpZWG38Bg", "DEV_yP0PDpZWG38Bg", "W0rk3r")
    assert (ctx.execution_id, ctx.username, ctx.actor_name) == ("JN0Boakk0VzKX", "testuser", "wc")
    assert ctx.actor_repo == "abacosamples/wc"
    assert (ctx.api_server, ctx.access_token) == ("http://127.0.0.1:1", "tok")
    assert ctx.environment == {"MY_VAR": "mine"}
    assert ctx["MY_VAR"] == "mine"  # agavepy merged the environment into the context


def test_context_from_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("_abaco") or name in ("MSG", "_actor_configs"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MSG", '{"json": true}')
    monkeypatch.setenv("_abaco_actor_state", "{}")
    ctx = actors.get_context()
    assert ctx.message_dict == {"json": True}  # JSON that is not a Python literal
    assert ctx.state == {}
    assert ctx.configs == {}
    assert ctx.actor_id is None
    assert ctx.execution_attempt is None


@pytest.mark.parametrize("raw", ["hello world", "[1, 2]", "", "{broken"])
def test_non_dict_messages_give_empty_message_dict(raw: str) -> None:
    ctx = actors.get_context({"MSG": raw})
    assert ctx.raw_message == raw
    assert ctx.message_dict == {}


def test_plain_string_state_falls_back_to_raw() -> None:
    assert actors.get_context({"_abaco_actor_state": "not a literal"}).state == "not a literal"


def test_legacy_content_type_name() -> None:
    assert actors.get_context({"_abaco_Content-Type": "str"}).content_type == "str"


def test_attribute_access_missing_key_raises_attribute_error() -> None:
    with pytest.raises(AttributeError):
        _ = actors.get_context({}).no_such_key


# --- binary messages ---------------------------------------------------------------------------


def test_message_too_large_for_msg_is_read_from_its_file(tmp_path: Any) -> None:
    path = tmp_path / "message"
    path.write_text('{"big": [true, null], "n": 1}', encoding="utf-8")
    ctx = actors.get_context({"_abaco_message_file": str(path), "_abaco_Content_Type": "application/json"})
    assert ctx.message == {"big": [True, None], "n": 1} and ctx.message_dict["n"] == 1
    path.write_text("plain text", encoding="utf-8")
    ctx = actors.get_context({"_abaco_message_file": str(path), "_abaco_Content_Type": "str"})
    assert (ctx.raw_message, ctx.message, ctx.message_dict) == ("plain text", "plain text", {})
    assert "_abaco_message_file" not in ctx.environment
    ctx = actors.get_context({"_abaco_message_file": str(tmp_path / "gone")})
    assert ctx.raw_message is None and ctx.raw_message_parse_log


def test_binary_message_regular_file(tmp_path: Any) -> None:
    payload = os.urandom(300_000)
    path = tmp_path / "bin"
    path.write_bytes(payload)
    assert actors.get_binary_message(str(path)) == payload


def test_binary_message_absent(tmp_path: Any) -> None:
    assert actors.get_binary_message(str(tmp_path / "nothing")) == b""


def test_binary_message_fifo_larger_than_pipe_buffer(tmp_path: Any) -> None:
    path = str(tmp_path / "fifo")
    os.mkfifo(path)
    payload = os.urandom(200_000)  # > 64 KiB: the writer blocks until we read

    def write() -> None:
        with open(path, "wb") as handle:
            handle.write(payload)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert actors.get_binary_message(path) == payload
    finally:
        writer.join(5)


# --- results socket ----------------------------------------------------------------------------


@pytest.fixture()
def results_socket(tmp_path: Any) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "results.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    server.settimeout(5)
    yield server, path
    server.close()


def test_send_bytes_result_is_one_datagram(results_socket: tuple[socket.socket, str]) -> None:
    server, path = results_socket
    actors.send_bytes_result(b"first", socket_path=path)
    actors.send_bytes_result(bytearray(b"second"), socket_path=path)
    assert server.recv(200_000) == b"first"
    assert server.recv(200_000) == b"second"


def test_send_bytes_result_max_size(results_socket: tuple[socket.socket, str]) -> None:
    server, path = results_socket
    actors.send_bytes_result(b"x" * actors.MAX_RESULT_BYTES, socket_path=path)
    assert len(server.recv(200_000)) == actors.MAX_RESULT_BYTES
    with pytest.raises(ValueError):
        actors.send_bytes_result(b"x" * (actors.MAX_RESULT_BYTES + 1), socket_path=path)


def test_send_bytes_result_rejects_str(results_socket: tuple[socket.socket, str]) -> None:
    with pytest.raises(TypeError):
        actors.send_bytes_result("text", socket_path=results_socket[1])  # type: ignore[arg-type]


def test_send_bytes_result_without_socket(tmp_path: Any) -> None:
    with pytest.raises(actors.AbacoError, match="cannot send result"):
        actors.send_bytes_result(b"x", socket_path=str(tmp_path / "missing.sock"))


def test_send_python_result_round_trips(results_socket: tuple[socket.socket, str]) -> None:
    server, path = results_socket
    actors.send_python_result({"n": 3, "items": (1, 2)}, socket_path=path)
    assert pickle.loads(server.recv(200_000)) == {"n": 3, "items": (1, 2)}


# --- API calls ---------------------------------------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    """Records requests; answers with the status stored on the server object."""

    def do_POST(self) -> None:
        self._answer()

    def do_GET(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        server: Any = self.server
        server.requests.append((self.command, self.path, dict(self.headers), body))
        status = server.status
        payload = json.dumps({"message": "ok" if status < 300 else "no", "status": "success",
                              "result": {"echo": self.path}, "version": "test"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def api() -> Iterator[Any]:
    server: Any = HTTPServer(("127.0.0.1", 0), _Recorder)
    server.requests = []
    server.status = 200
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


def test_update_state_posts_json_with_bearer_token(api: Any) -> None:
    env = {"_abaco_api_server": api.url + "/", "_abaco_actor_id": "A1", "_abaco_access_token": "tok"}
    actors.update_state({"count": 4}, environ=env)
    method, path, headers, body = api.requests[0]
    assert (method, path) == ("POST", "/actors/A1/state")
    assert headers["Authorization"] == "Bearer tok"
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"count": 4}


def test_update_state_without_token_sends_no_authorization(api: Any) -> None:
    actors.update_state(5, environ={"_abaco_api_server": api.url, "_abaco_actor_id": "A1"})
    assert "Authorization" not in api.requests[0][2]


def test_update_state_reports_http_errors(api: Any) -> None:
    api.status = 404
    env = {"_abaco_api_server": api.url, "_abaco_actor_id": "A1"}
    with pytest.raises(actors.AbacoError, match="HTTP 404"):
        actors.update_state({"x": 1}, environ=env)


def test_update_state_needs_actor_and_server() -> None:
    with pytest.raises(actors.AbacoError, match="_abaco_actor_id"):
        actors.update_state(1, environ={"_abaco_api_server": "http://127.0.0.1:1"})
    with pytest.raises(actors.AbacoError, match="_abaco_api_server"):
        actors.update_state(1, environ={"_abaco_actor_id": "A1"})


def test_update_state_rejects_unserializable(api: Any) -> None:
    env = {"_abaco_api_server": api.url, "_abaco_actor_id": "A1"}
    with pytest.raises(actors.AbacoError, match="JSON"):
        actors.update_state({1, 2}, environ=env)
    assert api.requests == []


def test_client_calls(api: Any) -> None:
    client = actors.get_client({"_abaco_api_server": api.url, "_abaco_access_token": "tok"})
    assert client.send_message("A1", "hello") == {"echo": "/actors/A1/messages"}
    client.send_message("A1", {"k": "v"})
    client.send_message("A1", b"\x00\x01")
    assert client.get_execution("A1", "E1") == {"echo": "/actors/A1/executions/E1"}
    assert client.get("/actors")["status"] == "success"
    client.post("actors/A1/messages", data={"message": "form"})
    bodies = [(r[0], r[1], r[2].get("Content-Type"), r[3]) for r in api.requests]
    assert bodies[0] == ("POST", "/actors/A1/messages", "application/json", b'{"message": "hello"}')
    assert bodies[1][3] == b'{"k": "v"}'
    assert bodies[2][2:] == ("application/octet-stream", b"\x00\x01")
    assert bodies[3][:2] == ("GET", "/actors/A1/executions/E1")
    assert bodies[5][2:] == ("application/x-www-form-urlencoded", b"message=form")
    assert all(r[2]["Authorization"] == "Bearer tok" for r in api.requests)
