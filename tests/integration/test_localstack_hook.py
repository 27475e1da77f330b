"""The LocalStack init hook, run against the session's moto server: it creates exactly the resources of
``chalicelib/wiring/resources.py``, from the file alone (LocalStack's Python has neither our packages nor pydantic)."""
from __future__ import annotations

import importlib.util
import secrets
from pathlib import Path

import boto3

from chalicelib.wiring import resources
from local.launcher import Stack

HOOK = Path(__file__).resolve().parents[2] / "localstack" / "init" / "ready.d" / "abaco_resources.py"
RESOURCES_FILE = Path(resources.__file__)


def test_init_hook_creates_the_same_tables_queues_and_bucket(stack: Stack) -> None:
    spec = importlib.util.spec_from_file_location("abaco_hook", HOOK)
    assert spec and spec.loader
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    keys = {"endpoint_url": stack.env["AWS_ENDPOINT_URL"], "region_name": "us-east-1",
            "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    ddb, sqs, s3 = (boto3.client(s, **keys) for s in ("dynamodb", "sqs", "s3"))
    prefix = f"abaco-h{secrets.token_hex(3)}"
    pools = hook.all_pools({"ABACO_POOLS": "default,gpu"})
    assert pools == ["default", "gpu", "privileged"]
    made = hook.create(hook.load_resources(str(RESOURCES_FILE)), prefix, pools, ddb, sqs, s3)
    assert made["tables"] == [t.physical(prefix) for t in resources.TABLES]
    for table in resources.TABLES:
        described = ddb.describe_table(TableName=table.physical(prefix))["Table"]
        assert described["KeySchema"] == table.key_schema()
        assert {i["IndexName"] for i in described.get("GlobalSecondaryIndexes", [])} == {
            name for name, _, _ in table.indexes}
    assert made["queues"] == [q.physical(prefix) for q in resources.static_queues(pools)]
    assert made["buckets"] == [resources.bucket_name(prefix)]
    again = hook.create(hook.load_resources(str(RESOURCES_FILE)), prefix, pools, ddb, sqs, s3)
    assert again["tables"] == [] and again["buckets"] == []  # idempotent
