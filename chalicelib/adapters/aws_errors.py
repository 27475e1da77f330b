"""One translation of AWS SDK errors into domain errors, for every adapter (DynamoDB, SQS, S3, CloudWatch,
KMS): the error code names a category, the category a domain error, and the API's one status table
(``chalicelib.edge.http.STATUS_BY_ERROR``) a status.

Each adapter used to keep its own short list and send the rest somewhere different: DynamoDB re-raised
the SDK's exception (a raw 500 with a traceback), SQS, S3 and CloudWatch called everything "try again"
(a 503 even for AccessDenied, which no retry fixes), KMS called everything a decryption error. Now a code
not in ``CODES`` is placed by its HTTP status (5xx and 429 retry, 401/403 configuration, 404 not found,
409 conflict, any other 4xx validation), so no AWS error reaches a view untranslated. An adapter names
only what its service means differently (``overrides``: a missing DynamoDB table is a store being
re-created; KMS's invalid ciphertext is a secret that cannot be decrypted).
"""
from __future__ import annotations

import enum
from collections.abc import Callable, Mapping

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
)

from chalicelib.domain import errors


class Category(enum.StrEnum):
    CONFLICT = "conflict"  # the object changed under us, exists already, or is busy
    NOT_FOUND = "not_found"  # the queue, object or upload is gone
    RETRY = "retry"  # throttled, or the service failed in a way worth retrying
    CONFIGURATION = "configuration"  # permissions, credentials, a missing or disabled resource: no retry helps
    VALIDATION = "validation"  # AWS refused the request itself (too large, malformed): nothing was changed


_BY_CATEGORY: dict[Category, tuple[str, ...]] = {
    Category.CONFLICT: (
        "ConditionalCheckFailedException", "ResourceInUseException", "AWS.SimpleQueueService.PurgeQueueInProgress",
        "PurgeQueueInProgress", "QueueAlreadyExists", "QueueNameExists", "BucketAlreadyOwnedByYou",
        "OperationAborted", "AlreadyExistsException"),
    Category.NOT_FOUND: (
        "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "NoSuchKey", "NoSuchUpload", "NotFound",
        "404", "ReceiptHandleIsInvalid", "AWS.SimpleQueueService.MessageNotInflight", "MessageNotInflight"),
    Category.RETRY: (
        "ProvisionedThroughputExceededException", "ThrottlingException", "Throttling", "ThrottledException",
        "RequestThrottled", "RequestLimitExceeded", "TooManyRequestsException", "SlowDown", "RequestTimeout",
        "InternalServerError", "InternalError", "InternalFailure", "ServiceUnavailable", "ServiceUnavailableException",
        "TransactionConflictException", "KMSInternalException", "DependencyTimeoutException",
        "KeyUnavailableException", "LimitExceededException", "500", "503"),
    Category.CONFIGURATION: (
        "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError",
        "UnrecognizedClientException", "InvalidClientTokenId", "InvalidAccessKeyId", "SignatureDoesNotMatch",
        "ExpiredToken", "ExpiredTokenException", "MissingAuthenticationToken", "NoSuchBucket",
        "DisabledException", "KMSInvalidStateException", "InvalidKeyUsageException", "KMSAccessDeniedException",
        "403"),
    Category.VALIDATION: (
        "ValidationException", "ValidationError", "InvalidParameterValue", "InvalidParameterValueException",
        "InvalidParameterCombination", "MissingParameter", "InvalidAttributeValue", "InvalidAttributeName",
        "InvalidRequest", "InvalidArgument", "EntityTooLarge", "KeyTooLongError", "SerializationException",
        "InvalidCiphertextException", "IncorrectKeyException", "InvalidMessageContents",
        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "ItemCollectionSizeLimitExceededException"),
}
CODES: dict[str, Category] = {code: category for category, codes in _BY_CATEGORY.items() for code in codes}

# The domain error of each category (an adapter may name another for one of them: ``errors_by``).
ERRORS: dict[Category, Callable[[str], errors.AbacoError]] = {
    Category.CONFLICT: errors.Conflict,
    Category.NOT_FOUND: errors.NotFound,
    Category.RETRY: errors.Unavailable,
    Category.CONFIGURATION: errors.Misconfigured,
    Category.VALIDATION: errors.Rejected,
}
_CONFIGURATION_ERRORS = (NoCredentialsError, PartialCredentialsError, NoRegionError)


def code_of(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def category(exc: ClientError | BotoCoreError, overrides: Mapping[str, Category] | None = None) -> Category:
    """The category of an SDK error: its code's (an adapter's override first), else its HTTP status's."""
    if isinstance(exc, BotoCoreError):
        if isinstance(exc, _CONFIGURATION_ERRORS):
            return Category.CONFIGURATION
        return Category.VALIDATION if isinstance(exc, ParamValidationError) else Category.RETRY
    code = code_of(exc)
    known = (overrides or {}).get(code) or CODES.get(code)
    return known if known is not None else _by_status(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))


def _by_status(status: object) -> Category:
    if not isinstance(status, int) or status >= 500 or status == 429:
        return Category.RETRY
    if status in (401, 403):
        return Category.CONFIGURATION
    return {404: Category.NOT_FOUND, 409: Category.CONFLICT}.get(status, Category.VALIDATION)


def translate(exc: ClientError | BotoCoreError, what: str, overrides: Mapping[str, Category] | None = None,
              errors_by: Mapping[Category, Callable[[str], errors.AbacoError]] | None = None,
              message: str | None = None) -> errors.AbacoError:
    """The domain error for ``exc``, raised by the adapter ``from exc``; ``what`` names the call
    ("SQS send_message") in the message (never the request's content, which may hold a secret), unless
    the adapter has a ``message`` of its own for this error."""
    kind = category(exc, overrides)
    detail = code_of(exc) if isinstance(exc, ClientError) else type(exc).__name__
    make = {**ERRORS, **(errors_by or {})}[kind]
    if message is not None:
        return make(message)
    if kind is Category.CONFIGURATION:
        return make(f"{what}: {detail} (a permission or configuration problem of the service; "
                    "contact the administrator)")
    return make(f"{what}: {detail}")
