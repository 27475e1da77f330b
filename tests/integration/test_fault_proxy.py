"""The fault proxy itself (tests/fault_proxy.py), in front of the session's emulator: cutting DynamoDB
leaves SQS answering, restoring brings DynamoDB back, the log names what went through."""
from __future__ import annotations

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from local.launcher import Stack
from tests.fault_proxy import FaultProxy

QUICK = Config(connect_timeout=1, read_timeout=1, retries={"total_max_attempts": 1})


def _clients(url: str) -> tuple[object, object]:
    kwargs = {"endpoint_url": url, "region_name": "us-east-1", "aws_access_key_id": "testing",
              "aws_secret_access_key": "testing", "config": QUICK}
    return boto3.client("dynamodb", **kwargs), boto3.client("sqs", **kwargs)


def test_cutting_dynamodb_leaves_sqs_answering(stack: Stack) -> None:
    proxy = FaultProxy(stack.emulator_port)
    try:
        dynamodb, sqs = _clients(proxy.url)
        assert dynamodb.list_tables()["TableNames"] and "QueueUrls" in sqs.list_queues()
        proxy.cut("dynamodb")
        with pytest.raises(botocore.exceptions.ReadTimeoutError):
            dynamodb.list_tables()
        assert "QueueUrls" in sqs.list_queues()  # the queues still answer
        proxy.restore("dynamodb")
        assert dynamodb.list_tables()["TableNames"]
        targets = [target for _, target, _ in proxy.log]
        assert targets.count("DynamoDB_20120810.ListTables") == 2  # the cut call never reached the emulator
        assert targets.count("AmazonSQS.ListQueues") == 2
        with pytest.raises(ValueError):
            proxy.cut("s3")  # a service it cannot tell apart
    finally:
        proxy.close()


def test_a_stalled_service_answers_late(stack: Stack) -> None:
    proxy = FaultProxy(stack.emulator_port)
    try:
        dynamodb, sqs = _clients(proxy.url)
        proxy.stall("dynamodb", 2.0)  # longer than the client's 1 s read timeout
        with pytest.raises(botocore.exceptions.ReadTimeoutError):
            dynamodb.list_tables()
        assert "QueueUrls" in sqs.list_queues()
        proxy.stall("dynamodb", 0.1)
        patient = boto3.client("dynamodb", endpoint_url=proxy.url, region_name="us-east-1",
                               aws_access_key_id="testing", aws_secret_access_key="testing",
                               config=Config(read_timeout=30, retries={"total_max_attempts": 1}))
        assert patient.list_tables()["TableNames"]  # slow, but it answers
    finally:
        proxy.close()
