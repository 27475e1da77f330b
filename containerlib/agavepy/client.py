"""The Abaco API from inside an actor's container, authenticated with the token the worker injects.

Stdlib-only, like ``agavepy.actors`` (which re-exports what is here): it is copied into minimal images
that have nothing else installed.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from agavepy.stdlib_actors import StdlibActors

#: Seconds an API call may take.
HTTP_TIMEOUT = 30.0


class AbacoError(Exception):
    """Raised when the container cannot talk to the Abaco system (socket or API)."""


class AbacoClient:
    """A minimal urllib client for the Abaco API, authenticated with the injected token.

    Replaces agavepy's full Agave client, which actors used mostly for a handful of calls.
    """

    def __init__(self, api_server: str, token: str | None = None, timeout: float = HTTP_TIMEOUT):
        if not api_server:
            raise AbacoError("no API server known: _abaco_api_server is not set")
        self.api_server = api_server.rstrip("/")
        self.token = token or None
        self.timeout = timeout
        self._actors: Any = None

    @property
    def actors(self) -> Any:
        """tapipy-style calls (``client.actors.send_message(actor_id=..., message=...)``): the ``abaco_sdk``
        client's when that package is installed in the image (retries, every verb), else a stdlib subset."""
        if self._actors is None:
            try:
                from abaco_sdk import Abaco  # optional: minimal images do not have it
            except ImportError:
                self._actors = StdlibActors(self)
            else:
                self._actors = Abaco(base_url=self.api_server, access_token=self.token, timeout=self.timeout).actors
        return self._actors

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def request(self, method: str, path: str, body: bytes | None = None,
                content_type: str | None = None) -> Any:
        """Send one request; return parsed JSON (or raw bytes); raise AbacoError on non-2xx."""
        # Imported here: urllib.request pulls in http.client/ssl, which would add ~15 ms to the
        # start of every actor, and most actors never call the API.
        import urllib.error
        import urllib.request

        url = self.api_server + "/" + path.lstrip("/")
        headers = self._headers()
        if content_type:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(url, data=body, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                payload = resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:500].decode("utf-8", "replace")
            raise AbacoError(f"{method} {url} failed with HTTP {exc.code}: {detail}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise AbacoError(f"{method} {url} failed: {exc}") from exc
        return _decode(payload)

    def get(self, path: str) -> Any:
        """GET ``path`` (relative to the API server) and return the parsed response."""
        return self.request("GET", path)

    def post(self, path: str, json: Any = None, data: Any = None) -> Any:
        """POST a JSON value (``json``), or raw bytes / a form dict (``data``)."""
        if json is not None:
            return self.request("POST", path, _dumps(json), "application/json")
        if isinstance(data, dict):
            body = urllib.parse.urlencode(data).encode()
            return self.request("POST", path, body, "application/x-www-form-urlencoded")
        if isinstance(data, str):
            data = data.encode()
        return self.request("POST", path, data, "application/octet-stream" if data else None)

    def send_message(self, actor_id: str, message: Any) -> Any:
        """Send a message: bytes go as binary, str as ``{"message": ...}``, anything else as JSON."""
        path = f"actors/{urllib.parse.quote(actor_id)}/messages"
        if isinstance(message, (bytes, bytearray)):
            return _result(self.post(path, data=bytes(message)))
        if isinstance(message, str):
            return _result(self.post(path, json={"message": message}))
        return _result(self.post(path, json=message))

    def get_execution(self, actor_id: str, exec_id: str) -> Any:
        """Return the execution record (the envelope's ``result``)."""
        path = f"actors/{urllib.parse.quote(actor_id)}/executions/{urllib.parse.quote(exec_id)}"
        return _result(self.get(path))

    def update_state(self, actor_id: str, value: Any) -> Any:
        """Replace the actor's state with the JSON value ``value``."""
        return _result(self.post(f"actors/{urllib.parse.quote(actor_id)}/state", json=value))


def _dumps(value: Any) -> bytes:
    """Serialize to JSON, explaining failures in Abaco terms."""
    try:
        return json.dumps(value).encode()
    except (TypeError, ValueError) as exc:
        raise AbacoError(f"value is not JSON serializable: {exc}") from exc


def _decode(payload: bytes) -> Any:
    """Parse a JSON response body; non-JSON bodies (results, logs) come back as bytes."""
    try:
        return json.loads(payload)
    except ValueError:
        return payload


def _result(envelope: Any) -> Any:
    """Unwrap Abaco's ``{"result": ..., "status": ..., ...}`` envelope when present."""
    if isinstance(envelope, dict) and "result" in envelope and "status" in envelope:
        return envelope["result"]
    return envelope
