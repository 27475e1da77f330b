"""A large binary message is streamed to S3 by the local edge before its view runs (local/upload.py); the
caller is authorised first with the messages view's own requirement (EXECUTE), looked up from the
registered view, so nobody without the right to send stores a byte, on either path prefix."""
from __future__ import annotations

import os
from typing import Any

import boto3

from chalicelib.wiring import resources
from local.launcher import Stack
from local.upload import STREAM_MIN_BYTES

BINARY = {"Content-Type": "application/octet-stream"}


def _staged_keys(stack: Stack) -> set[str]:
    client = boto3.client("s3", endpoint_url=stack.env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    bucket = resources.bucket_name(stack.env["ABACO_RESOURCE_PREFIX"])
    prefix = f"{resources.PAYLOAD_KEY_PREFIX}staged/"
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {o["Key"] for page in pages for o in page.get("Contents", [])}


def test_a_streamed_upload_needs_the_views_own_permission_before_a_byte_is_stored(client: Any,
                                                                                  jwt_stack: Stack) -> None:
    pam, quinn = client("pam"), client("quinn")
    actor = pam.ok("POST", "/actors", json={"image": "abacosamples/noop"})["id"]
    pam.ok("POST", f"/actors/{actor}/permissions", json={"user": "quinn", "level": "READ"})
    body = os.urandom(STREAM_MIN_BYTES + 1)
    before = _staged_keys(jwt_stack)
    for prefix in ("", "/v3"):
        refused = quinn.call("POST", f"{prefix}/actors/{actor}/messages", data=body, headers=BINARY)
        assert refused.status_code == 400 and refused.json()["status"] == "error", refused.text
    assert _staged_keys(jwt_stack) == before  # READ is not EXECUTE: refused before the upload
    pam.ok("POST", f"/actors/{actor}/permissions", json={"user": "quinn", "level": "EXECUTE"})
    sent = quinn.ok("POST", f"/v3/actors/{actor}/messages", data=body, headers=BINARY)
    assert sent["execution_id"] and sent["msg"] == "binary - omitted"
