"""The SDK's one error hierarchy. HTTP statuses become these classes in one place (``transport``), so
callers catch ``NotFound`` or ``BadRequest`` instead of comparing status codes."""
from __future__ import annotations


class AbacoError(Exception):
    """Anything the SDK raises. ``message`` is the API's own message when there was one."""

    def __init__(self, message: str, status_code: int | None = None, method: str = "", url: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.method = method
        self.url = url


class ConfigError(AbacoError):
    """No base URL, an unreadable profile file, an unknown profile."""


class TransportError(AbacoError):
    """The API could not be reached (connection refused, DNS, timeout) even after retries."""


class ApiError(AbacoError):
    """The API answered with an error status; ``message`` is the envelope's message."""


class BadRequest(ApiError):
    """400: invalid input, and also authorization failures (Abaco reports those as 400)."""


class NotFound(ApiError):
    """404: unknown actor, alias, execution, worker, nonce or config (or a route the server lacks)."""


class MethodNotAllowed(ApiError):
    """405: the verb is not allowed on that path."""


class Conflict(ApiError):
    """409: the object already exists or changed underneath the request."""


class Throttled(ApiError):
    """429: too many requests, still refused after the retries."""


class ServerError(ApiError):
    """5xx: the server failed, still failing after the retries (only idempotent calls are retried)."""


class WaitTimeout(AbacoError):
    """A waiting helper gave up; ``last`` holds the last record it saw."""

    def __init__(self, message: str, last: object = None) -> None:
        super().__init__(message)
        self.last = last


_BY_STATUS: dict[int, type[ApiError]] = {400: BadRequest, 401: BadRequest, 403: BadRequest, 404: NotFound,
                                         405: MethodNotAllowed, 409: Conflict, 429: Throttled}


def error_for_status(status: int) -> type[ApiError]:
    """The exception class for an HTTP error status."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, ApiError)
