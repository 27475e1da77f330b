"""X-Ray tracing end to end on the real stack: the API and the runner send their segments over the X-Ray
daemon protocol (UDP on loopback) to a listener this test runs, and one trace follows a message from the
POST through SQS into the runner: the API's segment with its DynamoDB and SQS subsegments, the runner's
segment under the same trace id whose parent is the API's segment."""
from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.launcher import Stack
from tests.conftest import Api, start_stack, wait_for


class DaemonListener:
    """What the X-Ray daemon would receive: ``{"format": "json", "version": 1}\\n<segment JSON>`` per datagram."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.5)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.segments: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65_535)
            except TimeoutError:
                continue
            header, _, body = data.decode().partition("\n")
            assert json.loads(header) == {"format": "json", "version": 1}
            self.segments.append(json.loads(body))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()

    def named(self, name: str) -> list[dict[str, Any]]:
        return [s for s in list(self.segments) if (s.get("name") == name and "parent_id" in s) or s.get("name") == name]


def _subsegment_names(segment: dict[str, Any]) -> set[str]:
    names = set()
    for sub in segment.get("subsegments", []):
        names.add(sub["name"])
        names |= _subsegment_names(sub)
    return names


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, DaemonListener]]:
    listener = DaemonListener()
    stack = start_stack(Path(tmp_path_factory.mktemp("traced")), env={
        "ABACO_TRACING": "true", "ABACO_TRACING_SAMPLE_ALL": "true", "AWS_XRAY_DAEMON_ADDRESS": listener.address})
    yield stack, listener
    stack.stop()
    listener.close()


@pytest.mark.docker
def test_one_trace_follows_a_message_from_the_api_into_the_runner(traced: tuple[Stack, DaemonListener]) -> None:
    stack, listener = traced
    api = Api(stack.api_url)
    actor = api.create_actor(image="abacosamples/test")
    sent = api.ok("POST", f"/actors/{actor['id']}/messages?_abaco_test_sleep=0", data={"message": "traced"})
    assert api.wait_execution(actor["id"], sent["execution_id"])["status"] == "COMPLETE"

    def post_segment() -> dict[str, Any] | None:
        for seg in list(listener.segments):
            if seg.get("name") == "abaco-api" and seg.get("http", {}).get("request", {}).get("method") == "POST" \
                    and seg["http"]["request"]["url"].endswith(f"/actors/{actor['id']}/messages"):
                return seg
        return None

    api_segment = wait_for(post_segment, 30, what="the API's segment of the POST")
    assert api_segment["http"]["response"]["status"] == 200
    assert {"dynamodb", "sqs"} <= _subsegment_names(api_segment)  # boto3 calls as subsegments

    def runner_segment() -> dict[str, Any] | None:
        for seg in list(listener.segments):
            if seg.get("name") == "abaco-runner" and seg.get("trace_id") == api_segment["trace_id"]:
                return seg
        return None

    runner = wait_for(runner_segment, 30, what="the runner's segment in the same trace")
    assert runner["parent_id"] == api_segment["id"]  # continued from the API, through SQS's AWSTraceHeader
    assert runner["annotations"]["actor_id"] == actor["id"]
    names = _subsegment_names(runner)
    assert {"claim", "deliver", "create", "start", "wait", "finalise"} <= names  # the runner's steps
    assert "dynamodb" in names  # the claim and the terminal write, as boto3 subsegments of those steps
    api.call("DELETE", f"/actors/{actor['id']}")


def test_tracing_is_off_by_default_and_then_sends_nothing(api: Api) -> None:
    listener = DaemonListener()
    try:
        api.ok("GET", "/actors")
        assert listener.segments == []  # the session stack runs without ABACO_TRACING
    finally:
        listener.close()
