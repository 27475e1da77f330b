"""Large messages through a presigned S3 upload (the AWS path: API Gateway stops bodies at 10 MB, Lambda at
6 MB), over HTTP against the real emulator, API, runner and Docker: ask for the URL, PUT the bytes to S3,
post the message that names the upload; the container gets exactly those bytes. The upload is bound to its
actor, used once, size-checked, and a body that does not match its declared hash ends in a visible ERROR.
The SDK takes the same path by itself for large bodies."""
from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import pytest
import requests
from abaco_sdk import Abaco
from abaco_sdk import uploads as sdk_uploads

from local.launcher import Stack
from tests.conftest import Api, wait_for
from tests.integration.probe import probe_image, report  # noqa: F401  (fixture)
from tests.integration.test_messages import _payload_keys

HEADER = "X-Abaco-Upload"


@pytest.fixture(scope="module")
def probe(api: Api, probe_image: str) -> Iterator[str]:  # noqa: F811
    actor_id = api.create_actor(image=probe_image)["id"]
    yield actor_id
    api.call("DELETE", f"/actors/{actor_id}")


def ticket_for(api: Api, actor_id: str, payload: bytes) -> dict:
    return api.ok("POST", f"/actors/{actor_id}/messages/uploads",
                  json={"size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()})


def upload(ticket: dict, payload: bytes) -> None:
    response = requests.request(ticket["method"], ticket["url"], data=payload, headers=ticket["headers"], timeout=60)
    assert response.status_code == 200, response.text


def test_upload_then_message_delivers_the_bytes_once(api: Api, stack: Stack, probe: str) -> None:
    payload = os.urandom(3_500_000)
    ticket = ticket_for(api, probe, payload)
    assert ticket["url"].startswith(stack.env["AWS_ENDPOINT_URL"])  # straight to S3 (here: the emulator)
    assert ticket["message_header"] == HEADER and ticket["expires_in"] == 900
    assert ticket["headers"]["Content-Length"] == str(len(payload)) and "x-amz-checksum-sha256" in ticket["headers"]
    upload(ticket, payload)

    sent = api.ok("POST", f"/actors/{probe}/messages", headers={HEADER: ticket["upload_id"]})
    assert sent["msg"] == "binary - omitted"
    execution = api.wait_execution(probe, sent["execution_id"])
    assert execution["status"] == "COMPLETE", execution
    seen = report(api.logs(probe, sent["execution_id"]))
    assert (seen["binary"]["size"], seen["binary"]["sha256"]) == (len(payload), hashlib.sha256(payload).hexdigest())
    assert seen["env"]["_abaco_Content_Type"] == "application/octet-stream"

    again = api.call("POST", f"/actors/{probe}/messages", headers={HEADER: ticket["upload_id"]})
    assert again.status_code == 400 and "already used" in again.json()["message"]  # used once
    wait_for(lambda: not _payload_keys(stack, probe), 30, what="the upload and the payload to be deleted")


def test_an_upload_is_bound_to_its_actor_and_checked(api: Api, probe: str) -> None:
    payload = b"for the probe only"
    ticket = ticket_for(api, probe, payload)
    upload(ticket, payload)
    other = api.create_actor(image="abacosamples/test")["id"]
    try:
        elsewhere = api.call("POST", f"/actors/{other}/messages", headers={HEADER: ticket["upload_id"]})
        assert elsewhere.status_code == 400 and elsewhere.json()["status"] == "error"
        assert api.ok("GET", f"/actors/{other}/executions")["total_executions"] == 0  # nothing recorded
    finally:
        api.call("DELETE", f"/actors/{other}")
    forged = api.call("POST", f"/actors/{probe}/messages", headers={HEADER: "../../etc/passwd"})
    assert forged.status_code == 400 and "upload_id" in forged.json()["message"]
    never = ticket_for(api, probe, b"never uploaded")
    missing = api.call("POST", f"/actors/{probe}/messages", headers={HEADER: never["upload_id"]})
    assert missing.status_code == 400 and "never uploaded" in missing.json()["message"]


@pytest.mark.parametrize(("body", "words"), [
    ({"sha256": "0" * 64}, "size is required"),
    ({"size": 0, "sha256": "0" * 64}, "size is required"),
    ({"size": 600_000_000, "sha256": "0" * 64}, "exceeds max content length"),
    ({"size": 10, "sha256": "xyz"}, "sha256 is required"),
    ({"size": "ten", "sha256": "0" * 64}, "not a valid integer"),
])
def test_bad_upload_requests_are_400(api: Api, probe: str, body: dict, words: str) -> None:
    response = api.call("POST", f"/actors/{probe}/messages/uploads", json=body)
    assert response.status_code == 400 and words in response.json()["message"], response.text


def test_bytes_that_do_not_match_their_hash_end_in_error(api: Api, probe: str) -> None:
    declared, sent_bytes = b"a" * 1000, b"b" * 1000  # same size, other content
    ticket = ticket_for(api, probe, declared)
    upload(ticket, sent_bytes)  # the emulator does not check the checksum header; S3 does
    sent = api.ok("POST", f"/actors/{probe}/messages", headers={HEADER: ticket["upload_id"]})
    execution = api.wait_execution(probe, sent["execution_id"])
    assert execution["status"] == "ERROR" and "sha256" in execution["status_message"], execution


def test_the_sdk_uploads_large_bodies_by_itself(api: Api, probe: str, monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: os.PathLike) -> None:
    monkeypatch.setenv("ABACO_DIRECT_UPLOAD_BYTES", "100000")
    tickets: list[dict] = []
    real_put = sdk_uploads.put

    def recording_put(ticket: dict, body: sdk_uploads.Body, session: requests.Session | None = None) -> None:
        tickets.append(ticket)
        real_put(ticket, body, session)

    monkeypatch.setattr(sdk_uploads, "put", recording_put)
    path = os.path.join(tmp_path, "big.bin")
    payload = os.urandom(400_000)
    with open(path, "wb") as handle:
        handle.write(payload)
    client = Abaco(base_url=api.base)
    sent = client.actors.send_binary_message(probe, path)
    assert len(tickets) == 1  # the large file went through S3
    execution = client.actors.wait_for_execution(probe, sent.execution_id)
    assert execution.status == "COMPLETE"
    seen = report(api.logs(probe, sent.execution_id))
    assert seen["binary"]["sha256"] == hashlib.sha256(payload).hexdigest()
    small = client.actors.send_binary_message(probe, b"small")
    assert len(tickets) == 1 and small.execution_id  # a small body is posted directly
