"""SQS adapter: one standard inbox per actor, a command and a wake queue per runner pool, a shared dead-letter
queue."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters import aws, aws_errors
from chalicelib.domain.errors import NotFound
from chalicelib.domain.queue_messages import EventMessage, InboxMessage, StartWorkerCommand
from chalicelib.wiring import resources
from chalicelib.wiring.settings import Settings

SQS_BATCH = 10  # entries per batch call (SQS quota)
ACTOR_VERSION = "actor_version"  # an inbox message's attribute (send_inbox)
# The adapter's own words for two errors the API shows (aws_errors.translate places every code).
_MESSAGES = {"AWS.SimpleQueueService.PurgeQueueInProgress": "a purge of this queue is already in progress",
             "PurgeQueueInProgress": "a purge of this queue is already in progress",
             "AWS.SimpleQueueService.NonExistentQueue": "queue not found", "QueueDoesNotExist": "queue not found"}


@dataclass(frozen=True)
class Received:
    body: str
    receipt: str
    receive_count: int
    message_id: str
    trace_header: str | None = None  # the X-Ray trace of the request that sent it (AWSTraceHeader)
    sent_at: float | None = None  # when SQS accepted it (SentTimestamp), in epoch seconds
    # When it turns visible again (time.monotonic()), if it was received with a visibility of its own: the
    # answer's arrival plus that visibility (SQS starts the clock on its side, a moment before).
    visible_until: float | None = None
    actor_version: int | None = None  # the ``actor_version`` attribute the API sent with an inbox message


class Queues:
    """Every queue operation the API and the runners need, with SDK errors translated once."""

    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self._settings = settings
        self._sqs = client or aws.client("sqs", settings)
        self._urls: dict[str, str] = {}
        self._base: str | None = None  # the URLs' common prefix, once one is known
        self._lock = threading.Lock()

    # --- inboxes -------------------------------------------------------------------------------
    def create_inbox(self, tenant: str, actor_id: str, pool: str = "default") -> str:
        """Create the inbox tagged with its runner pool: in AWS, runner roles read only their pool's inboxes."""
        name = resources.inbox_name(self._settings.resource_prefix, tenant, actor_id)
        attributes = {
            "VisibilityTimeout": str(self._settings.visibility_timeout),
            "MessageRetentionPeriod": str(resources.SQS_MAX_RETENTION_SECONDS),
            "MaximumMessageSize": str(resources.SQS_MAX_MESSAGE_BYTES),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": self._dlq_arn(),
                                         "maxReceiveCount": str(resources.INBOX_MAX_RECEIVE_COUNT)}),
        }
        url = self._call("create_queue", QueueName=name, Attributes=attributes,
                         tags={resources.POOL_TAG: pool})["QueueUrl"]
        with self._lock:
            self._urls[name] = url
        return url

    def delete_inbox(self, tenant: str, actor_id: str) -> None:
        try:
            self._call("delete_queue", QueueUrl=self.inbox_url(tenant, actor_id))
        except NotFound:
            pass
        with self._lock:
            self._urls.pop(resources.inbox_name(self._settings.resource_prefix, tenant, actor_id), None)

    def mark_inbox_deleting(self, tenant: str, actor_id: str) -> None:
        """Tag the inbox of an actor being deleted: only such an inbox may the cleanup duty delete."""
        try:
            self._call("tag_queue", QueueUrl=self.inbox_url(tenant, actor_id), Tags={resources.DELETING_TAG: "true"})
        except NotFound:
            pass

    def set_inbox_pool(self, tenant: str, actor_id: str, pool: str) -> None:
        """Re-tag the inbox when an actor moves to another pool (its runners' roles match the tag)."""
        self._call("tag_queue", QueueUrl=self.inbox_url(tenant, actor_id), Tags={resources.POOL_TAG: pool})

    def inbox_pool(self, tenant: str, actor_id: str) -> str | None:
        tags = self._call("list_queue_tags", QueueUrl=self.inbox_url(tenant, actor_id)).get("Tags", {})
        return tags.get(resources.POOL_TAG)

    def inbox_url(self, tenant: str, actor_id: str) -> str:
        return self._url(resources.inbox_name(self._settings.resource_prefix, tenant, actor_id))

    def send_inbox(self, message: InboxMessage, trace_header: str | None = None,
                   actor_version: int | None = None) -> str:
        """``trace_header``: the X-Ray trace the runner continues, as SQS's own AWSTraceHeader attribute.
        ``actor_version``: the actor's version the API read to accept the message, as a message attribute
        (``runners/host/actor_view.py``): beside the body, so a runner of an earlier release, which refuses
        unknown fields in the body, still decodes it during a rolling upgrade."""
        url = self.inbox_url(message.tenant, message.actor_id)
        extra: dict[str, Any] = {}
        if trace_header:
            extra["MessageSystemAttributes"] = {"AWSTraceHeader": {"StringValue": trace_header, "DataType": "String"}}
        if actor_version is not None:
            extra["MessageAttributes"] = {ACTOR_VERSION: {"StringValue": str(actor_version), "DataType": "Number"}}
        return self._call("send_message", QueueUrl=url, MessageBody=message.encode(), **extra)["MessageId"]

    def inbox_depth(self, tenant: str, actor_id: str) -> int:
        attrs = self._call("get_queue_attributes", QueueUrl=self.inbox_url(tenant, actor_id),
                           AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        return int(attrs.get("ApproximateNumberOfMessages", 0))

    def purge_inbox(self, tenant: str, actor_id: str) -> None:
        self._call("purge_queue", QueueUrl=self.inbox_url(tenant, actor_id))

    # --- commands ------------------------------------------------------------------------------
    def command_url(self, pool: str) -> str:
        return self._url(resources.command_queue(pool).physical(self._settings.resource_prefix))

    def command_depth(self, pool: str) -> int:
        """Approximate number of start-worker commands waiting for the pool (``commandQueue``)."""
        attrs = self._call("get_queue_attributes", QueueUrl=self.command_url(pool),
                           AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        return int(attrs.get("ApproximateNumberOfMessages", 0))

    def wake_url(self, pool: str) -> str:
        return self._url(resources.wake_queue(pool).physical(self._settings.resource_prefix))

    def send_command(self, pool: str, command: StartWorkerCommand, wake: bool = False) -> None:
        """To the pool's wake queue when a message waits for the worker, else to its command queue."""
        url = self.wake_url(pool) if wake else self.command_url(pool)
        self._call("send_message", QueueUrl=url, MessageBody=command.encode())

    # --- events --------------------------------------------------------------------------------
    def events_url(self) -> str:
        return self._url(resources.EVENTS.physical(self._settings.resource_prefix))

    def send_event(self, message: EventMessage) -> None:
        self._call("send_message", QueueUrl=self.events_url(), MessageBody=message.encode())

    # --- consumer side (runners) ---------------------------------------------------------------
    def receive(self, url: str, wait_seconds: int, max_messages: int = 1,
                visibility: int | None = None) -> list[Received]:
        kwargs: dict[str, Any] = {"QueueUrl": url, "MaxNumberOfMessages": max_messages,
                                  "WaitTimeSeconds": wait_seconds,
                                  "MessageSystemAttributeNames": ["ApproximateReceiveCount", "AWSTraceHeader",
                                                                  "SentTimestamp"],
                                  "MessageAttributeNames": [ACTOR_VERSION]}
        if visibility is not None:
            kwargs["VisibilityTimeout"] = visibility
        messages = self._call("receive_message", **kwargs).get("Messages", [])
        until = None if visibility is None else time.monotonic() + visibility
        return [_received(m, until) for m in messages]

    def delete(self, url: str, receipt: str) -> None:
        self._call("delete_message", QueueUrl=url, ReceiptHandle=receipt)

    def delete_many(self, url: str, receipts: list[str]) -> None:
        """One call per 10 messages; an entry that failed (a receipt no longer valid) comes back by itself."""
        for start in range(0, len(receipts), SQS_BATCH):
            entries = [{"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(receipts[start:start + SQS_BATCH])]
            self._call("delete_message_batch", QueueUrl=url, Entries=entries)

    def set_visibility(self, url: str, receipt: str, seconds: int) -> None:
        self._call("change_message_visibility", QueueUrl=url, ReceiptHandle=receipt, VisibilityTimeout=seconds)

    def set_visibility_many(self, url: str, receipts: list[str], seconds: int) -> None:
        """One call per 10 messages (the SQS batch limit); failures of single entries are ignored, since a
        message we no longer hold needs nothing from us."""
        for start in range(0, len(receipts), SQS_BATCH):
            entries = [{"Id": str(i), "ReceiptHandle": r, "VisibilityTimeout": seconds}
                       for i, r in enumerate(receipts[start:start + SQS_BATCH])]
            self._call("change_message_visibility_batch", QueueUrl=url, Entries=entries)

    def dead_letter(self, url: str, received: Received, reason: str) -> None:
        """Move a poison message to the shared dead-letter queue with the reason, then off the inbox."""
        dlq = self._url(resources.DEAD_LETTER.physical(self._settings.resource_prefix))
        attributes = {"reason": {"DataType": "String", "StringValue": reason[:1000] or "unknown"},
                      "source_queue": {"DataType": "String", "StringValue": url.rsplit("/", 1)[-1]}}
        self._call("send_message", QueueUrl=dlq, MessageBody=received.body, MessageAttributes=attributes)
        self.delete(url, received.receipt)

    def depth(self, url: str) -> tuple[int, int]:
        """(visible, in flight) messages of a queue, as SQS approximates them."""
        attrs = self._call("get_queue_attributes", QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return (int(attrs.get("ApproximateNumberOfMessages", 0)),
                int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)))

    def dead_letter_url(self) -> str:
        return self._url(resources.DEAD_LETTER.physical(self._settings.resource_prefix))

    # --- internals -----------------------------------------------------------------------------
    def _dlq_arn(self) -> str:
        url = self._url(resources.DEAD_LETTER.physical(self._settings.resource_prefix))
        attrs = self._call("get_queue_attributes", QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
        return attrs["QueueArn"]

    def _url(self, name: str) -> str:
        """A queue's URL: asked of SQS once per process; every other one is the same path with its own name
        (SQS's URLs are ``<endpoint>/<account id>/<queue name>``, an emulator's too), so an actor's inbox
        costs no GetQueueUrl (a request per actor and process: 0.8 of a runner's requests per execution in
        the scale run). A queue that does not exist fails at its first operation, with the same NotFound."""
        with self._lock:
            cached = self._urls.get(name)
            base = self._base
        if cached:
            return cached
        url = f"{base}/{name}" if base is not None else self._call("get_queue_url", QueueName=name)["QueueUrl"]
        with self._lock:
            self._urls[name] = url
            if self._base is None and url.endswith(f"/{name}"):
                self._base = url[: -len(name) - 1]
        return url

    def _call(self, op: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return getattr(self._sqs, op)(**kwargs)
        except ClientError as exc:
            raise aws_errors.translate(exc, f"SQS {op}", message=_MESSAGES.get(aws_errors.code_of(exc))) from exc
        except BotoCoreError as exc:
            raise aws_errors.translate(exc, f"SQS {op}") from exc


def _received(message: dict[str, Any], visible_until: float | None = None) -> Received:
    attributes = message.get("Attributes", {})
    sent = attributes.get("SentTimestamp")
    version = message.get("MessageAttributes", {}).get(ACTOR_VERSION, {}).get("StringValue", "")
    return Received(message["Body"], message["ReceiptHandle"], int(attributes.get("ApproximateReceiveCount", 1)),
                    message["MessageId"], attributes.get("AWSTraceHeader"), int(sent) / 1000 if sent else None,
                    visible_until, int(version) if version.isdigit() else None)
