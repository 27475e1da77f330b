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
        out.extend(_item_operations(client))
        out.extend(_updates(client))
        out.append(client.scan(TableName="t")["Items"])
        return out


def _answer(response: dict[str, Any]) -> dict[str, Any]:
    """A whole answer but its request id (a new one each time)."""
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def _item_operations(client: Any) -> list[Any]:
    """Whole answers of the item operations the JSON fast path serves (``FAST_OPERATIONS``), with binary
    attributes (which moto parses itself) and without, projections, capacities, misses and refusals."""
    key = {"pk": {"S": "p4"}, "sk": {"S": "bin"}}
    binary = {**key, "data": {"B": b"\x00\xff\"B\": 1"}, "many": {"BS": [b"a", b"\x01"]}, "n": {"N": "7"},
              "doc": {"M": {"l": {"L": [{"S": "x"}, {"NULL": True}, {"BOOL": False}]}, "ss": {"SS": ["q"]}}}}
    plain = {"pk": {"S": "p4"}, "sk": {"S": "plain"}, "text": {"S": '{"B": "not binary"}'}, "ns": {"NS": ["1", "2.5"]}}
    mine = {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p4"}}}
    out: list[Any] = [
        _answer(client.put_item(TableName="t", Item=binary, ReturnConsumedCapacity="TOTAL")),
        _answer(client.put_item(TableName="t", Item=plain, ReturnValues="ALL_OLD")),
        _answer(client.put_item(TableName="t", Item={**plain, "text": {"S": "again"}}, ReturnValues="ALL_OLD")),
        _answer(client.get_item(TableName="t", Key=key, ConsistentRead=True)),
        _answer(client.get_item(TableName="t", Key={**key, "sk": {"S": "plain"}}, ReturnConsumedCapacity="TOTAL")),
        _answer(client.get_item(TableName="t", Key=key, ProjectionExpression="#d, n",
                                ExpressionAttributeNames={"#d": "doc"})),
        _answer(client.get_item(TableName="t", Key={"pk": {"S": "p4"}, "sk": {"S": "none"}})),
        _answer(client.query(TableName="t", **mine, ReturnConsumedCapacity="TOTAL")),
        _answer(client.query(TableName="t", **mine, Select="COUNT")),
        _answer(client.query(TableName="t", **mine, ProjectionExpression="sk", Limit=1)),
        _answer(client.batch_get_item(RequestItems={"t": {"Keys": [key, {"pk": {"S": "p4"}, "sk": {"S": "plain"}},
                                                                   {"pk": {"S": "p4"}, "sk": {"S": "none"}}]}})),
        _answer(client.update_item(TableName="t", Key=key, UpdateExpression="SET n = :n",
                                   ExpressionAttributeValues={":n": {"N": "8"}}, ReturnValues="UPDATED_OLD")),
        _answer(client.delete_item(TableName="t", Key={**key, "sk": {"S": "plain"}}, ReturnValues="ALL_OLD")),
        _answer(client.delete_item(TableName="t", Key={**key, "sk": {"S": "plain"}})),
    ]
    out.append(_error(lambda: client.delete_item(TableName="t", Key=key, ConditionExpression="n = :n",
                                                 ExpressionAttributeValues={":n": {"N": "0"}},
                                                 ReturnValuesOnConditionCheckFailure="ALL_OLD")))
    out.append(_error(lambda: client.get_item(TableName="missing", Key=key)))
    out.append(_error(lambda: client.put_item(TableName="t", Item={"pk": {"S": "p4"}})))
    return out


def _updates(client: Any) -> list[Any]:
    """Update expressions the fast path takes (simple SET, REMOVE, ADD of numbers) and those it leaves to
    moto (paths, functions, sets, key attributes, empty values, type mismatches), with their errors."""
    key = {"pk": {"S": "p3"}, "sk": {"S": "u"}}
    value_kinds = {":s": {"S": "x"}, ":n": {"N": "1.50"}, ":m": {"M": {"a": {"L": [{"N": "1"}, {"S": "q"}]}}},
                   ":ss": {"SS": ["a", "b"]}, ":b": {"B": b"\x00"}, ":t": {"BOOL": True}, ":z": {"NULL": True}}
    cases: list[dict[str, Any]] = [
        {"UpdateExpression": "SET #a = :s, #b = :n, #c = :m, #d = :ss, #e = :b, #f = :t, #g = :z",
         "ExpressionAttributeNames": {f"#{c}": c for c in "abcdefg"}, "ExpressionAttributeValues": value_kinds},
        {"UpdateExpression": "ADD total :n, other :n", "ExpressionAttributeValues": {":n": {"N": "2"}}},  # reserved
        {"UpdateExpression": "ADD tally :n, amount_b :n", "ExpressionAttributeValues": {":n": {"N": "2"}}},
        {"UpdateExpression": "ADD tally :n", "ExpressionAttributeValues": {":n": {"N": "-0.25"}}},
        {"UpdateExpression": "SET #a = :s REMOVE #c, nothing", "ExpressionAttributeNames": {"#a": "a", "#c": "c"},
         "ExpressionAttributeValues": {":s": {"S": "y"}}},
        {"UpdateExpression": "REMOVE #g SET #a=:s", "ExpressionAttributeNames": {"#a": "a", "#g": "g"},
         "ExpressionAttributeValues": {":s": {"S": "z"}}, "ConditionExpression": "#a = :old",
         **{"_values": {":old": {"S": "y"}}}},
        {"UpdateExpression": "SET #a = :s", "ExpressionAttributeNames": {"#a": "a"},
         "ExpressionAttributeValues": {":s": {"S": "w"}}, "ConditionExpression": "#a = :old",
         **{"_values": {":old": {"S": "not-it"}}}},
        {"UpdateExpression": "ADD #a :n", "ExpressionAttributeNames": {"#a": "a"},
         "ExpressionAttributeValues": {":n": {"N": "1"}}},  # a string: moto's type error
        {"UpdateExpression": "ADD #d :ss", "ExpressionAttributeNames": {"#d": "d"},
         "ExpressionAttributeValues": {":ss": {"SS": ["c"]}}},  # a set: moto's path
        {"UpdateExpression": "SET #a = :s, #a = :s", "ExpressionAttributeNames": {"#a": "a"},
         "ExpressionAttributeValues": {":s": {"S": "x"}}},
        {"UpdateExpression": "SET #k = :s", "ExpressionAttributeNames": {"#k": "sk"},
         "ExpressionAttributeValues": {":s": {"S": "x"}}},
        {"UpdateExpression": "SET #o = :e", "ExpressionAttributeNames": {"#o": "open"},
         "ExpressionAttributeValues": {":e": {"S": ""}}},
        {"UpdateExpression": "SET #a = :missing, #b = :n", "ExpressionAttributeNames": {"#a": "a", "#b": "b"},
         "ExpressionAttributeValues": {":n": {"N": "1"}}},
        {"UpdateExpression": "SET #c.a = :s, #b = if_not_exists(#b, :n) + :n",
         "ExpressionAttributeNames": {"#b": "b", "#c": "c"},
         "ExpressionAttributeValues": {":s": {"S": "deep"}, ":n": {"N": "1"}}},
        {"UpdateExpression": "SET #h = :big", "ExpressionAttributeNames": {"#h": "huge"},
         "ExpressionAttributeValues": {":big": {"S": "h" * 210_000}}},  # fits
        {"UpdateExpression": "SET #h = :big", "ExpressionAttributeNames": {"#h": "huge"},
         "ExpressionAttributeValues": {":big": {"S": "i" * 210_000}}},  # moto counts the old value and the new
        {"UpdateExpression": "SET #a = :s, #i = :big", "ExpressionAttributeNames": {"#a": "small", "#i": "huge2"},
         "ExpressionAttributeValues": {":s": {"S": "v"}, ":big": {"S": "i" * 210_000}}},  # too large at the 2nd
        {"UpdateExpression": "REMOVE #h SET #i = :big", "ExpressionAttributeNames": {"#h": "huge", "#i": "huge2"},
         "ExpressionAttributeValues": {":big": {"S": "j" * 200_000}}},
        {"UpdateExpression": "SET #l = list_append(if_not_exists(#l, :empty), :one)",
         "ExpressionAttributeNames": {"#l": "l"},
         "ExpressionAttributeValues": {":empty": {"L": []}, ":one": {"L": [{"S": "x"}]}}},
    ]
    out: list[Any] = []
    for i, given in enumerate(cases):
        case = dict(given)
        extra = case.pop("_values", {})
        case["ExpressionAttributeValues"] = {**case["ExpressionAttributeValues"], **extra}
        for item_key in (key, {"pk": {"S": "p3"}, "sk": {"S": f"new{i}"}}):  # an item, and none yet
            out.append(_error(lambda c=case, k=item_key: out.append(client.update_item(
                TableName="t", Key=k, ReturnValues="ALL_NEW", **c).get("Attributes"))))
    out.append(_error(lambda: client.update_item(  # no range key: whatever moto answers, the same
        TableName="t", Key={"pk": {"S": "p3"}}, UpdateExpression="SET #a = :s", ExpressionAttributeNames={"#a": "a"},
        ExpressionAttributeValues={":s": {"S": "x"}})))
    out.append(client.get_item(TableName="t", Key=key, ConsistentRead=True)["Item"])
    return out


@pytest.fixture
def restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the test installs is undone after it (other tests run moto as it ships)."""
    import moto.core.responses
    import moto.sqs.models
    from moto.core import utils
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.parsing import ast_nodes, validators
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser
    from moto.dynamodb.responses import DynamoHandler
    from moto.moto_api._internal.moto_random import MotoRandom
    from moto.sqs.responses import SQSResponse

    for module in (utils, moto.core.responses, moto.sqs.models):
        monkeypatch.setattr(module, "camelcase_to_underscores", utils.camelcase_to_underscores)
    for name in ("parse_parameters", "serialized"):
        monkeypatch.setattr(SQSResponse, name, getattr(SQSResponse, name))
    for owner, name in ((Table, "query"), (ast_nodes.DepthFirstTraverser, "process"),
                        (ast_nodes.DepthFirstTraverser, "nodes_to_be_processed"),
                        (validators.ActionCountValidator, "traverse"), (UpdateExpressionParser, "make"),
                        (DynamoDBBackend, "update_item"), (DynamoHandler, "parse_parameters"),
                        (DynamoHandler, "serialized"),
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
    from moto.dynamodb.responses import DynamoHandler

    assert getattr(DynamoHandler.serialized, "abaco_fast", False)
    assert _workload() == expected
    assert [len(page) for page in expected[0]] == [4, 2] and expected[0][0][0]["sk"] == {"S": "s1"}
    assert [i["at"]["S"] for page in expected[1] for i in page] == sorted(i["at"]["S"] for page in expected[1]
                                                                          for i in page)
    assert expected[7]["field0"] == {"S": "value0-0"} and expected[8]["field0"] == {"S": "value0-0-1"}
    assert expected[5] == [[]] and len(expected[6][0]) == 1
    assert all(error.startswith("ValidationException") for error in expected[9:14]), expected[9:14]
    errors = [e for e in expected if isinstance(e, str) and e != "no error"]
    assert len(errors) >= 12 and any(e.startswith("ConditionalCheckFailed") for e in errors), errors
    items = expected[14:31]
    assert items[3]["Item"]["data"] == {"B": b'\x00\xff"B": 1'} and items[6] == {}, items
    assert items[10]["Responses"]["t"] and items[-1].startswith("ValidationException"), items
    final = expected[-2]
    assert final["tally"] == {"N": "1.75"} and final["amount_b"] == {"N": "2"} and final["a"] == {"S": "z"}, final
    assert "g" not in final and "c" not in final and final["d"] == {"SS": ["a", "b", "c"]}, final
    from moto.dynamodb.models import DynamoDBBackend

    assert getattr(DynamoDBBackend.update_item, "abaco_fast", False)


def test_random_strings_keep_their_length_and_pool(restored: None) -> None:
    from moto.moto_api._internal import mock_random

    moto_speedups.install_fast_random_strings()
    drawn = mock_random.get_random_string(length=52)
    assert len(drawn) == 52 and set(drawn) <= set(string.ascii_letters + string.digits)
    assert set(mock_random.get_random_string(length=200, include_digits=False)) <= set(string.ascii_letters)
    assert mock_random.get_random_string(length=30, lower_case=True).islower()
    assert len(mock_random.get_random_hex(12)) == 12 and set(mock_random.get_random_hex(64)) <= set("0123456789abcdef")


def test_names_are_converted_as_moto_converts_them(restored: None) -> None:
    import moto.core.responses
    import moto.sqs.models
    from moto.core import utils

    original = utils.camelcase_to_underscores
    names = ["ApproximateNumberOfMessagesNotVisible", "KmsMasterKeyId", "DelaySeconds", "FifoQueue", "GetItem",
             "SSEKmsKeyId", "", "theNewAttribute", "A B"]
    moto_speedups.install_all()
    for module in (utils, moto.core.responses, moto.sqs.models):
        assert getattr(module.camelcase_to_underscores, "abaco_fast", False), module
    assert [moto.sqs.models.camelcase_to_underscores(n) for n in names * 2] == [original(n) for n in names * 2]


_VOLATILE = {"MessageId", "ReceiptHandle", "SentTimestamp", "ApproximateFirstReceiveTimestamp", "QueueUrl"}


def _steady(value: Any) -> Any:
    """An SQS answer with the ids, receipts and times (new on every run) replaced by their kind."""
    if isinstance(value, dict):
        return {k: (f"<{k}>" if k in _VOLATILE else _steady(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_steady(v) for v in value]
    return value


def _sqs_workload() -> list[Any]:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        out: list[Any] = [_steady(_answer(sqs.get_queue_url(QueueName="inbox")))]
        attributes = {"version": {"DataType": "Number", "StringValue": "3"},
                      "note": {"DataType": "String", "StringValue": '"BinaryValue": not binary'}}
        binary = {"b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}}
        for body, extra in (("plain", {}), ("with attributes", {"MessageAttributes": attributes}),
                            ("binary", {"MessageAttributes": binary}),
                            ("traced", {"MessageSystemAttributes": {"AWSTraceHeader": {
                                "DataType": "String", "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272793"}}})):
            out.append(_steady(_answer(sqs.send_message(QueueUrl=url, MessageBody=body, **extra))))
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=30,
                                       MessageAttributeNames=["All"], AttributeNames=["All"])["Messages"]
        out.append(sorted((_steady(m) for m in received), key=lambda m: m["Body"]))
        receipts = [m["ReceiptHandle"] for m in sorted(received, key=lambda m: m["Body"])]
        out.append(_answer(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)))  # none visible
        out.append(_answer(sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=receipts[0], VisibilityTimeout=0)))
        out.append(_answer(sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
            {"Id": "a", "ReceiptHandle": receipts[1], "VisibilityTimeout": 5},
            {"Id": "b", "ReceiptHandle": "not-a-receipt", "VisibilityTimeout": 5}])))
        out.append(_answer(sqs.delete_message(QueueUrl=url, ReceiptHandle=receipts[2])))
        out.append(_answer(sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": "c", "ReceiptHandle": receipts[3]}, {"Id": "d", "ReceiptHandle": "not-a-receipt"}])))
        out.append(_answer(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])))
        out.append(sorted(_answer(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]))["Attributes"]))
        out.append(_error(lambda: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11)))
        out.append(_error(lambda: sqs.send_message(QueueUrl=url + "-missing", MessageBody="x")))
        out.append(_error(lambda: sqs.delete_message_batch(QueueUrl=url, Entries=[])))
        return out


def test_sqs_answers_what_moto_answers(restored: None) -> None:
    expected = _sqs_workload()
    moto_speedups.install_all()
    from moto.sqs.responses import SQSResponse

    assert getattr(SQSResponse.serialized, "abaco_fast", False)
    assert _sqs_workload() == expected
    received = expected[5]
    assert [m["Body"] for m in received] == ["binary", "plain", "traced", "with attributes"], received
    assert received[0]["MessageAttributes"]["b"]["BinaryValue"] == b"\x00\x01"
    assert received[3]["MessageAttributes"]["version"] == {"DataType": "Number", "StringValue": "3"}
    assert received[2]["Attributes"]["AWSTraceHeader"].startswith("Root=")
    assert len(expected[8]["Successful"]) == 1 and len(expected[8]["Failed"]) == 1, expected[8]
    assert all(isinstance(e, str) and e != "no error" for e in expected[-3:]), expected[-3:]
