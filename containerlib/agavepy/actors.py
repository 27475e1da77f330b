"""Helpers for code running inside an Abaco actor container.

Drop-in replacement for the functions actors import from TACC's ``agavepy.actors``. The worker
hands everything to the container through the environment, a results socket and a binary-data
file (see abaco-api.md section 3), so this module is deliberately stdlib-only: it is copied into
minimal images that have nothing else installed.
"""

from __future__ import annotations

import ast
import json
import os
import pickle
import select
import socket
import stat
from collections.abc import Mapping
from typing import Any

from agavepy.client import AbacoClient, AbacoError
from agavepy.typed import ActorContext, typed_context

#: Where the worker bind-mounts the per-execution Unix datagram socket for results.
RESULTS_SOCKET = "/_abaco_results.sock"
#: Where the worker mounts a binary (application/octet-stream) message.
BINARY_DATA_PATH = "/_abaco_binary_data"
#: Set (to the file's path, ``/_abaco_message``) instead of MSG when a message is too large for MSG.
MESSAGE_FILE_VAR = "_abaco_message_file"
#: Largest single result the worker accepts; bigger datagrams would be truncated or refused.
MAX_RESULT_BYTES = 131072
#: Seconds to wait for more data on a FIFO before assuming the writer has finished.
FIFO_IDLE_TIMEOUT = 0.2
#: Seconds before an HTTP call to the Abaco API is abandoned.

# Context keys that map one-to-one onto environment variables set by the worker.
_ENV_KEYS: dict[str, str] = {
    "raw_message": "MSG",
    "content_type": "_abaco_Content_Type",
    "execution_id": "_abaco_execution_id",
    "username": "_abaco_username",
    "actor_id": "_abaco_actor_id",
    "actor_dbid": "_abaco_actor_dbid",
    "worker_id": "_abaco_worker_id",
    "actor_repo": "_abaco_container_repo",
    "actor_name": "_abaco_actor_name",
    "api_server": "_abaco_api_server",
    "access_token": "_abaco_access_token",
    "jwt_header_name": "_abaco_jwt_header_name",
    "actor_revision": "_abaco_actor_revision",
}


#: Name used by TACC's agavepy; kept so ``except AgaveError`` in existing actors still works.
AgaveError = AbacoError


class Context(dict):
    """The execution context: a dict (as in agavepy) that also allows attribute access.

    Attribute access exists because agavepy returned an ``AttrDict`` and actor code commonly
    writes ``context.message_dict``.
    """

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


def _literal(text: str | None) -> Any:
    """Parse a Python literal, returning the text unchanged when it is not one.

    The worker passes dicts and lists to Docker as Python objects, so they arrive as their
    ``repr`` (single quotes) rather than JSON; ``ast.literal_eval`` reads that safely.
    """
    if text is None:
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def _parse_message(raw: str | None, log: list) -> dict[str, Any]:
    """Return the message as a dict when it is one (repr or JSON), else an empty dict."""
    if not raw:
        return {}
    try:
        value = ast.literal_eval(raw)
        if isinstance(value, dict):
            return value
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        log.append(str(exc))
    try:
        value = json.loads(raw)
        if isinstance(value, dict):
            return value
    except ValueError as exc:
        log.append(str(exc))
    return {}


def _read_text(path: str, log: list) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        log.append(str(exc))
        return None


def _json_or_text(text: str | None) -> Any:
    try:
        return json.loads(text) if text is not None else None
    except ValueError:
        return text


def _is_reserved(name: str) -> bool:
    """True for variables that belong to Abaco rather than to the actor's own environment."""
    return name == "MSG" or name == "_actor_configs" or name.startswith("_abaco_")


def get_context(environ: Mapping[str, str] | None = None) -> Context:
    """Return the message and metadata of the current execution.

    ``environ`` defaults to ``os.environ``; passing a mapping makes the function testable and
    usable outside a container. ``state`` and ``configs`` are parsed from their Python repr;
    ``message_dict`` is the message when it is a dict, else ``{}``. Non-Abaco variables are
    collected in ``environment`` and, as in agavepy, also merged into the context itself
    (without overriding the documented keys).
    """
    env = dict(os.environ if environ is None else environ)
    ctx = Context({key: env.get(var) for key, var in _ENV_KEYS.items()})
    if ctx["content_type"] is None:  # the name TACC's docs (and old agavepy) used
        ctx["content_type"] = env.get("_abaco_Content-Type")
    log: list = []
    ctx["raw_message_parse_log"] = log
    from_file = ctx["raw_message"] is None and bool(env.get(MESSAGE_FILE_VAR))
    if from_file:  # a message too large for MSG is a file, with JSON as JSON text (not a repr)
        ctx["raw_message"] = _read_text(env[MESSAGE_FILE_VAR], log)
    ctx["message_dict"] = _parse_message(ctx["raw_message"], log)
    if from_file and ctx["content_type"] == "application/json":
        ctx["message"] = _json_or_text(ctx["raw_message"])
    else:
        ctx["message"] = _literal(ctx["raw_message"])
    ctx["state"] = _literal(env.get("_abaco_actor_state"))
    configs = _literal(env.get("_actor_configs"))
    ctx["configs"] = configs if isinstance(configs, dict) else {}
    ctx["execution_attempt"] = _to_int(env.get("_abaco_execution_attempt"))
    ctx["environment"] = {k: v for k, v in env.items() if not _is_reserved(k)}
    for key, value in ctx["environment"].items():
        ctx.setdefault(key, value)
    return ctx


def get_typed_context(environ: Mapping[str, str] | None = None) -> ActorContext:
    """``get_context()`` as a frozen dataclass with typed attributes (see ``agavepy.typed``)."""
    return typed_context(get_context(environ))


def _to_int(text: str | None) -> int | None:
    """Parse an optional integer variable, tolerating absence and junk."""
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# Binary messages
# ---------------------------------------------------------------------------------------------


def get_binary_message(path: str = BINARY_DATA_PATH) -> bytes:
    """Return the whole binary message, or ``b''`` when none was mounted.

    Our worker mounts a regular file (a FIFO's 64 KiB buffer would block big messages), but
    TACC's worker used a FIFO, so both are handled.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return b""
    if stat.S_ISFIFO(mode):
        return _read_fifo(path)
    with open(path, "rb") as handle:
        return handle.read()


def _read_fifo(path: str, idle_timeout: float = FIFO_IDLE_TIMEOUT) -> bytes:
    """Drain a FIFO without blocking forever.

    Reads until EOF (the writer closed) or until no data arrived for ``idle_timeout`` seconds
    (the writer keeps the pipe open but has written the single message).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], idle_timeout)
            if not ready:
                break
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


def send_bytes_result(data: bytes, socket_path: str = RESULTS_SOCKET) -> None:
    """Send ``data`` as one execution result (one datagram on the results socket).

    Raises ``ValueError`` for results over 131072 bytes, because the worker reads fixed-size
    datagrams and anything bigger would be lost, and ``AbacoError`` when the socket is missing.
    """
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise TypeError(f"send_bytes_result needs bytes, got {type(data).__name__}")
    if len(data) > MAX_RESULT_BYTES:
        raise ValueError(f"result is {len(data)} bytes; the maximum is {MAX_RESULT_BYTES}")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(socket_path)
            sock.send(data)
        except OSError as exc:
            raise AbacoError(f"cannot send result over {socket_path}: {exc}") from exc


def send_python_result(obj: Any, socket_path: str = RESULTS_SOCKET) -> None:
    """Pickle ``obj`` (cloudpickle when installed, so lambdas work) and send it as a result."""
    try:
        import cloudpickle  # optional: keeps the library dependency-free

        dumps = cloudpickle.dumps
    except ImportError:
        dumps = pickle.dumps
    try:
        payload = dumps(obj)
    except Exception as exc:  # pickling errors come in many types
        raise AbacoError(f"could not serialize {obj!r}: {exc}") from exc
    send_bytes_result(payload, socket_path)


def get_client(environ: Mapping[str, str] | None = None) -> AbacoClient:
    """Return a client bound to the injected API server and token (``_abaco_access_token``)."""
    env = os.environ if environ is None else environ
    return AbacoClient(env.get("_abaco_api_server", ""), env.get("_abaco_access_token"))


def update_state(value: Any, environ: Mapping[str, str] | None = None) -> Any:
    """Replace this actor's state with ``value`` (any JSON value) via the Abaco API.

    The container only sees a snapshot of the state taken when the execution started, so the
    API is the only way to persist a new value for later executions.
    """
    env = os.environ if environ is None else environ
    actor_id = env.get("_abaco_actor_id")
    if not actor_id:
        raise AbacoError("no actor id known: _abaco_actor_id is not set")
    return get_client(env).update_state(actor_id, value)


def reserved_environment_vars() -> list:
    """Names of the variables Abaco sets (agavepy exposed this list too)."""
    return ["_actor_configs", *_ENV_KEYS.values(), "_abaco_actor_state",
            "_abaco_execution_attempt", MESSAGE_FILE_VAR]
