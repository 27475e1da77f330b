"""Domain errors. They know nothing of HTTP; ``chalicelib.edge.http.STATUS_BY_ERROR`` maps them to codes."""
from __future__ import annotations


class AbacoError(Exception):
    """Base class: ``str(error)`` is the message users see in the envelope."""


class BadRequest(AbacoError):
    """Invalid input; nothing was changed."""


class NotAuthorized(AbacoError):
    """Abaco reports authorization failures as 400 with this class of message."""


class NotFound(AbacoError):
    """Unknown actor, execution, worker, alias, ..."""


class MethodNotAllowed(AbacoError):
    """A verb the route does not serve."""


class Conflict(AbacoError):
    """A conditional write lost: the object changed under us, or the id already exists."""


class Unavailable(AbacoError):
    """A backing service (DynamoDB, SQS, S3) failed in a way worth retrying."""


class ExecutionFailed(AbacoError):
    """A synchronous message's execution ended in ERROR (the runner, not the caller, failed)."""


class Timeout(AbacoError):
    """A synchronous message did not finish within the server-side wait; the execution goes on."""


class Unauthenticated(AbacoError):
    """No valid credentials. Every cause gets the same message, so failures reveal nothing (401)."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(GENERIC_UNAUTHENTICATED)
        self.reason = reason  # for the server's own log, never for the response


GENERIC_UNAUTHENTICATED = "Not authenticated -- a valid JWT or nonce is required."


class TooManyRequests(AbacoError):
    """A rate limit: the caller should retry after ``retry_after`` seconds (429 with Retry-After)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PayloadTooLarge(AbacoError):
    """The request body exceeds the configured limit (413)."""


class HeadersTooLarge(AbacoError):
    """The request headers exceed the configured limit (431)."""


class DecryptionError(AbacoError):
    """A token that cannot be read with the configured keys (or belongs to another tenant)."""


class Misconfigured(AbacoError):
    """A backing service refused us for a reason no retry fixes: a permission, a credential, a missing or
    disabled resource (500, never 503: a client that retries would only repeat it)."""


class Rejected(BadRequest):
    """A backing service refused the request itself (too large, malformed): nothing was changed (400)."""
