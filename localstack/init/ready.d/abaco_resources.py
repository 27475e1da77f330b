"""LocalStack init hook (ready stage): create Abaco's tables, static queues and bucket.

Runs inside the LocalStack container with LocalStack's own Python (boto3, stdlib only): it loads
``chalicelib/wiring/resources.py`` (stdlib only, mounted read-only at /abaco/resources.py by the compose file), the
same definitions ``local/bootstrap.py`` and the CDK stack read, so the three cannot drift. Idempotent.
Settings: ABACO_RESOURCE_PREFIX, ABACO_POOLS, ABACO_PRIVILEGED_POOL (the compose file passes them through).
"""
from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType
from typing import Any

RESOURCES = os.environ.get("ABACO_RESOURCES_FILE", "/abaco/resources.py")
ENDPOINT = os.environ.get("ABACO_HOOK_ENDPOINT", "http://127.0.0.1:4566")


def load_resources(path: str = RESOURCES) -> ModuleType:
    spec = importlib.util.spec_from_file_location("abaco_resources", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building the classes
    spec.loader.exec_module(module)
    return module


def all_pools(env: dict[str, str]) -> list[str]:
    """ABACO_POOLS plus the privileged pool, as ``Settings.all_pools``."""
    pools = [p.strip() for p in env.get("ABACO_POOLS", "default").split(",") if p.strip()]
    privileged = env.get("ABACO_PRIVILEGED_POOL", "privileged")
    return pools if privileged in pools else [*pools, privileged]


def create(resources: ModuleType, prefix: str, pools: list[str], ddb: Any, sqs: Any, s3: Any) -> dict[str, list]:
    existing = {n for page in ddb.get_paginator("list_tables").paginate() for n in page.get("TableNames", [])}
    made: dict[str, list] = {"tables": [], "queues": [], "buckets": []}
    for table in resources.TABLES:
        name = table.physical(prefix)
        if name in existing:
            continue
        extra = {"GlobalSecondaryIndexes": table.global_secondary_indexes()} if table.indexes else {}
        ddb.create_table(TableName=name, KeySchema=table.key_schema(), BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=table.attribute_definitions(), **extra)
        ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        if table.ttl_attribute:
            ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
                "Enabled": True, "AttributeName": table.ttl_attribute})
        made["tables"].append(name)
    for queue in resources.static_queues(pools):
        sqs.create_queue(QueueName=queue.physical(prefix), Attributes={
            "VisibilityTimeout": str(queue.visibility_timeout),
            "MessageRetentionPeriod": str(resources.SQS_MAX_RETENTION_SECONDS),
            "MaximumMessageSize": str(resources.SQS_MAX_MESSAGE_BYTES)})
        made["queues"].append(queue.physical(prefix))
    bucket = resources.bucket_name(prefix)
    if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=bucket)
        made["buckets"].append(bucket)
    return made


def main() -> int:
    import boto3  # LocalStack's environment has it

    env = dict(os.environ)
    kwargs = {"endpoint_url": ENDPOINT, "region_name": env.get("AWS_DEFAULT_REGION", "us-east-1"),
              "aws_access_key_id": "test", "aws_secret_access_key": "test"}
    prefix = env.get("ABACO_RESOURCE_PREFIX", "abaco-local")
    made = create(load_resources(), prefix, all_pools(env), boto3.client("dynamodb", **kwargs),
                  boto3.client("sqs", **kwargs), boto3.client("s3", **kwargs))
    print(f"abaco init hook: prefix={prefix} created {made}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
