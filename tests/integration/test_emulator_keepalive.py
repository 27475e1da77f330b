"""The emulator keeps connections alive (``local/moto_app.py``), every request on one still gets its answer, and
no answer waits for a delayed ACK.

Werkzeug's server closed every connection, so each AWS call of every process paid a TCP connect and the
emulator a thread. Kept alive, a request must still start where the previous one ended: its body read
to its Content-Length, whatever the service left unread drained, nothing of the next request swallowed.
"""
from __future__ import annotations

import http.client
import json
import logging
import statistics
import time
from collections.abc import Callable, Iterator

import boto3
import pytest

from local import emulator

AUTH = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=x"


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    chosen = emulator.free_port()
    proc = emulator.start(chosen)
    yield chosen
    proc.terminate()
    proc.wait(10)


def _dynamodb(conn: http.client.HTTPConnection, target: str, body: dict[str, object]) -> tuple[int, bytes]:
    conn.request("POST", "/", body=json.dumps(body).encode(),
                 headers={"X-Amz-Target": f"DynamoDB_20120810.{target}", "Content-Type": "application/x-amz-json-1.0",
                          "Authorization": AUTH.format(service="dynamodb")})
    response = conn.getresponse()
    return response.status, response.read()


def test_one_connection_serves_requests_back_to_back(port: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    status, _ = _dynamodb(conn, "ListTables", {})
    first = conn.sock
    assert status == 200 and first is not None
    # a body the dashboard endpoint never reads must not become the start of the next request
    conn.request("GET", "/moto-api/", body=b"x" * 5000, headers={"Content-Length": "5000"})
    response = conn.getresponse()
    response.read()
    assert response.status == 200
    for _ in range(3):
        status, data = _dynamodb(conn, "ListTables", {"Limit": 5})
        assert status == 200 and "TableNames" in json.loads(data)
    assert conn.sock is first  # never closed and reopened
    conn.close()


def test_boto3_clients_reuse_their_connection(port: int, caplog: pytest.LogCaptureFixture) -> None:
    kwargs = {"endpoint_url": f"http://127.0.0.1:{port}", "region_name": "us-east-1",
              "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    ddb, s3 = boto3.client("dynamodb", **kwargs), boto3.client("s3", **kwargs)
    ddb.create_table(TableName="keepalive", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    s3.create_bucket(Bucket="keepalive")
    with caplog.at_level(logging.DEBUG, logger="urllib3.connectionpool"):
        for index in range(5):
            ddb.put_item(TableName="keepalive", Item={"k": {"S": str(index)}})
            with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
                ddb.put_item(TableName="keepalive", Item={"k": {"S": str(index)}},
                             ConditionExpression="attribute_not_exists(k)")
            assert ddb.get_item(TableName="keepalive", Key={"k": {"S": str(index)}})["Item"]["k"]["S"] == str(index)
            s3.put_object(Bucket="keepalive", Key=f"o{index}", Body=b"y" * 70_000)
            assert s3.get_object(Bucket="keepalive", Key=f"o{index}")["Body"].read() == b"y" * 70_000
    reconnects = [r for r in caplog.records if "Resetting dropped connection" in r.getMessage()
                  or "Starting new HTTP connection" in r.getMessage()]
    assert not reconnects, [r.getMessage() for r in reconnects]


def _median_ms(call: Callable[[], None], times: int = 15) -> float:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def test_a_kept_alive_request_is_not_held_by_delayed_acks(port: int) -> None:
    """Werkzeug sends the headers and the body in two writes. With Nagle's algorithm on, the body of every
    answer after a connection's first waited for the client's delayed ACK of the headers (40 ms on Linux):
    about 45 ms per request instead of about 2, while a fresh connection (quick ACKs at its start) did not
    wait. Measured against fresh connections in the same run, not against a clock."""
    kept = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    _dynamodb(kept, "ListTables", {})  # the connection's first answer is never held

    def fresh() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        assert _dynamodb(conn, "ListTables", {})[0] == 200
        conn.close()

    fresh_ms = _median_ms(fresh)
    kept_ms = _median_ms(lambda: _dynamodb(kept, "ListTables", {}))
    kept.close()
    assert kept_ms < 2 * fresh_ms + 1, (kept_ms, fresh_ms)  # with the bug: about 45 ms against about 3


def test_a_client_stalled_mid_request_does_not_hold_the_other_dynamodb_requests(port: int) -> None:
    """DynamoDB requests run one at a time (``AtomicDynamoDB``); a client that sent its headers and stops
    before its body (botocore sends them apart: a SIGSTOPped runner) must not hold the others."""
    import socket

    body = json.dumps({"Limit": 1}).encode()
    stalled = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        stalled.sendall(("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\n"
                         "Content-Type: application/x-amz-json-1.0\r\nAuthorization: "
                         f"{AUTH.format(service='dynamodb')}\r\nContent-Length: {len(body)}\r\n\r\n").encode())
        time.sleep(0.2)  # not synchronisation: the stall itself, long enough for the server to be waiting
        other = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        status, data = _dynamodb(other, "ListTables", {})  # timed out (the lock held) before the fix
        assert status == 200 and "TableNames" in json.loads(data)
        other.close()
        stalled.sendall(body)  # the stalled request completes too
        answer = stalled.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200"), answer[:100]
    finally:
        stalled.close()
