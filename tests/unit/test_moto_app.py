"""The emulator's fast DynamoDB serialisation returns exactly what moto's own path returns."""
from __future__ import annotations

import os

import boto3
import pytest
from moto import mock_aws
from moto.core import serialize

from local import moto_app

ITEM = {
    "k": {"S": "a"}, "n": {"N": "1.5"}, "b": {"BOOL": True}, "z": {"NULL": True}, "ss": {"SS": ["x", "y"]},
    "ns": {"NS": ["1", "2"]}, "u": {"S": "é€\n\"'"},
    "m": {"M": {"a": {"S": "x"}, "l": {"L": [{"N": "1"}, {"S": "q"}, {"M": {"bin": {"B": b"\x00\x01"}}}]}}},
    "bin": {"B": b"\xff\x00"}, "bs": {"BS": [b"a"]},
}


def _round_trip() -> list:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName="t", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                            BillingMode="PAY_PER_REQUEST")
        client.put_item(TableName="t", Item=ITEM)
        updated = client.update_item(TableName="t", Key={"k": {"S": "a"}}, UpdateExpression="SET n = :v",
                                     ExpressionAttributeValues={":v": {"N": "2"}}, ReturnValues="ALL_NEW")
        return [client.get_item(TableName="t", Key={"k": {"S": "a"}})["Item"], client.scan(TableName="t")["Items"],
                updated["Attributes"]]


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, os.environ.get(name, "testing"))
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


def test_fast_attribute_values_match_moto(credentials: None, monkeypatch: pytest.MonkeyPatch) -> None:
    original = serialize.BaseJSONSerializer._serialize_type_structure
    expected = _round_trip()
    monkeypatch.setattr(serialize.BaseJSONSerializer, "_serialize_type_structure", original)
    moto_app.install_fast_attribute_values()
    assert serialize.BaseJSONSerializer._serialize_type_structure is not original
    assert _round_trip() == expected
    assert expected[0] == {**ITEM, "n": {"N": "2"}}  # what was written comes back, binary included


def test_plain_attribute() -> None:
    assert moto_app.plain_attribute({"M": {"a": {"L": [{"S": "x"}, {"NULL": True}]}}})
    assert not moto_app.plain_attribute({"M": {"a": {"L": [{"B": b"x"}]}}})
    assert not moto_app.plain_attribute({"S": "x", "N": "1"})


def test_cached_lookups_answer_what_moto_computes(credentials: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import backends
    from moto.core import responses
    from moto.dynamodb.responses import DynamoHandler

    modules, names = list(backends.list_of_moto_modules()), responses.method_names_from_class(DynamoHandler)
    monkeypatch.setattr(backends, "list_of_moto_modules", backends.list_of_moto_modules)
    monkeypatch.setattr(responses, "method_names_from_class", responses.method_names_from_class)
    moto_app.install_cached_module_list()
    moto_app.install_cached_method_names()
    assert set(backends.list_of_moto_modules()) == set(modules) and "dynamodb" in backends.list_of_moto_modules()
    assert responses.method_names_from_class(DynamoHandler) == names and "update_item" in names
    assert responses.method_names_from_class.cache_info().hits == 0  # type: ignore[attr-defined]
    responses.method_names_from_class(DynamoHandler)
    assert responses.method_names_from_class.cache_info().hits == 1  # type: ignore[attr-defined]
    assert _round_trip()[0] == {**ITEM, "n": {"N": "2"}}  # moto still answers with them installed
