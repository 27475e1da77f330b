"""Create every table, queue and bucket from ``chalicelib.resources`` on the configured endpoint.

Idempotent: existing resources are left as they are. Run as ``python -m localstack.bootstrap``.
"""
from __future__ import annotations

import sys
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import aws, resources
from chalicelib.settings import Settings, get_settings


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
    s3 = aws.client("s3", settings)
    name = resources.bucket_name(settings.resource_prefix)
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


def bootstrap(settings: Settings) -> dict[str, Any]:
    return {"tables": create_tables(settings), "queues": create_queues(settings),
            "bucket": create_bucket(settings)}


def main() -> int:
    settings = get_settings()
    result = bootstrap(settings)
    print(f"bootstrap: endpoint={settings.aws_endpoint_url or 'AWS'} prefix={settings.resource_prefix} "
          f"new tables={result['tables']} queues={result['queues']} bucket={result['bucket']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
