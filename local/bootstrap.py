"""Create every table, queue and bucket from ``chalicelib.wiring.resources`` on the configured endpoint.

Idempotent: existing resources are left as they are. Run as ``python -m local.bootstrap``. With
``ABACO_BOOTSTRAP_TEMPLATE`` set to a synthesised CloudFormation template (``infrastructure/cdk.out/
dev.template.json``), it creates exactly the template's tables, queues and bucket instead: the local system
then runs on what the stack would create in AWS.
"""
from __future__ import annotations

import json
import sys
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters import aws
from chalicelib.wiring import resources
from chalicelib.wiring.settings import Settings, get_settings
from local import template as cfn


def create_tables(settings: Settings) -> list[str]:
    ddb = aws.client("dynamodb", settings)
    existing = set(_all_tables(ddb))
    made = []
    for table in resources.TABLES:
        name = table.physical(settings.resource_prefix)
        if name in existing:
            continue
        extra: dict[str, Any] = {}
        if table.indexes:
            extra["GlobalSecondaryIndexes"] = table.global_secondary_indexes()
        ddb.create_table(TableName=name, KeySchema=table.key_schema(),
                         AttributeDefinitions=table.attribute_definitions(), BillingMode="PAY_PER_REQUEST",
                         **extra)
        ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        if table.ttl_attribute:
            ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
                "Enabled": True, "AttributeName": table.ttl_attribute})
        made.append(name)
    return made


def _all_tables(ddb: Any) -> list[str]:
    names: list[str] = []
    kwargs: dict[str, Any] = {}
    while True:
        resp = ddb.list_tables(**kwargs)
        names.extend(resp.get("TableNames", []))
        if not resp.get("LastEvaluatedTableName"):
            return names
        kwargs["ExclusiveStartTableName"] = resp["LastEvaluatedTableName"]


def create_queues(settings: Settings) -> list[str]:
    sqs = aws.client("sqs", settings)
    made = []
    for queue in resources.static_queues(settings.all_pools):
        name = queue.physical(settings.resource_prefix)
        sqs.create_queue(QueueName=name, Attributes={
            "VisibilityTimeout": str(queue.visibility_timeout),
            "MessageRetentionPeriod": str(resources.SQS_MAX_RETENTION_SECONDS),
            "MaximumMessageSize": str(resources.SQS_MAX_MESSAGE_BYTES)})
        made.append(name)
    return made


def create_bucket(settings: Settings) -> str:
    return _create_bucket(settings, resources.bucket_name(settings.resource_prefix))


def _create_bucket(settings: Settings, name: str) -> str:
    s3 = aws.client("s3", settings)
    try:
        s3.create_bucket(Bucket=name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": [{
        "ID": "expire-message-payloads", "Status": "Enabled",
        "Filter": {"Prefix": resources.PAYLOAD_KEY_PREFIX},
        "Expiration": {"Days": resources.PAYLOAD_EXPIRY_DAYS},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}]})
    return name


def create_kms_key(settings: Settings) -> str:
    """The key that wraps the data keys of secrets (used with ABACO_SECRETS_BACKEND=kms)."""
    kms = aws.client("kms", settings)
    alias = resources.kms_alias(settings.resource_prefix)
    for page in kms.get_paginator("list_aliases").paginate():
        if any(a.get("AliasName") == alias for a in page.get("Aliases", [])):
            return alias
    key = kms.create_key(Description="Abaco secret configs (envelope encryption)")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=alias, TargetKeyId=key)
    return alias


def bootstrap(settings: Settings) -> dict[str, Any]:
    if settings.bootstrap_template:
        return bootstrap_from_template(settings, settings.bootstrap_template)
    return {"tables": create_tables(settings), "queues": create_queues(settings),
            "bucket": create_bucket(settings), "kms_key": create_kms_key(settings)}


def bootstrap_from_template(settings: Settings, path: str) -> dict[str, Any]:
    """Create the template's resources; their names must carry this system's prefix, or the API and the
    runners would look for resources that are not there."""
    found = cfn.load(path)
    names = [t.name for t in found.tables] + [q.name for q in found.queues] + found.buckets
    stray = [n for n in names if not n.startswith(f"{settings.resource_prefix}-")]
    if stray:
        raise cfn.TemplateError(f"{path}: {stray} do not start with ABACO_RESOURCE_PREFIX "
                                f"{settings.resource_prefix!r}-; synthesise with that prefix or change it")
    ddb = aws.client("dynamodb", settings)
    existing = set(_all_tables(ddb))
    made_tables = []
    for table in found.tables:
        if table.name in existing:
            continue
        ddb.create_table(**table.create)
        ddb.get_waiter("table_exists").wait(TableName=table.name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        if table.ttl_attribute:
            ddb.update_time_to_live(TableName=table.name, TimeToLiveSpecification={
                "Enabled": True, "AttributeName": table.ttl_attribute})
        if table.point_in_time_recovery:
            ddb.update_continuous_backups(TableName=table.name, PointInTimeRecoverySpecification={
                "PointInTimeRecoveryEnabled": True})
        made_tables.append(table.name)
    sqs = aws.client("sqs", settings)
    arns: dict[str, str] = {}
    for queue in found.queues:
        attributes = dict(queue.attributes)
        if queue.dead_letter_logical_id:
            attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": arns[queue.dead_letter_logical_id],
                                                      "maxReceiveCount": str(queue.max_receive_count)})
        url = sqs.create_queue(QueueName=queue.name, Attributes=attributes)["QueueUrl"]
        arns[queue.logical_id] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
    for bucket in found.buckets:
        _create_bucket(settings, bucket)
    return {"tables": made_tables, "queues": [q.name for q in found.queues], "bucket": ",".join(found.buckets),
            "kms_key": create_kms_key(settings)}  # the template's SecretsKey has the same alias


def main() -> int:
    settings = get_settings()
    result = bootstrap(settings)
    print(f"bootstrap: endpoint={settings.aws_endpoint_url or 'AWS'} prefix={settings.resource_prefix} "
          f"new tables={result['tables']} queues={result['queues']} bucket={result['bucket']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
