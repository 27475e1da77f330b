"""The runner hosts' IAM policy matches what the runner code calls (issue 14 item 2).

A real runner (``python -m runners``) serves a workload over the API against the emulator with every AWS
call it makes recorded (``tests/aws_recorder/sitecustomize.py``: the service, the operation and the table,
queue, bucket or key it names). Then, both ways, against the statements the stack attaches to the host roles
(``infrastructure/abaco_infra/policies.py``, rendered by the CDK as in the synthesised template):

* every recorded call is allowed by the role of the pool that made it;
* every table action the policy grants was recorded, or is listed in ``NOT_EXERCISED`` with the code path
  that needs it: a grant nobody uses fails the test.

The privileged pool's hosts run no cluster duties (``ABACO_RUNNER_DUTIES=false``): a second recorded runner
serves only that pool, and its smaller role is checked the same way.
"""
from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.wiring import resources
from local.launcher import ROOT
from tests.conftest import Api, start_stack, wait_for
from tests.infra_checks import resolve
from tests.integration.probe import probe_image  # noqa: F401  (fixture)

pytestmark = pytest.mark.docker
REGION, ACCOUNT = "us-east-1", "123456789012"
RECORDER = ROOT / "tests" / "aws_recorder"
S3_ACTIONS = {"HeadObject": "s3:GetObject", "GetObject": "s3:GetObject", "PutObject": "s3:PutObject",
              "DeleteObject": "s3:DeleteObject", "ListObjectsV2": "s3:ListBucket", "DeleteObjects": "s3:DeleteObject",
              "CreateMultipartUpload": "s3:PutObject", "UploadPart": "s3:PutObject",
              "CompleteMultipartUpload": "s3:PutObject", "AbortMultipartUpload": "s3:AbortMultipartUpload"}
IAM_PREFIX = {"monitoring": "cloudwatch"}
# Table actions the runner code has but this run does not reach, each with the code that needs it.
NOT_EXERCISED: dict[tuple[str, str], str] = {
    ("workers", "dynamodb:PutItem"): "runners/duties/autoscaler.py: a backlog beyond the live workers (timing)",
    ("actors", "dynamodb:DeleteItem"): "services/cleanup.py: the last pass over a deleted actor removes its item",
    ("logs", "dynamodb:Query"): "services/cleanup.py: logs kept forever (no log_ex) of a deleted actor",
    ("logs", "dynamodb:BatchWriteItem"): "services/cleanup.py: logs kept forever (no log_ex) of a deleted actor",
    ("roles", "dynamodb:GetItem"): "services/roles.holds_privilege: only with ABACO_PRIVILEGED_ROLE_MAX_AGE > 0",
    ("workers", "dynamodb:Query"): "runners/host/slots.py keeps_warm: a worker of a `sync` actor",
}


@dataclass(frozen=True)
class Call:
    action: str
    resources: tuple[str, ...]


def recorded(path: Path, prefix: str) -> list[Call]:
    calls = []
    for line in path.read_text().splitlines():
        item = json.loads(line)
        service, operation = item["service"], item["operation"]
        operation = operation.removesuffix("Batch") if service == "sqs" else operation  # IAM: the single action
        if service == "dynamodb" and operation == "TransactWriteItems":  # IAM authorises each item's action
            calls += [Call("dynamodb:UpdateItem", (arn(service, name, prefix),)) for name in item["resources"]]
            continue
        action = S3_ACTIONS.get(operation, f"s3:{operation}") if service == "s3" else \
            f"{IAM_PREFIX.get(service, service)}:{operation}"
        calls.append(Call(action, tuple(arn(service, name, prefix, action) for name in item["resources"])))
    return calls


def arn(service: str, name: str, prefix: str, action: str = "") -> str:
    if service == "dynamodb":
        return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
    if service == "sqs":
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    if service == "s3":  # object actions on the bucket's objects, ListBucket on the bucket; in AWS the
        name = f"{name}-{ACCOUNT}-{REGION}"  # bucket's name carries the account and region as well
        return f"arn:aws:s3:::{name}" if action == "s3:ListBucket" else f"arn:aws:s3:::{name}/object"
    if service == "kms":
        return "<SecretsKey>"  # the stack's own key, by reference
    return name


@dataclass(frozen=True)
class Statement:
    actions: tuple[str, ...]
    resources: tuple[str, ...]


def runner_statements(pool: str, prefix: str, privileged: bool) -> list[Statement]:
    from aws_cdk import App
    from aws_cdk import Stack as CdkStack

    from infrastructure.abaco_infra import policies  # needs aws-cdk-lib (installed by build.ensure)

    stack = CdkStack(App(), "Iam")
    arns = policies.Arns(prefix, REGION, ACCOUNT)
    built = policies.runner(arns, pool, ["default", "privileged"], "<SecretsKey>", f"/{prefix}/runner/{pool}",
                            f"{prefix}/encryption-keys", "arn:aws:s3:::bundle/runner.zip", privileged=privileged)
    out = []
    for statement in built:
        body = resolve(stack.resolve(statement.to_statement_json()))
        actions = body["Action"] if isinstance(body["Action"], list) else [body["Action"]]
        res = body["Resource"] if isinstance(body["Resource"], list) else [body["Resource"]]
        out.append(Statement(tuple(actions), tuple(res)))
    return out


def allowed(call: Call, statements: list[Statement]) -> bool:
    targets = call.resources or ("*",)
    return all(any(call.action in s.actions and any(fnmatch.fnmatchcase(t, r) or r == "*" for r in s.resources)
                   for s in statements) for t in targets)


@dataclass(frozen=True)
class Run:
    prefix: str
    default: Path  # the calls of the default pool's runner (duties on)
    privileged: Path  # the calls of the privileged pool's runner (duties off)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, probe_image: str) -> Iterator[Run]:  # noqa: F811
    """A stack without runners, then two recorded runners (the default pool with the duties on short
    periods, the privileged pool without) serving a workload that reaches every pipeline step: a plain, a
    large (S3) and a binary message, a secret config, results, a failing execution, a privileged actor,
    actors deleted while their workers are up."""
    tmp = tmp_path_factory.mktemp("iam")
    stack = start_stack(tmp, runners=0, env={"ABACO_SECRETS_BACKEND": "kms", "ABACO_RECONCILE_SECONDS": "1",
                                              "ABACO_CRON_SECONDS": "2", "ABACO_AUTOSCALE_SECONDS": "1",
                                              "ABACO_DUTY_LEASE_SECONDS": "3"})
    paths = Run(stack.env["ABACO_RESOURCE_PREFIX"], tmp / "default.jsonl", tmp / "privileged.jsonl")
    for path in (paths.default, paths.privileged):
        path.touch()
    stack.add_runner("runner0", env={"PYTHONPATH": str(RECORDER), "ABACO_TEST_RECORD_AWS": str(paths.default)})
    stack.add_runner("runner1", env={"PYTHONPATH": str(RECORDER), "ABACO_TEST_RECORD_AWS": str(paths.privileged),
                                     "ABACO_RUNNER_POOL": "privileged", "ABACO_RUNNER_PRIVILEGED": "true",
                                     "ABACO_RUNNER_DUTIES": "false"})
    try:
        workload(Api(stack.api_url), probe_image)
        _cleaned_up(stack)  # the cleanup duty's calls on the deleted actors are part of what they need
        stack.stop()  # the runners' shutdown calls are part of what they need
        yield paths
    finally:
        stack.stop()


def _cleaned_up(stack: Any) -> None:
    """Wait until the cleanup duty has removed every deleted actor (the sparse ``deleting`` index is empty):
    stopping before its next pass left its executions calls unrecorded now and then."""
    ddb = boto3.client("dynamodb", endpoint_url=stack.env["AWS_ENDPOINT_URL"], region_name=REGION,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    table = resources.ACTORS.physical(stack.env["ABACO_RESOURCE_PREFIX"])
    wait_for(lambda: not ddb.query(TableName=table, IndexName=resources.DELETING_INDEX,
                                   KeyConditionExpression="deleting = :d",
                                   ExpressionAttributeValues={":d": {"S": resources.DELETING_KEY}})["Items"],
             120, what="the cleanup duty to remove the deleted actors")


def _run(api: Api, actor: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    sent = api.ok("POST", f"/actors/{actor['id']}/messages", **kwargs)
    return api.wait_execution(actor["id"], sent["execution_id"], timeout=120)


def workload(api: Api, image: str) -> None:
    actor = api.create_actor(image="abacosamples/test", cron_schedule="now + 1 hour")
    probe = api.create_actor(image=image)
    privileged = api.create_actor(image=image, privileged=True)
    failing = api.create_actor(image="abaco-test/exit3")
    for each in (actor, probe, privileged, failing):
        wait_for(lambda a=each: api.ok("GET", f"/actors/{a['id']}")["status"] == "READY", 90, what="actor READY")
    api.ok("POST", "/actors/configs", json={"name": "iam-secret", "value": "s3cr3t", "is_secret": True,
                                            "actors": f"{actor['id']},{privileged['id']}"})
    for kwargs in ({"data": {"message": "small"}}, {"data": {"message": "x" * 300_000}},
                   {"data": bytes(range(256)) * 64, "headers": {"Content-Type": "application/octet-stream"}}):
        assert _run(api, actor, **kwargs)["status"] == "COMPLETE"
    assert _run(api, probe, params={"PROBE_RESULTS": '["one", "two"]'}, data={"message": "results"})["status"] \
        == "COMPLETE"
    assert _run(api, privileged, params={"PROBE_RESULTS": '["root"]'}, data=bytes(range(256)),
                headers={"Content-Type": "application/octet-stream"})["status"] == "COMPLETE"
    assert _run(api, failing, data={"message": "fail"})["exit_code"] == 3
    for each in (actor, probe, privileged, failing):
        api.ok("DELETE", f"/actors/{each['id']}")


POOLS = [("default", False), ("privileged", True)]


@pytest.mark.parametrize(("pool", "privileged"), POOLS)
def test_every_call_of_a_real_runner_is_allowed_by_its_role(run: Run, pool: str, privileged: bool) -> None:
    calls = recorded(run.privileged if privileged else run.default, run.prefix)
    assert {c.action for c in calls} >= {"dynamodb:UpdateItem", "sqs:ReceiveMessage", "kms:Decrypt"}, calls
    statements = runner_statements(pool, run.prefix, privileged=privileged)
    denied = [c for c in calls if not allowed(c, statements)]
    assert denied == [], f"calls the {pool} pool's role would refuse: {denied}"


def test_the_workload_reached_results_payloads_and_duties(run: Run) -> None:
    actions = {(c.action, r) for c in recorded(run.default, run.prefix) for r in c.resources}
    for action, where in [("dynamodb:PutItem", "-results"), ("s3:GetObject", "-payloads-"),
                          ("dynamodb:UpdateItem", "-duties"), ("dynamodb:Scan", "/index/open")]:
        assert any(a == action and where in r for a, r in actions), (action, where)
    privileged = {c.action + " " + " ".join(c.resources) for c in recorded(run.privileged, run.prefix)}
    assert not [c for c in privileged if "-duties" in c], "the privileged pool's runner ran duties"


@pytest.mark.parametrize(("pool", "privileged"), POOLS)
def test_every_table_grant_is_used_by_the_runner(run: Run, pool: str, privileged: bool) -> None:
    prefix = run.prefix
    used = {(target, c.action) for c in recorded(run.privileged if privileged else run.default, prefix)
            for target in c.resources}
    unused = []
    for statement in runner_statements(pool, prefix, privileged=privileged):
        for action in statement.actions:
            if not action.startswith("dynamodb:"):
                continue
            for resource in statement.resources:
                table = resource.split("table/", 1)[-1].removeprefix(f"{prefix}-").split("/", 1)[0]
                hit = any(fnmatch.fnmatchcase(target, resource) and a == action for target, a in used)
                if not hit and (table, action) not in NOT_EXERCISED:
                    unused.append((table, action))
    assert unused == [], f"table grants no runner call needs (or list them in NOT_EXERCISED): {unused}"


def test_the_privileged_pool_role_is_smaller_and_cannot_touch_grants(run: Run) -> None:
    prefix = run.prefix
    default = runner_statements("default", prefix, privileged=False)
    privileged = runner_statements("privileged", prefix, privileged=True)

    def grants(statements: list[Statement]) -> set[tuple[str, str]]:
        return {(a, r) for s in statements for a in s.actions for r in s.resources}

    assert len(grants(privileged)) < len(grants(default))
    for table in (resources.PERMISSIONS, resources.ROLES, resources.NONCES):
        table_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table.physical(prefix)}"
        writes = {a for a, r in grants(privileged) | grants(default)
                  if r == table_arn and a in ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")}
        assert writes == set(), f"a runner may write {table.name}: {writes}"
