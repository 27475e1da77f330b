"""The fault proxy's request parsing (tests/fault_proxy.py): which service a request is for."""
from __future__ import annotations

from tests.fault_proxy import parse_head, service_of


def test_service_names() -> None:
    assert service_of("DynamoDB_20120810.UpdateItem") == "dynamodb"
    assert service_of("AmazonSQS.ReceiveMessage") == "sqs"
    assert service_of("") == "other"  # S3 and anything without a JSON target


def test_request_heads() -> None:
    head = b"POST / HTTP/1.1\r\nx-amz-target: AmazonSQS.DeleteMessage\r\nContent-Length: 12"
    assert parse_head(head) == ("AmazonSQS.DeleteMessage", 12, False)
    assert parse_head(b"PUT /b/k HTTP/1.1\r\nTransfer-Encoding: chunked") == ("", 0, True)
