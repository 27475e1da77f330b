"""Queue URLs (chalicelib/adapters/queues.py): SQS is asked for one; every other queue's URL, an actor's inbox
above all, is the same path with its own name, and a queue that does not exist still fails as NotFound."""
from __future__ import annotations

from typing import Any

import boto3
import pytest

from chalicelib.adapters.queues import Queues
from chalicelib.domain.errors import NotFound
from chalicelib.domain.queue_messages import InboxMessage
from chalicelib.wiring.backend import Backend
from local import bootstrap
from tests.unit.test_protocol import backend  # noqa: F401 (fixture)


class Counting:
    """The SQS client, counting GetQueueUrl."""

    def __init__(self) -> None:
        self.sqs, self.asked = boto3.client("sqs", region_name="us-east-1"), 0

    def __getattr__(self, name: str) -> Any:
        if name == "get_queue_url":
            self.asked += 1
        return getattr(self.sqs, name)


def test_one_url_is_asked_for_and_the_others_follow_from_it(backend: Backend) -> None:  # noqa: F811
    bootstrap.create_queues(backend.settings)
    backend.queues.create_inbox("T", "A")
    client = Counting()
    queues = Queues(backend.settings, client)
    wake = queues.wake_url("default")
    assert client.asked == 1 and wake == client.sqs.get_queue_url(QueueName=wake.rsplit("/", 1)[1])["QueueUrl"]
    inbox = queues.inbox_url("T", "A")
    assert client.asked == 1  # no request for the inbox
    assert inbox == client.sqs.get_queue_url(QueueName=inbox.rsplit("/", 1)[1])["QueueUrl"]
    queues.send_inbox(InboxMessage(tenant="T", actor_id="A", execution_id="E1", body="m", size=1))
    [got] = queues.receive(inbox, wait_seconds=0)
    assert InboxMessage.decode(got.body).execution_id == "E1"
    with pytest.raises(NotFound):
        queues.inbox_depth("T", "missing")  # no such inbox: its first operation says so
    with pytest.raises(NotFound):
        queues.send_inbox(InboxMessage(tenant="T", actor_id="missing", execution_id="E2", body="m", size=1))
