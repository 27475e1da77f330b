"""HTTP to the Abaco API: authentication headers, retries with backoff, and Abaco's envelope.

Retry policy (why): a 429 means the request was refused before doing anything, so every verb retries it.
A 5xx or a dropped connection after the request was sent may or may not have had its effect, so only
idempotent verbs (GET, PUT, DELETE, HEAD) retry those; a POST (a message, a new actor) retries only a 429,
a 503 (our API's "unavailable": refused before any effect) and a connection that was never established.
"""
from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from urllib3.exceptions import NewConnectionError

from abaco_sdk.config import Profile
from abaco_sdk.errors import AbacoError, ConfigError, TransportError, error_for_status

DEFAULT_TIMEOUT = 30.0  # seconds per request; API Gateway itself gives up at 29 s
DEFAULT_RETRIES = 4  # attempts after the first
BACKOFF_BASE = 0.25  # seconds; doubled per attempt, with full jitter
BACKOFF_MAX = 8.0  # seconds: ceiling for one pause, also for a server's Retry-After
IDEMPOTENT = frozenset({"GET", "PUT", "DELETE", "HEAD", "OPTIONS"})
POST_RETRY_STATUSES = frozenset({429, 503})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
USER_AGENT = "abaco-sdk/0.1"


@dataclass
class Reply:
    """A decoded response: the envelope's ``result`` and ``message``, or raw bytes for non-JSON bodies."""

    status_code: int
    result: Any = None
    message: str = ""
    content: bytes = b""
    content_type: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)


class Transport:
    """One authenticated session against one API base URL."""

    def __init__(self, profile: Profile, timeout: float = DEFAULT_TIMEOUT, retries: int = DEFAULT_RETRIES,
                 session: requests.Session | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        if not profile.url:
            raise ConfigError("no Abaco API URL: pass base_url, set ABACO_URL, or add url to ~/.abaco/config")
        self.profile = profile
        self.base_url = profile.url.rstrip("/")
        self.timeout = timeout
        self.retries = max(0, retries)
        self.session = session or requests.Session()
        self._sleep = sleep

    def headers(self) -> dict[str, str]:
        """The authentication headers: a JWT in its Abaco v2 header, or a Bearer token; the tenant header."""
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        token, p = self.profile.token, self.profile
        if token:
            headers[p.jwt_header or "Authorization"] = token if p.jwt_header else f"Bearer {token}"
        if p.tenant:
            headers["tenant"] = p.tenant
        return headers

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json_body: Any = None,
                data: Any = None, headers: Mapping[str, str] | None = None, stream: bool = False) -> Reply:
        """Send one call with retries; raise the SDK error of the final failure."""
        method = method.upper()
        url = self.base_url + path
        query = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        if self.profile.nonce and "x-nonce" not in query:
            query["x-nonce"] = self.profile.nonce
        all_headers = {**self.headers(), **(headers or {})}
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self.session.request(method, url, params=query, json=json_body, data=data,
                                                headers=all_headers, timeout=self.timeout, stream=stream)
            except requests.RequestException as exc:
                if last or not _may_retry_exception(method, exc, data):
                    raise TransportError(f"{method} {url} failed: {_short(exc)}", None, method, url) from exc
                self._pause(attempt, None)
                continue
            if response.status_code < 400:
                return decode(response)
            if last or not _may_retry_status(method, response.status_code):
                raise _api_error(method, url, response)
            self._pause(attempt, response.headers.get("Retry-After"))
        raise AssertionError("unreachable")  # pragma: no cover

    def _pause(self, attempt: int, retry_after: str | None) -> None:
        self._sleep(backoff(attempt, retry_after))


def backoff(attempt: int, retry_after: str | None = None, rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait before retry ``attempt + 1``: the server's Retry-After, else capped jittered doubling."""
    if retry_after:
        try:
            return min(BACKOFF_MAX, max(0.0, float(retry_after)))
        except ValueError:
            pass
    return min(BACKOFF_MAX, BACKOFF_BASE * (2 ** attempt)) * (0.5 + rng() / 2)


def decode(response: requests.Response) -> Reply:
    """Unwrap Abaco's envelope; hand back anything that is not JSON (logs of sync calls, results) as bytes."""
    content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    reply = Reply(response.status_code, content=response.content, content_type=content_type,
                  headers=response.headers)
    if content_type == "application/json":
        try:
            body = response.json()
        except ValueError:
            return reply
        if isinstance(body, dict) and "status" in body and "result" in body:
            reply.result, reply.message = body["result"], str(body.get("message", ""))
        else:
            reply.result = body
    return reply


def _api_error(method: str, url: str, response: requests.Response) -> AbacoError:
    message = ""
    try:
        body = response.json()
        if isinstance(body, dict):
            message = str(body.get("message") or body.get("Message") or "")
    except ValueError:
        message = response.text[:300].strip()
    message = message or response.reason or "error"
    cls = error_for_status(response.status_code)
    return cls(message, response.status_code, method, url)


def _may_retry_status(method: str, status: int) -> bool:
    if method in IDEMPOTENT:
        return status in RETRY_STATUSES
    return status in POST_RETRY_STATUSES


def _may_retry_exception(method: str, exc: requests.RequestException, data: Any) -> bool:
    if hasattr(data, "read"):  # a streamed upload cannot be replayed
        return False
    if method in IDEMPOTENT:
        return True
    return _never_connected(exc)


def _never_connected(exc: BaseException) -> bool:
    """True when the TCP connection was never made, so the server cannot have seen the request."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        if isinstance(node, NewConnectionError) or "NewConnectionError" in repr(node):
            return True
        reason = getattr(node, "reason", None)
        node = reason if isinstance(reason, BaseException) else (node.args[0] if node.args and isinstance(
            node.args[0], BaseException) else node.__cause__)
    return False


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) < 300 else text[:300] + "..."
