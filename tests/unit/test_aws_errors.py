"""The one AWS error policy (chalicelib/adapters/aws_errors.py) and the one status table
(chalicelib/edge/http.py): every category, AccessDenied never retried, unknown codes placed by their HTTP
status, every adapter on the same table (real botocore clients, their answers stubbed by botocore's own
Stubber), and the status of an error resolved by its most specific class."""
from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, ParamValidationError
from botocore.stub import Stubber

from chalicelib.adapters import aws_errors
from chalicelib.adapters.aws_errors import Category
from chalicelib.adapters.cloudwatch import Metrics
from chalicelib.adapters.kms import KmsEnvelopeCipher
from chalicelib.adapters.payloads import PayloadStore, Pointer
from chalicelib.adapters.queues import Queues
from chalicelib.adapters.storage.base import ConditionFailed, Table
from chalicelib.domain import errors
from chalicelib.edge import http
from chalicelib.wiring import resources
from chalicelib.wiring.settings import Settings

SETTINGS = Settings(resource_prefix="errs")


def _client_error(code: str, status: int = 400, op: str = "Op") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, op)


@pytest.mark.parametrize(("code", "category"), [
    ("ConditionalCheckFailedException", Category.CONFLICT), ("PurgeQueueInProgress", Category.CONFLICT),
    ("AWS.SimpleQueueService.NonExistentQueue", Category.NOT_FOUND), ("NoSuchKey", Category.NOT_FOUND),
    ("ThrottlingException", Category.RETRY), ("ProvisionedThroughputExceededException", Category.RETRY),
    ("SlowDown", Category.RETRY), ("AccessDenied", Category.CONFIGURATION),
    ("AccessDeniedException", Category.CONFIGURATION), ("NoSuchBucket", Category.CONFIGURATION),
    ("ValidationException", Category.VALIDATION), ("InvalidParameterValue", Category.VALIDATION),
])
def test_each_known_code_has_its_category(code: str, category: Category) -> None:
    assert aws_errors.category(_client_error(code)) is category


@pytest.mark.parametrize(("status", "category"), [
    (500, Category.RETRY), (503, Category.RETRY), (429, Category.RETRY), (403, Category.CONFIGURATION),
    (401, Category.CONFIGURATION), (404, Category.NOT_FOUND), (409, Category.CONFLICT), (400, Category.VALIDATION),
])
def test_an_unknown_code_is_placed_by_its_http_status(status: int, category: Category) -> None:
    assert aws_errors.category(_client_error("SomethingNewException", status)) is category


def test_sdk_errors_without_an_answer_are_retried_unless_they_are_configuration() -> None:
    assert aws_errors.category(EndpointConnectionError(endpoint_url="http://127.0.0.1:1")) is Category.RETRY
    assert aws_errors.category(NoCredentialsError()) is Category.CONFIGURATION
    assert aws_errors.category(ParamValidationError(report="bad")) is Category.VALIDATION


def test_access_denied_is_a_configuration_error_never_a_retry() -> None:
    translated = aws_errors.translate(_client_error("AccessDenied", 403), "SQS send_message")
    assert isinstance(translated, errors.Misconfigured) and not isinstance(translated, errors.Unavailable)
    assert http.status_for(translated) == 500 and "administrator" in str(translated)


def test_each_category_becomes_its_domain_error_and_status() -> None:
    statuses = {Category.CONFLICT: 409, Category.NOT_FOUND: 404, Category.RETRY: 503,
                Category.CONFIGURATION: 500, Category.VALIDATION: 400}
    for category, status in statuses.items():
        translated = aws_errors.ERRORS[category]("x")
        assert http.status_for(translated) == status, category


def test_an_adapter_may_override_a_code_and_a_category() -> None:
    missing_table = _client_error("ResourceNotFoundException")
    assert aws_errors.category(missing_table) is Category.VALIDATION  # unknown 400 by default
    overridden = aws_errors.translate(missing_table, "DynamoDB get_item", {"ResourceNotFoundException": Category.RETRY})
    assert isinstance(overridden, errors.Unavailable)
    refused = aws_errors.translate(_client_error("InvalidCiphertextException"), "KMS decrypt",
                                   errors_by={Category.VALIDATION: errors.DecryptionError})
    assert isinstance(refused, errors.DecryptionError)


# --- the most specific class wins, whatever the table's order ---

class _Special(errors.BadRequest):
    pass


class _MoreSpecial(_Special):
    pass


def test_the_status_of_an_error_is_its_most_specific_listed_class() -> None:
    table: dict[type[errors.AbacoError], int] = {errors.AbacoError: 500, errors.BadRequest: 400, _Special: 422}
    assert http.status_for(_MoreSpecial("x"), table) == 422  # the nearest listed base, not the first listed
    assert http.status_for(errors.BadRequest("x"), table) == 400
    assert http.status_for(errors.Conflict("x"), table) == 500
    reordered = dict(reversed(list(table.items())))
    assert http.status_for(_MoreSpecial("x"), reordered) == 422
    assert http.status_for(errors.Rejected("x")) == 400 and http.status_for(errors.DecryptionError("x")) == 500
    assert http.status_for(ConditionFailed("x")) == 409


# --- every adapter on the same table ---

def _stubbed(service: str) -> tuple[Any, Stubber]:
    client = boto3.client(service, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    stubber = Stubber(client)
    stubber.activate()
    return client, stubber


def _sqs(client: Any) -> Callable[[], object]:
    return lambda: Queues(SETTINGS, client).delete("https://sqs.us-east-1.amazonaws.com/1/q", "r")


def _s3(client: Any) -> Callable[[], object]:
    return lambda: PayloadStore(SETTINGS, client).download(Pointer("k", 1, "x"), io.BytesIO())


def _dynamodb(client: Any) -> Callable[[], object]:
    return lambda: Table(resources.ACTORS, SETTINGS, client).get({"tenant": {"S": "T"}})


def _cloudwatch(client: Any) -> Callable[[], object]:
    return lambda: Metrics(SETTINGS, client).put_backlog({"default": 1})


def _kms(client: Any) -> Callable[[], object]:
    return lambda: KmsEnvelopeCipher(client, "alias/k").encrypt("T", "secret")


ADAPTERS = {"sqs": ("delete_message", _sqs), "s3": ("get_object", _s3), "dynamodb": ("get_item", _dynamodb),
            "cloudwatch": ("put_metric_data", _cloudwatch), "kms": ("generate_data_key", _kms)}


@pytest.mark.parametrize("service", sorted(ADAPTERS))
def test_every_adapter_answers_access_denied_as_misconfigured(service: str) -> None:
    operation, call = ADAPTERS[service]
    client, stubber = _stubbed(service)
    stubber.add_client_error(operation, service_error_code="AccessDenied", http_status_code=403)
    with pytest.raises(errors.Misconfigured) as raised:
        call(client)()
    assert isinstance(raised.value.__cause__, ClientError)  # chained: the SDK's error stays in the log


@pytest.mark.parametrize("service", sorted(ADAPTERS))
def test_every_adapter_retries_throttling_and_places_an_unknown_error(service: str) -> None:
    operation, call = ADAPTERS[service]
    client, stubber = _stubbed(service)
    stubber.add_client_error(operation, service_error_code="ThrottlingException", http_status_code=400)
    stubber.add_client_error(operation, service_error_code="BrandNewFault", http_status_code=500)
    with pytest.raises(errors.Unavailable):
        call(client)()
    with pytest.raises(errors.Unavailable):  # an unknown 5xx: retried, never a raw SDK error
        call(client)()
