"""Pure logic of the infrastructure: stage configuration, the runner bundle, reading a template back, and
the backlog metric's datums."""
from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.adapters.cloudwatch import backlog_datums
from chalicelib.wiring import resources
from infrastructure.abaco_infra import bundle, config
from local import template as cfn
from tests import jwt_keys

# What every stage needs to synthesise: a verification key, issuer and audience (flat context keys).
TOKENS = {"jwt_public_key": jwt_keys.key_pair()[1], "jwt_issuer": jwt_keys.ISSUER, "jwt_audience": "abaco"}


def test_stage_defaults_and_context_overrides() -> None:
    dev = config.load("dev", TOKENS)
    assert dev.prefix == "abaco-dev" and dev.account == config.DUMMY_ACCOUNT and not dev.retain_data
    assert dev.pool_names == ["default", "privileged"]
    assert [p.privileged for p in dev.pools] == [False, True]
    prod = config.load("prod", {**TOKENS, "prefix": "acme", "region": "eu-west-1", "account": "111122223333"})
    assert (prod.prefix, prod.region, prod.account, prod.retain_data) == ("acme-prod", "eu-west-1",
                                                                          "111122223333", True)
    assert (dev.actor_pools, dev.privileged_pool) == (["default"], "privileged")
    custom = config.load("dev", {**TOKENS, "stage:dev": '{"pools": [{"name": "default", "max_hosts": 9}, '
                                              '{"name": "gpu"}, {"name": "p", "privileged": true}], "version": ":x"}'})
    assert custom.pool_names == ["default", "gpu", "p"] and custom.pools[0].max_hosts == 9 and custom.version == ":x"
    assert custom.actor_pools == ["default", "gpu"] and custom.privileged_pool == "p"
    assert dev.encryption_keys_reference == "{{resolve:secretsmanager:abaco-dev/encryption-keys:SecretString}}"
    pinned = config.load("dev", {**TOKENS, "stage:dev": {"encryption_keys_version": "v2"}})
    assert pinned.encryption_keys_reference.endswith(":SecretString:::v2}}")
    assert dev.secrets_backend == "kms"  # AWS stages seal secret configs with the stack's KMS key
    assert config.load("dev", {**TOKENS, "stage:dev": {"secrets_backend": "fernet"}}).secrets_backend == "fernet"
    assert dev.api_flavour == "http" and config.load("prod", TOKENS).api_flavour == "http"  # the HTTP API
    assert config.load("prod", {**TOKENS, "api": "rest"}).api_flavour == "rest"  # -c api=rest: every stage
    assert config.load("dev", {**TOKENS, "stage:dev": {"api_flavour": "rest"}}).api_flavour == "rest"


@pytest.mark.parametrize("context", [
    {"stage:dev": {"pools": [{"name": "gpu"}, {"name": "p", "privileged": True}]}},  # no default pool
    {"stage:dev": {"pools": [{"name": "default"}, {"name": "default", "privileged": True}]}},
    {"stage:dev": {"pools": [{"name": "default", "min_hosts": 3, "max_hosts": 2}, {"name": "p", "privileged": True}]}},
    {"stage:dev": {"pools": [{"name": "default"}]}},  # no privileged pool: privileged actors could not run
    {"prefix": "Bad_Prefix"},  # S3 bucket names are lower-case
    {"stage:dev": {"secrets_backend": "plaintext"}},  # kms or fernet only
    {"api": "websocket"},  # http or rest only
    {"access_control": "none"},  # every caller an administrator: local development only
    {"stage:dev": {"extra_env": {"ABACO_ACCESS_CONTROL": "none"}}},  # the same, through extra_env (issue 14)
    {"stage:dev": {"extra_env": {"ABACO_PRODUCTION": "false"}}},  # the API's start-up check switched off
])
def test_invalid_stage_configuration_is_refused(context: dict) -> None:
    with pytest.raises(ValueError):
        config.load("dev", {**TOKENS, **context})


@pytest.mark.parametrize(("stage", "missing", "named"), [
    ("dev", "jwt_public_key", "no JWT verification key"),
    ("prod", "jwt_public_key", "no JWT verification key"),
    ("prod", "jwt_issuer", "ABACO_JWT_ISSUER"),
    ("prod", "jwt_audience", "ABACO_JWT_AUDIENCE"),
])
def test_synthesis_needs_a_key_issuer_and_audience(stage: str, missing: str, named: str) -> None:
    """The API runs with ABACO_PRODUCTION=true in every stage: the same check as its start, at synth time."""
    with pytest.raises(ValueError, match=named):
        config.load(stage, {k: v for k, v in TOKENS.items() if k != missing})


def test_a_tenant_key_map_stands_in_for_the_key_but_still_needs_issuer_and_audience() -> None:
    tenant_keys = {"stage:prod": {"extra_env": {"ABACO_JWT_TENANT_KEYS_FILE": "tenant-keys.json"}}}
    assert config.load("prod", {**tenant_keys, "jwt_issuer": "i", "jwt_audience": "a"}).extra_env
    with pytest.raises(ValueError, match="ABACO_JWT_ISSUER"):
        config.load("prod", tenant_keys)
    with pytest.raises(ValueError, match=r"not a valid|PEM|key"):
        config.load("prod", {**TOKENS, "jwt_public_key": "not a key"})


def test_unknown_stage_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown stage"):
        config.load("staging", TOKENS)


def test_runner_requirements_are_the_pinned_runtime_plus_the_docker_sdk(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("# comment\nboto3==1.0.0\npydantic==2.0\n")
    (tmp_path / "requirements-dev.txt").write_text("-r requirements.txt\ndocker==7.0.0\nrequests==2.0  # x\n"
                                                   "pytest==9.0\n")
    assert bundle.runner_requirements(tmp_path) == ["boto3==1.0.0", "pydantic==2.0", "docker==7.0.0",
                                                    "requests==2.0"]


def test_bundle_holds_the_packages_host_files_and_requirements(tmp_path: Path) -> None:
    target = bundle.stage(tmp_path / "bundle")
    assert (target / "chalicelib" / "wiring" / "resources.py").exists()
    assert (target / "runners" / "__main__.py").exists()
    assert (target / "host" / "runner_env.py").exists() and (target / "host" / "abaco-runner.service").exists()
    requirements = (target / "requirements-runner.txt").read_text()
    assert "docker==" in requirements and "boto3==" in requirements
    assert not list(target.rglob("__pycache__"))


TEMPLATE = {"Resources": {
    "T": {"Type": "AWS::DynamoDB::Table", "Properties": {
        "TableName": "p-t", "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}], "BillingMode": "PAY_PER_REQUEST",
        "TimeToLiveSpecification": {"AttributeName": "exp", "Enabled": True},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}, "SSESpecification": {}}},
    "Inbox": {"Type": "AWS::SQS::Queue", "Properties": {
        "QueueName": "p-q", "VisibilityTimeout": 30,
        "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]}, "maxReceiveCount": 5}}},
    "Dlq": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "p-dlq", "SqsManagedSseEnabled": True}},
    "B": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "p-b"}},
    "Other": {"Type": "AWS::SNS::Topic", "Properties": {}},
}}


def test_template_resources_are_read_back_with_dead_letter_queues_first() -> None:
    found = cfn.parse(TEMPLATE)
    (table,) = found.tables
    assert table.create == {"TableName": "p-t", "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
                            "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
                            "BillingMode": "PAY_PER_REQUEST"}
    assert table.ttl_attribute == "exp" and table.point_in_time_recovery
    assert [q.name for q in found.queues] == ["p-dlq", "p-q"]
    assert found.queues[1].dead_letter_logical_id == "Dlq" and found.queues[1].max_receive_count == 5
    assert found.queues[1].attributes == {"VisibilityTimeout": "30"}
    assert found.buckets == ["p-b"]


def test_template_with_a_computed_name_is_refused() -> None:
    broken = {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Ref": "X"}}}}}
    with pytest.raises(cfn.TemplateError, match="Q: QueueName must be a literal"):
        cfn.parse(broken)


def test_backlog_datums_carry_prefix_and_pool() -> None:
    datums = backlog_datums("abaco-dev", {"gpu": 2, "default": 0})
    assert [d["Dimensions"] for d in datums] == [
        [{"Name": "Prefix", "Value": "abaco-dev"}, {"Name": "Pool", "Value": "default"}],
        [{"Name": "Prefix", "Value": "abaco-dev"}, {"Name": "Pool", "Value": "gpu"}]]
    assert all(d["MetricName"] == resources.BACKLOG_METRIC and d["Unit"] == "Count" for d in datums)
    assert [d["Value"] for d in datums] == [0.0, 2.0]


def _runner_env():  # type: ignore[no-untyped-def]
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "infrastructure" / "host" / "runner_env.py"
    spec = importlib.util.spec_from_file_location("runner_env", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("state", "serves"), [("InService", True), ("Warmed:Stopped", False),
                                               ("Warmed:Running", False), ("", True)])
def test_a_host_in_the_warm_pool_does_not_serve(state: str, serves: bool) -> None:
    """systemd's ExecCondition (infrastructure/host/abaco-runner.service): the target lifecycle state."""
    module = _runner_env()
    assert (module.in_service(lambda path: state if path == "autoscaling/target-lifecycle-state" else None) == 0) \
        is serves


def test_retained_data_is_not_retained_when_a_first_deploy_fails() -> None:
    """prod keeps tables, bucket and key on update and delete, but a failed create rolls them back
    (RetainExceptOnCreate): a retried first deploy never finds them in its way."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "infrastructure"))
    from aws_cdk import App, Stack
    from aws_cdk.assertions import Template

    from abaco_infra.data import DataPlane  # the CDK app's own import path (infrastructure/cdk_app.py)

    stack = Stack(App(), "Data")
    DataPlane(stack, "Data", config.load("prod", TOKENS))
    policies = {body["Type"]: body.get("DeletionPolicy") for body in Template.from_stack(stack).to_json()[
        "Resources"].values() if body["Type"] in ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::KMS::Key")}
    assert policies == dict.fromkeys(("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::KMS::Key"),
                                     "RetainExceptOnCreate")


def test_the_open_index_is_scanned_by_the_duties_and_the_executions_table_is_not() -> None:
    """Least privilege for the duties' one read of the open executions (``ExecutionStore.open_executions``):
    Scan on the ``open`` index's ARN only, never on the executions table, and no Query left on the index;
    the privileged pool's hosts run no duties and get neither."""
    from aws_cdk import App, Stack

    from infrastructure.abaco_infra import policies
    from tests.infra_checks import resolve

    stack = Stack(App(), "Iam")
    arns = policies.Arns("abaco-dev", "us-east-1", "123456789012")
    table = "arn:aws:dynamodb:us-east-1:123456789012:table/" + resources.EXECUTIONS.physical("abaco-dev")
    index = f"{table}/index/{resources.OPEN_INDEX}"

    def grants(statements: list) -> set[tuple[str, str]]:
        out = set()
        for statement in statements:
            body = resolve(stack.resolve(statement.to_statement_json()))
            actions = body["Action"] if isinstance(body["Action"], list) else [body["Action"]]
            found = body["Resource"] if isinstance(body["Resource"], list) else [body["Resource"]]
            out |= {(a, r) for a in actions for r in found if r.startswith(table)}
        return out

    def role(privileged: bool) -> set[tuple[str, str]]:
        return grants(policies.runner(arns, "default", ["default", "privileged"], "key", "/p", "s", "b",
                                      privileged=privileged))

    for duties in (role(privileged=False), grants(policies.duties(arns, ["default"], ["duties"]))):
        assert ("dynamodb:Scan", index) in duties and ("dynamodb:Query", index) not in duties
        assert ("dynamodb:Scan", table) not in duties
    assert not {r for _, r in role(privileged=True)} & {index}
