"""Messages over HTTP (reference §1.4): every body form, binary and large messages through S3, synchronous
messages, the inbox count and the purge. Real emulator, API and Docker."""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import time
import urllib.parse
from collections.abc import Iterator

import boto3
import pytest

from chalicelib.wiring import resources
from local.launcher import Stack
from tests.conftest import Api, wait_for
from tests.integration.probe import probe_image, report  # noqa: F401  (fixture)

BINARY = {"Content-Type": "application/octet-stream"}


def _s3(stack: Stack) -> tuple[object, str]:
    client = boto3.client("s3", endpoint_url=stack.env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    return client, resources.bucket_name(stack.env["ABACO_RESOURCE_PREFIX"])


def _payload_keys(stack: Stack, actor_id: str = "") -> list[str]:
    client, bucket = _s3(stack)
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=resources.PAYLOAD_KEY_PREFIX)
    return [o["Key"] for page in pages for o in page.get("Contents", []) if actor_id in o["Key"]]


def _run(api: Api, actor_id: str, **kwargs: object) -> tuple[dict, dict]:
    sent = api.ok("POST", f"/actors/{actor_id}/messages", **kwargs)
    execution = api.wait_execution(actor_id, sent["execution_id"])
    assert execution["status"] == "COMPLETE", execution
    return sent, report(api.logs(actor_id, sent["execution_id"]))


@pytest.fixture(scope="module")
def probe(api: Api, probe_image: str) -> Iterator[str]:  # noqa: F811
    actor_id = api.create_actor(image=probe_image)["id"]
    yield actor_id
    api.call("DELETE", f"/actors/{actor_id}")


# --- body forms --------------------------------------------------------------------------------

def test_raw_body_that_is_json_text_is_a_str_message(api: Api, probe: str) -> None:
    _, seen = _run(api, probe, data=b'"raw text body"', headers={"Content-Type": "text/plain"})
    assert seen["env"]["MSG"] == "raw text body" and seen["env"]["_abaco_Content_Type"] == "str"
    _, seen = _run(api, probe, data=b'[1, "a", true]', headers={"Content-Type": "text/plain"})
    assert seen["env"]["MSG"] == "[1, 'a', True]"  # the Python repr, as Abaco hands objects to Docker


def test_json_message_field_and_json_bodies(api: Api, probe: str) -> None:
    _, seen = _run(api, probe, json={"message": "in a field"})
    assert seen["env"]["MSG"] == "in a field" and seen["env"]["_abaco_Content_Type"] == "str"
    sent, seen = _run(api, probe, json={"k": [1, None, "x"]})
    assert sent["msg"] == {"k": [1, None, "x"]}
    assert seen["env"]["MSG"] == "{'k': [1, None, 'x']}"
    assert seen["env"]["_abaco_Content_Type"] == "application/json"


# --- binary and large messages -----------------------------------------------------------------

@pytest.mark.parametrize("size", [0, 200_000, 3_000_000], ids=["empty", "through-the-gateway", "streamed"])
def test_binary_message_is_a_read_only_file_and_no_msg(api: Api, stack: Stack, probe: str, size: int) -> None:
    payload = os.urandom(size)
    sent, seen = _run(api, probe, data=payload, headers=BINARY)
    assert sent["msg"] == "binary - omitted"
    assert "MSG" not in seen["env"]
    assert seen["env"]["_abaco_Content_Type"] == "application/octet-stream"
    binary = seen["binary"]
    assert binary["kind"] == "file" and binary["writable"] is False
    assert (binary["size"], binary["sha256"]) == (size, hashlib.sha256(payload).hexdigest())
    assert seen["message"] == {"exists": False}
    wait_for(lambda: not _payload_keys(stack, probe), 30, what="the payload object to be deleted")


def test_binary_message_needs_a_content_length(api: Api, probe: str) -> None:
    before = api.ok("GET", f"/actors/{probe}/executions")["total_executions"]
    response = api.call("POST", f"/actors/{probe}/messages", data=iter([b"chunked", b"body"]), headers=BINARY)
    assert response.status_code == 400, response.text
    assert response.json()["message"] == "Content Length required for application/octet-stream."
    assert api.ok("GET", f"/actors/{probe}/executions")["total_executions"] == before


def test_a_body_over_the_maximum_is_refused_before_it_is_read(api: Api, probe: str) -> None:
    url = urllib.parse.urlsplit(api.base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.putrequest("POST", f"/actors/{probe}/messages")
        connection.putheader("Content-Type", "application/octet-stream")
        connection.putheader("Content-Length", str(600_000_000))  # over the 500 MB default; never sent
        connection.endheaders()
        response = connection.getresponse()
        body = json.loads(response.read())
    finally:
        connection.close()
    assert response.status == 400
    assert body["status"] == "error" and body["message"] == "Message exceeds max content length of: 500000000"


def test_text_too_large_for_sqs_travels_through_s3_into_msg(api: Api, probe: str) -> None:
    text = "abc " * 25_000  # 100 KB: over the 64 KiB inline limit, under the 128 KiB environment limit
    _, seen = _run(api, probe, data={"message": text})
    assert seen["env"]["MSG"] == text
    assert "_abaco_message_file" not in seen["env"]


def test_text_too_large_for_the_environment_is_a_file(api: Api, probe: str) -> None:
    text = "0123456789" * 30_000  # 300 KB: over the kernel's 128 KiB per-string limit
    _, seen = _run(api, probe, data={"message": text})
    assert "MSG" not in seen["env"]
    assert seen["env"]["_abaco_message_file"] == "/_abaco_message"
    assert seen["env"]["_abaco_Content_Type"] == "str"
    message = seen["message"]
    assert message["kind"] == "file" and message["writable"] is False
    assert (message["size"], message["sha256"]) == (len(text), hashlib.sha256(text.encode()).hexdigest())
    _, seen = _run(api, probe, json={"big": text})
    assert seen["message"]["head"].startswith('{"big": "0123')  # JSON text in the file (not a repr)
    assert seen["context"] == {"message_kind": "dict", "dict_keys": ["big"]}  # agavepy reads the file


# --- synchronous messages ----------------------------------------------------------------------

def _stored(stack: Stack, execution_id: str) -> dict[str, object]:
    """What the terminal write said the attempt stored (fields the API never shows), read from the table."""
    client = boto3.client("dynamodb", endpoint_url=stack.env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    [item] = client.scan(TableName=resources.EXECUTIONS.physical(stack.env["ABACO_RESOURCE_PREFIX"]),
                         FilterExpression="execution_id = :e", ExpressionAttributeValues={":e": {"S": execution_id}},
                         ConsistentRead=True)["Items"]
    return {name: int(item[name]["N"]) for name in ("log_bytes", "results_stored") if name in item}


def test_synchronous_message_returns_the_logs(api: Api, probe: str, stack: Stack) -> None:
    response = api.call("POST", f"/actors/{probe}/messages?_abaco_synchronous=true", data={"message": "sync"})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    assert report(response.text)["env"]["MSG"] == "sync"
    eid = response.headers["X-Abaco-Execution-Id"]
    execution = api.ok("GET", f"/actors/{probe}/executions/{eid}")
    assert execution["status"] == "COMPLETE"
    assert _stored(stack, eid) == {"log_bytes": len(response.text.encode()), "results_stored": 0}


def test_a_synchronous_message_to_a_quiet_actor_is_answered_empty(api: Api, stack: Stack) -> None:
    """Nothing printed, no result: the answer is empty, and the record says so (the API read neither)."""
    actor = api.create_actor(image="abacosamples/noop")
    wait_for(lambda: api.ok("GET", f"/actors/{actor['id']}")["status"] == "READY", 90, what="the actor READY")
    response = api.call("POST", f"/actors/{actor['id']}/messages?_abaco_synchronous=true", data={"message": "q"})
    assert response.status_code == 200 and response.text == "", response.text
    eid = response.headers["X-Abaco-Execution-Id"]
    assert _stored(stack, eid) == {"log_bytes": 0, "results_stored": 0}


def test_synchronous_message_returns_the_first_binary_result(api: Api, probe: str) -> None:
    query = urllib.parse.urlencode({"_abaco_synchronous": "TRUE", "PROBE_RESULTS": json.dumps(["first", "2nd"])})
    response = api.call("POST", f"/actors/{probe}/messages?{query}", data={"message": "x"})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.content == b"first"
    eid = response.headers["X-Abaco-Execution-Id"]
    assert api.call("GET", f"/actors/{probe}/executions/{eid}/results").content == b"2nd"


# --- a 100 MB binary message, end to end -------------------------------------------------------

def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as handle:
        return [int(p) for p in handle.read().split()]


def _peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as handle:
        line = next(line for line in handle if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def _reset_peak(pid: int) -> None:
    with open(f"/proc/{pid}/clear_refs", "w") as handle:  # "5" resets VmHWM to the current RSS
        handle.write("5")


def test_100_mb_binary_message_end_to_end(api: Api, stack: Stack, probe: str, tmp_path) -> None:
    size = 100 * 1024 * 1024
    path = tmp_path / "payload"
    digest = hashlib.sha256()
    with open(path, "wb") as handle:
        for _ in range(100):
            block = os.urandom(1024 * 1024)
            digest.update(block)
            handle.write(block)
    api_workers = _children(stack.procs["api"].pid)
    runner = stack.procs["runner0"].pid
    for pid in [*api_workers, runner]:
        _reset_peak(pid)
    base = {pid: _peak_rss_mb(pid) for pid in [*api_workers, runner]}
    started = time.monotonic()
    with open(path, "rb") as body:
        sent = api.ok("POST", f"/actors/{probe}/messages", data=body, headers=BINARY)
    accepted = time.monotonic() - started
    execution = api.wait_execution(probe, sent["execution_id"], timeout=180)
    finished = time.monotonic() - started
    assert execution["status"] == "COMPLETE", execution
    seen = report(api.logs(probe, sent["execution_id"]))
    assert (seen["binary"]["size"], seen["binary"]["sha256"]) == (size, digest.hexdigest())
    growth = {pid: _peak_rss_mb(pid) - base[pid] for pid in base}
    print(f"\n100 MB binary: accepted in {accepted:.1f} s, COMPLETE after {finished:.1f} s; "
          f"peak RSS growth (MB): " + ", ".join(f"{pid}: {mb:.0f}" for pid, mb in growth.items()))
    assert all(mb < 50 for mb in growth.values()), growth  # never a whole copy in the API or the runner
    wait_for(lambda: not _payload_keys(stack, probe), 30, what="the payload object to be deleted")
