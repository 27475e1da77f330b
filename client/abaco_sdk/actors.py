"""The actors API with tapipy's verbs: ``client.actors.create_actor(image=...)``, ``send_message(...)``.

Methods take keyword arguments named as in tapipy (``actor_id``, ``execution_id``, ``request_body``), so a
notebook written for ``t.actors`` ports by changing how the client is built. Sharing (aliases, nonces,
permissions, configs) and search live in ``sharing.py``; waiting and log following in ``waiting.py``.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from abaco_sdk import uploads
from abaco_sdk.errors import ApiError
from abaco_sdk.models import Actor, Execution, ExecutionsSummary, Logs, Record, SentMessage, Worker, wrap
from abaco_sdk.paths import seg
from abaco_sdk.sharing import SharingMixin
from abaco_sdk.transport import Reply, Transport
from abaco_sdk.waiting import WaitingMixin

BINARY = "application/octet-stream"
# Binary answers (results, synchronous calls) must ask for bytes first: API Gateway and Chalice return a
# binary body only when the first Accept type is a binary media type; errors still come back as JSON.
ACCEPT_BINARY = {"Accept": "application/octet-stream, application/json;q=0.9, */*;q=0.8"}
SYNC_PARAM = "_abaco_synchronous"


class ActorsApi(SharingMixin, WaitingMixin):
    """Every call of the Abaco actors API. Results are records (dicts with attribute access)."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    # --- plumbing ---------------------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> Reply:
        return self.transport.request(method, path, **kwargs)

    def _result(self, method: str, path: str, cls: type[Record] = Record, **kwargs: Any) -> Any:
        return wrap(self._call(method, path, **kwargs).result, cls)

    # --- actors -----------------------------------------------------------------------------------------

    def list_actors(self, **filters: Any) -> list[Actor]:
        """Actors the caller can read; any filter (``status="READY"``) turns the listing into a search."""
        return self._result("GET", "/actors", Actor, params=_filters(filters) or None)

    def create_actor(self, request_body: Mapping[str, Any] | None = None, **fields: Any) -> Actor:
        """Register an actor: ``create_actor(image="abacosamples/test", name="hello", stateless=False)``."""
        return self._result("POST", "/actors", Actor, json_body=_body(request_body, fields))

    def get_actor(self, actor_id: str) -> Actor:
        return self._result("GET", f"/actors/{seg(actor_id)}", Actor)

    def update_actor(self, actor_id: str, request_body: Mapping[str, Any] | None = None, **fields: Any) -> Actor:
        """Abaco's PUT replaces the whole description: unsent fields go back to their defaults."""
        return self._result("PUT", f"/actors/{seg(actor_id)}", Actor, json_body=_body(request_body, fields))

    def patch_actor(self, actor_id: str, **changes: Any) -> Actor:
        """Change some fields and keep the rest: read, overlay, then the full-replacement PUT."""
        current = self.get_actor(actor_id)
        body = {k: current.get_field(k) for k in _UPDATABLE if current.get_field(k) is not None}
        body.update({k: v for k, v in changes.items() if v is not None})
        return self.update_actor(actor_id, body)

    def delete_actor(self, actor_id: str) -> str:
        return self._call("DELETE", f"/actors/{seg(actor_id)}").message

    # --- messages ---------------------------------------------------------------------------------------

    def send_message(self, actor_id: str, message: Any = None, request_body: Any = None,
                     environment: Mapping[str, Any] | None = None, synchronous: bool = False) -> Any:
        """Send a text message (``message="hi"``, ``request_body={"message": "hi"}``) or a JSON one
        (``request_body={"a": 1}``: the container sees ``MSG={'a': 1}``). ``environment`` becomes query
        parameters, hence container variables. ``synchronous`` waits and returns the logs or the binary
        result (bytes) instead of ``{execution_id, msg}``."""
        if request_body is None:
            request_body = {"message": "" if message is None else str(message)}
        params = _env_params(environment, synchronous)
        reply = self._call("POST", f"/actors/{seg(actor_id)}/messages", json_body=request_body, params=params,
                           headers=ACCEPT_BINARY if synchronous else None)
        return _sync_body(reply) if synchronous else wrap(reply.result, SentMessage)

    def send_json_message(self, actor_id: str, data: Any, environment: Mapping[str, Any] | None = None,
                          synchronous: bool = False) -> Any:
        """Send any JSON value as an ``application/json`` message."""
        return self.send_message(actor_id, request_body=data, environment=environment, synchronous=synchronous)

    def send_binary_message(self, actor_id: str, message: bytes | IO[bytes] | str | Path | None = None,
                            request_body: bytes | None = None, environment: Mapping[str, Any] | None = None,
                            synchronous: bool = False) -> Any:
        """Send bytes, a binary file object or the file at a path; the container reads it from
        ``/_abaco_binary_data`` (``get_binary_message()``). Files are streamed, not read into memory. A body
        over ``uploads.DIRECT_MAX_BYTES`` goes through a presigned S3 upload (API Gateway refuses large bodies)."""
        payload = request_body if message is None else message
        if payload is None:
            raise ValueError("send_binary_message needs bytes, a file object or a path")
        params = _env_params(environment, synchronous)
        path = f"/actors/{seg(actor_id)}/messages"
        accept = ACCEPT_BINARY if synchronous else {}
        body = uploads.Body(payload)
        if body.size > uploads.direct_limit():
            upload_id = self._upload(actor_id, body)
            if upload_id is not None:
                reply = self._call("POST", path, params=params, headers={uploads.UPLOAD_HEADER: upload_id, **accept})
                return _sync_body(reply) if synchronous else wrap(reply.result, SentMessage)
        data = body.open()
        try:
            reply = self._call("POST", path, data=data, params=params,
                               headers={"Content-Type": BINARY, "Content-Length": str(body.size), **accept})
        finally:
            if hasattr(data, "close"):
                data.close()
        return _sync_body(reply) if synchronous else wrap(reply.result, SentMessage)

    def _upload(self, actor_id: str, body: uploads.Body) -> str | None:
        """Upload through S3; None when the server has no upload route (then the body is posted directly)."""
        try:
            ticket = self._result("POST", f"/actors/{seg(actor_id)}/messages/uploads",
                                  json_body={"size": body.size, "sha256": body.sha256})
        except ApiError as exc:
            if exc.status_code in (404, 405):
                return None
            raise
        uploads.put(dict(ticket), body, self.transport.session)
        return str(ticket["upload_id"])

    def get_messages(self, actor_id: str) -> Record:
        """``{messages: <pending count>}``."""
        return self._result("GET", f"/actors/{seg(actor_id)}/messages")

    def delete_pending_messages(self, actor_id: str) -> Record:
        return self._result("DELETE", f"/actors/{seg(actor_id)}/messages")

    # --- executions, logs, results ----------------------------------------------------------------------

    def list_executions(self, actor_id: str, **filters: Any) -> ExecutionsSummary:
        """The executions summary (``executions``, totals); filters turn it into a search."""
        return self._result("GET", f"/actors/{seg(actor_id)}/executions", ExecutionsSummary,
                            params=_filters(filters) or None)

    def get_execution(self, actor_id: str, execution_id: str, wait: float | None = None) -> Execution:
        """``wait``: seconds the API may hold the answer until the execution is COMPLETE or ERROR (a server
        without the parameter answers at once)."""
        return self._result("GET", f"/actors/{seg(actor_id)}/executions/{seg(execution_id)}", Execution,
                            params={"wait": wait})

    def delete_execution(self, actor_id: str, execution_id: str) -> str:
        """Force-quit a RUNNING execution."""
        return self._call("DELETE", f"/actors/{seg(actor_id)}/executions/{seg(execution_id)}").message

    def get_execution_logs(self, actor_id: str, execution_id: str) -> Logs:
        return self._result("GET", f"/actors/{seg(actor_id)}/executions/{seg(execution_id)}/logs", Logs)

    def get_execution_result(self, actor_id: str, execution_id: str) -> bytes:
        """Pop one binary result (``b""`` when there is none); each call returns the next one."""
        reply = self._call("GET", f"/actors/{seg(actor_id)}/executions/{seg(execution_id)}/results",
                           headers=ACCEPT_BINARY)
        return reply.content

    def get_execution_results(self, actor_id: str, execution_id: str, limit: int = 1000) -> list[bytes]:
        """Every pending result, in order (pops until the API answers with an empty body)."""
        results: list[bytes] = []
        while len(results) < limit:
            item = self.get_execution_result(actor_id, execution_id)
            if not item:
                break
            results.append(item)
        return results

    def save_execution_result(self, actor_id: str, execution_id: str, path: str | Path) -> int:
        """Write the next binary result to ``path``; returns its size (0 when there was none)."""
        data = self.get_execution_result(actor_id, execution_id)
        Path(path).write_bytes(data)
        return len(data)

    # --- state ------------------------------------------------------------------------------------------

    def get_state(self, actor_id: str) -> Any:
        result = self._result("GET", f"/actors/{seg(actor_id)}/state")
        return result.get("state") if isinstance(result, dict) else result

    def update_state(self, actor_id: str, request_body: Any = None, state: Any = None) -> Actor:
        """Replace a stateful actor's state with any non-empty JSON value."""
        value = request_body if state is None else state
        return self._result("POST", f"/actors/{seg(actor_id)}/state", Actor, json_body=value)

    # --- workers ----------------------------------------------------------------------------------------

    def list_workers(self, actor_id: str) -> list[Worker]:
        return self._result("GET", f"/actors/{seg(actor_id)}/workers", Worker)

    def get_worker(self, actor_id: str, worker_id: str) -> Worker:
        return self._result("GET", f"/actors/{seg(actor_id)}/workers/{seg(worker_id)}", Worker)

    def manage_worker_pool_size(self, actor_id: str, num: int = 1) -> str:
        """Ensure at least ``num`` workers (admin only); returns the API's message."""
        return self._call("POST", f"/actors/{seg(actor_id)}/workers", json_body={"num": num}).message

    add_workers = manage_worker_pool_size

    def delete_worker(self, actor_id: str, worker_id: str) -> str:
        return self._call("DELETE", f"/actors/{seg(actor_id)}/workers/{seg(worker_id)}").message

    # --- admin ------------------------------------------------------------------------------------------

    def get_utilization(self) -> Record:
        return self._result("GET", "/actors/utilization")

    def get_roles(self, username: str) -> Record:
        """The Tapis v3 roles granted to ``username`` in the caller's tenant (admin)."""
        return self._result("GET", f"/actors/admin/roles/{seg(username)}")

    def grant_roles(self, username: str, roles: list[str]) -> Record:
        """Replace the user's granted roles (``abaco_admin``, ``abaco_privileged``, ``abaco_limited``)."""
        return self._result("PUT", f"/actors/admin/roles/{seg(username)}", json_body={"roles": list(roles)})

    def revoke_roles(self, username: str) -> Record:
        """Revoke every granted role (``ABACO_ROLE_GRANTS`` no longer applies to the user either)."""
        return self._result("DELETE", f"/actors/admin/roles/{seg(username)}")


_UPDATABLE = ("image", "stateless", "description", "default_environment", "hints", "link", "webhook", "token",
              "max_workers", "mem_limit", "max_cpus", "use_container_uid", "queue", "log_ex", "cron_schedule",
              "cron_on", "privileged", "type", "run_as_executor")


def _body(request_body: Mapping[str, Any] | None, fields: Mapping[str, Any]) -> dict[str, Any]:
    body = dict(request_body or {})
    body.update({k: v for k, v in fields.items() if v is not None})
    return body


def _filters(filters: Mapping[str, Any]) -> dict[str, Any]:
    """Search filters: ``status__in=[...]`` (Python names) become ``status.in`` (Abaco's operators)."""
    return {k.replace("__", "."): v for k, v in filters.items() if v is not None}


def _env_params(environment: Mapping[str, Any] | None, synchronous: bool) -> dict[str, Any]:
    params = dict(environment or {})
    if synchronous:
        params[SYNC_PARAM] = "true"
    return params


def _sync_body(reply: Reply) -> Any:
    """A synchronous call answers with the raw logs (text) or the binary result (bytes)."""
    if reply.content_type == BINARY:
        return reply.content
    if reply.result is not None:
        return wrap(reply.result)
    return reply.content.decode("utf-8", errors="replace")
