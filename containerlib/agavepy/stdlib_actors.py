"""The tapipy-style ``actors`` calls an actor makes most, with the standard library only.

``get_client().actors`` is the ``abaco_sdk`` client's ``actors`` (retries, every verb) when that package is
installed in the image; minimal images have only this subset, with the same names and arguments, so an
actor's code runs unchanged in both.
"""
from __future__ import annotations

import urllib.parse
from typing import Any, Protocol


class _Requester(Protocol):
    def get(self, path: str) -> Any: ...

    def post(self, path: str, json: Any = None, data: Any = None) -> Any: ...


def _q(value: str) -> str:
    return urllib.parse.quote(str(value), safe="")


def _unwrap(envelope: Any) -> Any:
    if isinstance(envelope, dict) and "result" in envelope and "status" in envelope:
        return envelope["result"]
    return envelope


class StdlibActors:
    """``send_message``, ``send_binary_message``, ``get_execution``, logs, state and actor reads."""

    def __init__(self, client: _Requester) -> None:
        self._client = client

    def get_actor(self, actor_id: str) -> Any:
        return _unwrap(self._client.get(f"actors/{_q(actor_id)}"))

    def send_message(self, actor_id: str, message: Any = None, request_body: Any = None) -> Any:
        """Text with ``message=``; any JSON value with ``request_body=`` (``{"message": ...}`` is text)."""
        body = request_body if request_body is not None else {"message": "" if message is None else str(message)}
        return _unwrap(self._client.post(f"actors/{_q(actor_id)}/messages", json=body))

    def send_binary_message(self, actor_id: str, message: bytes | None = None,
                            request_body: bytes | None = None) -> Any:
        data = message if message is not None else request_body
        return _unwrap(self._client.post(f"actors/{_q(actor_id)}/messages", data=bytes(data or b"")))

    def get_execution(self, actor_id: str, execution_id: str) -> Any:
        return _unwrap(self._client.get(f"actors/{_q(actor_id)}/executions/{_q(execution_id)}"))

    def get_execution_logs(self, actor_id: str, execution_id: str) -> Any:
        return _unwrap(self._client.get(f"actors/{_q(actor_id)}/executions/{_q(execution_id)}/logs"))

    def list_executions(self, actor_id: str) -> Any:
        return _unwrap(self._client.get(f"actors/{_q(actor_id)}/executions"))

    def get_state(self, actor_id: str) -> Any:
        result = _unwrap(self._client.get(f"actors/{_q(actor_id)}/state"))
        return result.get("state") if isinstance(result, dict) else result

    def update_state(self, actor_id: str, request_body: Any = None, state: Any = None) -> Any:
        value = request_body if state is None else state
        return _unwrap(self._client.post(f"actors/{_q(actor_id)}/state", json=value))
