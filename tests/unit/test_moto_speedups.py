"""The emulator's DynamoDB speed-ups (``local/moto_speedups.py``) answer exactly what moto answers without them:
queries on a table and on a sparse index (paged, both directions), update expressions with many actions and
conditions, and the errors of expressions DynamoDB refuses."""
from __future__ import annotations

import os
import string
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local import moto_speedups


def _client() -> Any:
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(
        TableName="t", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "open", "at")],
        GlobalSecondaryIndexes=[{"IndexName": "open", "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": "open", "KeyType": "HASH"},
                                               {"AttributeName": "at", "KeyType": "RANGE"}]}])
    client.create_table(TableName="h", BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    return client


def _pages(client: Any, **kwargs: Any) -> list[list[dict[str, Any]]]:
    pages, start = [], None
    while True:
        answer = client.query(**kwargs, **({"ExclusiveStartKey": start} if start else {}))
        pages.append(answer["Items"])
        start = answer.get("LastEvaluatedKey")
        if not start:
            return pages


def _error(call: Any) -> str:
    try:
        call()
    except client_error() as exc:
        return f"{exc.response['Error']['Code']}: {exc.response['Error']['Message']}"
    return "no error"


def client_error() -> type[Exception]:
    from botocore.exceptions import ClientError

    return ClientError


def _workload() -> list[Any]:
    with mock_aws():
        client = _client()
        for p in range(5):  # put in an order unlike the keys' order
            for s in (7, 3, 9, 1, 5, 2):
                item = {"pk": {"S": f"p{(p * 3) % 5}"}, "sk": {"S": f"s{s}"}, "n": {"N": str(s)}}
                if s % 2:
                    item.update({"open": {"S": f"pool#{s % 3}"}, "at": {"S": f"{9 - s}-{p}"}})
                client.put_item(TableName="t", Item=item)
        client.put_item(TableName="h", Item={"pk": {"S": "x"}, "v": {"N": "1"}})
        out: list[Any] = []
        for forward in (True, False):
            out.append(_pages(client, TableName="t", KeyConditionExpression="pk = :p", Limit=4,
                              ExpressionAttributeValues={":p": {"S": "p2"}}, ScanIndexForward=forward))
            out.append(_pages(client, TableName="t", IndexName="open", KeyConditionExpression="#o = :o", Limit=3,
                              ExpressionAttributeNames={"#o": "open"},
                              ExpressionAttributeValues={":o": {"S": "pool#1"}}, ScanIndexForward=forward))
        out.append(_pages(client, TableName="t", KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
                          ExpressionAttributeValues={":p": {"S": "p0"}, ":s": {"S": "s"}}))
        out.append(_pages(client, TableName="t", KeyConditionExpression="pk = :p",
                          ExpressionAttributeValues={":p": {"S": "nobody"}}))
        out.append(_pages(client, TableName="h", KeyConditionExpression="pk = :p",
                          ExpressionAttributeValues={":p": {"S": "x"}}))
        names = {f"#f{i}": f"field{i}" for i in range(8)}
        values = {f":v{i}": {"S": f"value{i}"} for i in range(8)}
        expression = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(8))
        for attempt in range(2):  # the same expression twice: a cached parse must not carry the first's values
            values = {k: {"S": f"{v['S']}-{attempt}"} for k, v in values.items()}
            out.append(client.update_item(
                TableName="t", Key={"pk": {"S": "p1"}, "sk": {"S": "s3"}}, UpdateExpression=expression + " ADD n :one",
                ConditionExpression="attribute_exists(pk) AND n < :big", ExpressionAttributeNames=names,
                ExpressionAttributeValues={**values, ":one": {"N": "1"}, ":big": {"N": "100"}},
                ReturnValues="ALL_NEW")["Attributes"])
        out.append(_error(lambda: client.update_item(
            TableName="t", Key={"pk": {"S": "p1"}, "sk": {"S": "s3"}}, UpdateExpression="SET a = :a SET b = :a",
            ExpressionAttributeValues={":a": {"S": "x"}})))
        out.append(_error(lambda: client.update_item(
            TableName="t", Key={"pk": {"S": "p1"}, "sk": {"S": "s3"}}, UpdateExpression="SET a = :a ADD n :o ADD m :o",
            ExpressionAttributeValues={":a": {"S": "x"}, ":o": {"N": "1"}})))
        out.append(_error(lambda: client.update_item(
            TableName="t", Key={"pk": {"S": "p1"}, "sk": {"S": "s3"}}, UpdateExpression="SET a = :a, a = :a",
            ExpressionAttributeValues={":a": {"S": "x"}})))
        out.append(_error(lambda: client.update_item(
            TableName="t", Key={"pk": {"S": "p1"}, "sk": {"S": "s3"}}, UpdateExpression="SET sk = :a",
            ExpressionAttributeValues={":a": {"S": "x"}})))
        out.append(_error(lambda: client.update_item(
            TableName="t", Key={"pk": {"S": "p1"}, "sk": {"S": "s3"}}, UpdateExpression="SET a = ",
            ExpressionAttributeValues={":a": {"S": "x"}})))
        out.append(client.scan(TableName="t")["Items"])
        return out


@pytest.fixture
def restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the test installs is undone after it (other tests run moto as it ships)."""
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.parsing import ast_nodes, validators
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser
    from moto.moto_api._internal.moto_random import MotoRandom

    for owner, name in ((Table, "query"), (ast_nodes.DepthFirstTraverser, "process"),
                        (ast_nodes.DepthFirstTraverser, "nodes_to_be_processed"),
                        (validators.ActionCountValidator, "traverse"), (UpdateExpressionParser, "make"),
                        (MotoRandom, "get_random_string"), (MotoRandom, "get_random_hex")):
        monkeypatch.setattr(owner, name, owner.__dict__.get(name, getattr(owner, name)))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, os.environ.get(name, "testing"))
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


def test_the_speedups_answer_what_moto_answers(restored: None) -> None:
    expected = _workload()
    moto_speedups.install_all()
    moto_speedups.install_all()  # idempotent
    from moto.dynamodb.models.table import Table

    assert getattr(Table.query, "abaco_fast", False)
    assert _workload() == expected
    assert [len(page) for page in expected[0]] == [4, 2] and expected[0][0][0]["sk"] == {"S": "s1"}
    assert [i["at"]["S"] for page in expected[1] for i in page] == sorted(i["at"]["S"] for page in expected[1]
                                                                          for i in page)
    assert expected[7]["field0"] == {"S": "value0-0"} and expected[8]["field0"] == {"S": "value0-0-1"}
    assert expected[5] == [[]] and len(expected[6][0]) == 1
    assert all(error.startswith("ValidationException") for error in expected[9:14]), expected[9:14]


def test_random_strings_keep_their_length_and_pool(restored: None) -> None:
    from moto.moto_api._internal import mock_random

    moto_speedups.install_fast_random_strings()
    drawn = mock_random.get_random_string(length=52)
    assert len(drawn) == 52 and set(drawn) <= set(string.ascii_letters + string.digits)
    assert set(mock_random.get_random_string(length=200, include_digits=False)) <= set(string.ascii_letters)
    assert mock_random.get_random_string(length=30, lower_case=True).islower()
    assert len(mock_random.get_random_hex(12)) == 12 and set(mock_random.get_random_hex(64)) <= set("0123456789abcdef")
