"""Read the tables, queues and bucket of a synthesised CloudFormation template (``infrastructure/cdk.out``)
into the calls the local bootstrap makes, so the emulator can run exactly what the stack would create.

Only what those resources use is resolved: literal names (the stack names everything from the prefix) and
``Fn::GetAtt [Queue, Arn]`` in a redrive policy.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class TemplateError(ValueError):
    """The template has something the bootstrap cannot create (reported with the resource's logical id)."""


@dataclass(frozen=True)
class TableSpec:
    name: str
    create: dict[str, Any]  # create_table keyword arguments
    ttl_attribute: str | None = None
    point_in_time_recovery: bool = False


@dataclass(frozen=True)
class QueueSpec:
    logical_id: str
    name: str
    attributes: dict[str, str] = field(default_factory=dict)
    dead_letter_logical_id: str | None = None
    max_receive_count: int | None = None


@dataclass(frozen=True)
class TemplateResources:
    tables: list[TableSpec]
    queues: list[QueueSpec]
    buckets: list[str]


_QUEUE_ATTRIBUTES = ("VisibilityTimeout", "MessageRetentionPeriod", "MaximumMessageSize", "DelaySeconds",
                     "ReceiveMessageWaitTimeSeconds")
_TABLE_KEYS = ("KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "BillingMode")


def load(path: str | Path) -> TemplateResources:
    return parse(json.loads(Path(path).read_text()))


def parse(template: dict[str, Any]) -> TemplateResources:
    tables, queues, buckets = [], [], []
    for logical_id, resource in template.get("Resources", {}).items():
        kind, props = resource.get("Type"), resource.get("Properties", {})
        if kind == "AWS::DynamoDB::Table":
            tables.append(_table(logical_id, props))
        elif kind == "AWS::SQS::Queue":
            queues.append(_queue(logical_id, props))
        elif kind == "AWS::S3::Bucket":
            buckets.append(_literal(logical_id, props.get("BucketName"), "BucketName"))
    # Dead-letter queues first, so a redrive policy can name an existing queue's ARN.
    queues.sort(key=lambda q: q.dead_letter_logical_id is not None)
    return TemplateResources(tables, queues, buckets)


# What the pseudo parameters a name may join in (``Fn::Join`` of literals and ``Ref AWS::AccountId`` /
# ``AWS::Region``, as the stack's globally unique bucket name does) are locally: moto's account, our region.
LOCAL_ACCOUNT = "123456789012"


def _pseudo(name: str) -> str | None:
    return {"AWS::AccountId": LOCAL_ACCOUNT,
            "AWS::Region": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}.get(name)


def _joined(value: Any) -> Any:
    """``{"Fn::Join": ["", [literal | {"Ref": pseudo parameter}, ...]]}`` as a string; anything else as is."""
    if not (isinstance(value, dict) and list(value) == ["Fn::Join"]):
        return value
    separator, parts = value["Fn::Join"]
    out = []
    for part in parts:
        resolved = _pseudo(part["Ref"]) if isinstance(part, dict) and list(part) == ["Ref"] else part
        if not isinstance(resolved, str):
            return value
        out.append(resolved)
    return str(separator).join(out)


def _literal(logical_id: str, value: Any, what: str) -> str:
    value = _joined(value)
    if not isinstance(value, str) or not value:
        raise TemplateError(f"{logical_id}: {what} must be a literal name, got {value!r}")
    return value


def _table(logical_id: str, props: dict[str, Any]) -> TableSpec:
    name = _literal(logical_id, props.get("TableName"), "TableName")
    create = {"TableName": name, **{k: props[k] for k in _TABLE_KEYS if k in props}}
    create.setdefault("BillingMode", "PAY_PER_REQUEST")
    ttl = props.get("TimeToLiveSpecification") or {}
    pitr = props.get("PointInTimeRecoverySpecification") or {}
    return TableSpec(name, create, ttl.get("AttributeName") if ttl.get("Enabled") else None,
                     bool(pitr.get("PointInTimeRecoveryEnabled")))


def _queue(logical_id: str, props: dict[str, Any]) -> QueueSpec:
    name = _literal(logical_id, props.get("QueueName"), "QueueName")
    attributes = {k: str(props[k]) for k in _QUEUE_ATTRIBUTES if k in props}
    redrive = props.get("RedrivePolicy")
    if not redrive:
        return QueueSpec(logical_id, name, attributes)
    target = redrive.get("deadLetterTargetArn")
    if not (isinstance(target, dict) and "Fn::GetAtt" in target and target["Fn::GetAtt"][1] == "Arn"):
        raise TemplateError(f"{logical_id}: deadLetterTargetArn must be Fn::GetAtt [queue, Arn], got {target!r}")
    return QueueSpec(logical_id, name, attributes, target["Fn::GetAtt"][0], int(redrive.get("maxReceiveCount", 1)))
