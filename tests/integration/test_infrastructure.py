"""The CDK app, synthesised offline with the pinned CLI: cfn-lint clean, every table and queue the code
uses present with the same keys, TTL and indexes, IAM limited to our prefixes, and one execution run on
a private emulator holding exactly the template's tables and queues.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import boto3
import pytest

from chalicelib.adapters.kms import KMS_SCHEME
from chalicelib.adapters.kms import PURPOSE as KMS_PURPOSE
from chalicelib.wiring import resources
from infrastructure import build
from tests.conftest import Api, start_stack, wait_for
from tests.infra_checks import STAR_ACTIONS
from tests.integration.infra_synth import ACCOUNT, PREFIX, REGION, STAGE, Synthesised

TENANT = "DEV-DEVELOP"  # the default tenant in ``none`` access control


# A cold synth installs the pinned CDK and packages the Lambda (about 2 minutes on a quiet machine).
pytestmark = pytest.mark.timeout(900)


def test_synth_is_offline_and_cfn_lint_clean(synthesised: Synthesised) -> None:
    manifest = json.loads((synthesised.out / "manifest.json").read_text())
    assert not manifest.get("missing"), f"context lookups (need an AWS account): {manifest['missing']}"
    result = build.lint(synthesised.out)
    assert result.returncode == 0, result.stdout + result.stderr
    assert synthesised.template.body.get("Transform") == "AWS::Serverless-2016-10-31"  # Chalice's SAM


CLOUDFORMATION_MAX_TEMPLATE_BYTES = 1_000_000  # a template given by S3 URL (CloudFormation quotas)


def test_the_default_api_is_an_http_api_sending_every_request_to_the_function(synthesised: Synthesised) -> None:
    """The ``http`` flavour (infrastructure/abaco_infra/api.py): one ``$default`` route, payload format 1.0 (the
    REST event the Lambda entry re-routes), throttled, allowed to invoke the function; Chalice's REST API,
    its permission and outputs are left out, and the function itself still traces (X-Ray)."""
    template = synthesised.template
    assert not template.of_type("AWS::Serverless::Api") and "RestAPI" not in json.dumps(template.body)
    ((api_id, api),) = template.of_type("AWS::ApiGatewayV2::Api").items()
    assert api["ProtocolType"] == "HTTP" and api["Name"] == PREFIX
    ((integration_id, integration),) = template.of_type("AWS::ApiGatewayV2::Integration").items()
    assert integration["IntegrationType"] == "AWS_PROXY" and integration["PayloadFormatVersion"] == "1.0"
    assert integration["IntegrationUri"] == {"Fn::GetAtt": ["APIHandler", "Arn"]}
    (route,) = template.of_type("AWS::ApiGatewayV2::Route").values()
    assert route["RouteKey"] == "$default" and route["ApiId"] == {"Ref": api_id}
    assert route["Target"] == {"Fn::Join": ["", ["integrations/", {"Ref": integration_id}]]}
    (stage,) = template.of_type("AWS::ApiGatewayV2::Stage").values()
    assert stage["StageName"] == "$default" and stage["AutoDeploy"] is True
    throttle = stage["DefaultRouteSettings"]
    assert throttle["ThrottlingRateLimit"] > 0 and throttle["ThrottlingBurstLimit"] >= throttle["ThrottlingRateLimit"]
    (permission,) = template.of_type("AWS::Lambda::Permission").values()
    assert permission["FunctionName"] == {"Ref": "APIHandler"} and permission["Principal"] == "apigateway.amazonaws.com"
    assert {"Ref": api_id} in permission["SourceArn"]["Fn::Sub"][1].values()
    assert "ApiEndpoint" in json.dumps(template.body["Outputs"]["EndpointURL"])
    assert template.of_type("AWS::Serverless::Function")["APIHandler"]["Tracing"] == "Active"
    alarms = {p["AlarmName"]: p for p in template.of_type("AWS::CloudWatch::Alarm").values()}
    assert alarms[f"{PREFIX}-Api5xx"]["MetricName"] == "5xx"
    assert alarms[f"{PREFIX}-ApiLatency"]["Dimensions"] == [{"Name": "ApiId", "Value": {"Ref": api_id}}]
    assert template.path.stat().st_size < CLOUDFORMATION_MAX_TEMPLATE_BYTES


def test_the_rest_flavour_is_cfn_lint_clean_and_within_cloudformations_size_limit(
        synthesised_rest: Synthesised) -> None:
    """``-c api=rest``: Chalice's REST API with its whole route table (cfn-lint's E1002 checks the size)."""
    result = build.lint(synthesised_rest.out)
    assert result.returncode == 0, result.stdout + result.stderr
    assert synthesised_rest.template.path.stat().st_size < CLOUDFORMATION_MAX_TEMPLATE_BYTES
    assert not synthesised_rest.template.of_type("AWS::ApiGatewayV2::Api")
    api = synthesised_rest.template.of_type("AWS::Serverless::Api")["RestAPI"]
    assert api["TracingEnabled"] is True and api["Name"] == PREFIX
    (settings,) = api["MethodSettings"]
    assert settings["ThrottlingRateLimit"] > 0 and settings["ThrottlingBurstLimit"] >= settings["ThrottlingRateLimit"]
    alarms = {p["AlarmName"]: p for p in synthesised_rest.template.of_type("AWS::CloudWatch::Alarm").values()}
    assert alarms[f"{PREFIX}-Api5xx"]["MetricName"] == "5XXError"


def test_the_rest_api_has_the_catch_all_route_and_binary_media_types(
        synthesised_rest: Synthesised) -> None:
    """Every spelling of the routes, plus the greedy route that receives paths with repeated slashes
    (chalicelib/edge/gateway.py) with its path parameter declared; results are binary."""
    body = synthesised_rest.template.resources["RestAPI"]["Properties"]["DefinitionBody"]
    catch_all = body["paths"]["/{proxy+}"]
    for verb in ("get", "post", "put", "delete", "patch"):
        assert catch_all[verb]["parameters"] == [{"name": "proxy", "in": "path", "required": True, "type": "string"}]
        assert catch_all[verb]["x-amazon-apigateway-integration"]["type"] == "aws_proxy"
    assert {"/actors/{actor_id}", "/v3/actors/{actor_id}", "/actors/v2/{actor_id}"} <= set(body["paths"])
    assert "application/octet-stream" in body["x-amazon-apigateway-binary-media-types"]


def test_every_table_exists_with_the_same_keys_ttl_and_indexes(synthesised: Synthesised) -> None:
    declared = [v for v in vars(resources).values() if isinstance(v, resources.TableDef)]
    assert set(declared) <= set(resources.TABLES), "a TableDef in resources.py is missing from TABLES"
    tables = {p["TableName"]: p for p in synthesised.template.of_type("AWS::DynamoDB::Table").values()}
    for table in resources.TABLES:
        props = tables.get(table.physical(PREFIX))
        assert props is not None, f"table {table.name} is not in the template"
        assert props["KeySchema"] == table.key_schema()
        assert sorted(props["AttributeDefinitions"], key=str) == sorted(table.attribute_definitions(), key=str)
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        ttl = props.get("TimeToLiveSpecification")
        if table.ttl_attribute:
            assert ttl == {"AttributeName": table.ttl_attribute, "Enabled": True}, table.name
        else:
            assert ttl is None, table.name
        indexes = {i["IndexName"]: i["KeySchema"] for i in props.get("GlobalSecondaryIndexes", [])}
        assert indexes == {name: [{"AttributeName": pk, "KeyType": "HASH"}]
                           + ([{"AttributeName": sk, "KeyType": "RANGE"}] if sk else [])
                           for name, pk, sk in table.indexes}, table.name
    assert len(tables) == len(resources.TABLES), "the template has tables the code does not define"


def test_every_static_queue_exists_with_the_same_attributes(synthesised: Synthesised) -> None:
    template = synthesised.template
    queues = {p["QueueName"]: (k, p) for k, p in template.of_type("AWS::SQS::Queue").items()}
    dlq_id = queues[resources.DEAD_LETTER.physical(PREFIX)][0]
    for queue in resources.static_queues(synthesised.pools):
        assert queue.physical(PREFIX) in queues, f"queue {queue.name} is not in the template"
        _, props = queues[queue.physical(PREFIX)]
        assert props["VisibilityTimeout"] == queue.visibility_timeout
        assert props["MessageRetentionPeriod"] == resources.SQS_MAX_RETENTION_SECONDS
        assert props["MaximumMessageSize"] == resources.SQS_MAX_MESSAGE_BYTES
        assert props["SqsManagedSseEnabled"] is True
        redrive = props.get("RedrivePolicy")
        if queue.dead_letter:
            assert redrive == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
                               "maxReceiveCount": resources.INBOX_MAX_RECEIVE_COUNT}
        else:
            assert redrive is None, queue.name
    assert set(synthesised.pools) >= {"default", "privileged"}


def test_bucket_is_private_encrypted_and_expires(synthesised: Synthesised) -> None:
    buckets = synthesised.template.of_type("AWS::S3::Bucket")
    (props,) = buckets.values()
    # Globally unique: the account and region (pseudo parameters, not literals) are part of the name.
    assert props["BucketName"] == {"Fn::Join": ["", [f"{resources.bucket_name(PREFIX)}-", {"Ref": "AWS::AccountId"},
                                                     "-", {"Ref": "AWS::Region"}]]}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    rules = props["LifecycleConfiguration"]["Rules"]
    assert any(r.get("ExpirationInDays", 0) > 0 and r["Status"] == "Enabled" for r in rules)
    (key,) = synthesised.template.of_type("AWS::KMS::Key").values()
    assert key["EnableKeyRotation"] is True


OURS = re.compile(rf"^arn:aws:[a-z0-9-]+:({REGION})?:({ACCOUNT})?:(.*[:/])?{PREFIX}[-/]")


def test_iam_grants_nothing_beyond_our_prefixes(synthesised: Synthesised) -> None:
    template = synthesised.template
    own = {k for k, v in template.resources.items() if v["Type"] in ("AWS::KMS::Key",)}
    statements = template.statements()
    assert statements
    for st in statements:
        where = f"{st.role}: {st.actions} on {st.resources}"
        assert all("*" not in a for a in st.actions), f"wildcard action: {where}"
        for res in st.resources:
            if res == "*":
                assert set(st.actions) <= STAR_ACTIONS, f"'*' resource for scoped actions: {where}"
                if "cloudwatch:PutMetricData" in st.actions:
                    assert st.condition == {"StringEquals": {"cloudwatch:namespace": resources.METRICS_NAMESPACE}}
            elif res.startswith("<") and res.split(".")[0][1:] in own:
                continue  # our own KMS key, by reference
            elif res.startswith(f"arn:aws:s3:::cdk-hnb659fds-assets-{ACCOUNT}-{REGION}/"):
                assert st.actions == ("s3:GetObject",) and res.endswith(".zip"), where  # the runner bundle only
            else:
                assert OURS.match(res), f"resource outside prefix {PREFIX}: {where}"
    managed = {"RunnersPool": {"AmazonSSMManagedInstanceCore"},  # Session Manager on the runner hosts
               "RunnersImageBuildRole": {"AmazonSSMManagedInstanceCore", "EC2InstanceProfileForImageBuilder"}}
    for logical_id, role in template.of_type("AWS::IAM::Role").items():
        names = {template.resolve(arn).rsplit("/", 1)[-1] for arn in role.get("ManagedPolicyArns", [])}
        allowed = next((m for start, m in managed.items() if logical_id.startswith(start)), set())
        assert names <= allowed, f"{logical_id} has managed policies {names}"
    documents = json.dumps([r["Properties"].get("PolicyDocument") for r in template.resources.values()
                            if r["Type"] == "AWS::IAM::Policy"])
    # ARNs from Aws.ACCOUNT_ID; only the CDK's own asset bucket is named by the deploy environment.
    assert ACCOUNT not in documents.replace(f"cdk-hnb659fds-assets-{ACCOUNT}-{REGION}", "")


def test_api_manages_only_inbox_queues_and_runners_read_only_their_pool(synthesised: Synthesised) -> None:
    statements = synthesised.template.statements()
    inboxes = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{resources.inbox_prefix(PREFIX)}*"
    manage = [s for s in statements if {"sqs:CreateQueue", "sqs:DeleteQueue"} & set(s.actions)]
    assert manage and all(s.resources == (inboxes,) for s in manage), manage
    api_roles = set(synthesised.template.of_type("AWS::IAM::Role")) & {s.role for s in statements}
    creators = {s.role for s in manage if "sqs:CreateQueue" in s.actions}
    assert creators == {r for r in api_roles if r.startswith("ApiApiRole")}
    # The cleanup duty on the actor pools' hosts deletes a deleted actor's inbox, and only one the API
    # tagged as deleting: a host cannot delete the inbox of a live actor.
    host_deletes = [s for s in manage if s.role not in creators]
    duty_pools = [p for p in synthesised.pools if p != synthesised.env["ABACO_PRIVILEGED_POOL"]]
    assert {s.role.split("HostRole")[0] for s in host_deletes} == {f"RunnersPool{p}" for p in duty_pools}
    for st in host_deletes:
        assert st.actions == ("sqs:DeleteQueue",), st
        assert st.condition == {"StringEquals": {f"aws:ResourceTag/{resources.DELETING_TAG}": "true"}}, st
    for pool in synthesised.pools:
        receive = [s for s in statements if s.role.startswith(f"RunnersPool{pool}HostRole")
                   and "sqs:ReceiveMessage" in s.actions]
        wake, command = (f"arn:aws:sqs:{REGION}:{ACCOUNT}:{q.physical(PREFIX)}" for q in resources.start_queues(pool))
        events = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{resources.EVENTS.physical(PREFIX)}"
        duties = pool != synthesised.env["ABACO_PRIVILEGED_POOL"]  # the privileged pool runs no duties
        own = (wake, command, events) if duties else (wake, command)
        assert {frozenset(s.resources) for s in receive} == {frozenset(own), frozenset((inboxes,))}, pool
        for st in receive:
            if st.resources == (inboxes,):
                assert st.condition == {"StringEquals": {f"aws:ResourceTag/{resources.POOL_TAG}": pool}}
            else:
                assert not st.condition
    other_receivers = {s.role for s in statements if "sqs:ReceiveMessage" in s.actions}
    assert all(r.startswith("RunnersPool") for r in other_receivers)


def test_functions_are_traced_logged_and_configured(synthesised: Synthesised) -> None:
    template = synthesised.template
    functions = template.of_type("AWS::Serverless::Function")
    assert {"APIHandler", "PublishBacklog"} <= set(functions)
    for logical_id, props in functions.items():
        assert props["Tracing"] == "Active", logical_id
        assert "LogGroup" in props["LoggingConfig"], logical_id
        assert props["LoggingConfig"]["LogFormat"] == "JSON", logical_id
        env = props["Environment"]["Variables"]
        assert env["ABACO_RESOURCE_PREFIX"] == PREFIX
        assert env["ABACO_ACCESS_CONTROL"] == "jwt" and env["ABACO_PRODUCTION"] == "true"  # "none" is refused
        # Keys come from Secrets Manager at cold start: the secret's name, never the keys, in the environment.
        assert env["ABACO_ENCRYPTION_KEYS_SECRET_ID"] == f"{PREFIX}/encryption-keys"
        assert "ABACO_ENCRYPTION_KEYS" not in env and env["ABACO_TRACING"] == "true"
    schedule = functions["PublishBacklog"]["Events"]["PublishBacklogEvent"]
    assert schedule == {"Type": "Schedule", "Properties": {"Schedule": "rate(1 minute)"}}
    assert functions["PublishBacklog"]["Role"] != functions["APIHandler"]["Role"]
    retention = {p["LogGroupName"]: p["RetentionInDays"] for p in template.of_type("AWS::Logs::LogGroup").values()}
    assert retention and all(days > 0 for days in retention.values())
    alarms = [p.get("MetricName") for p in template.of_type("AWS::CloudWatch::Alarm").values()]
    for metric in ("ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage", "Errors", "5xx"):
        assert metric in alarms, metric


def test_runner_groups_scale_on_backlog_per_host_with_settings_from_ssm(synthesised: Synthesised) -> None:
    template = synthesised.template
    groups = template.of_type("AWS::AutoScaling::AutoScalingGroup")
    names = {p["AutoScalingGroupName"]: k for k, p in groups.items()}
    assert set(names) == {f"{PREFIX}-runners-{pool}" for pool in synthesised.pools}  # privileged: own group
    policies = template.of_type("AWS::AutoScaling::ScalingPolicy").values()
    for pool in synthesised.pools:
        group = names[f"{PREFIX}-runners-{pool}"]
        (policy,) = [p for p in policies if p["AutoScalingGroupName"] == {"Ref": group}]
        metrics = policy["TargetTrackingConfiguration"]["CustomizedMetricSpecification"]["Metrics"]
        backlog = next(m for m in metrics if m["Id"] == "backlog")["MetricStat"]["Metric"]
        assert backlog["Namespace"] == resources.METRICS_NAMESPACE
        assert backlog["MetricName"] == resources.BACKLOG_METRIC
        assert {"Name": "Pool", "Value": pool} in backlog["Dimensions"]
        assert any(m.get("ReturnData") and "hosts" in m.get("Expression", "") for m in metrics)
        parameters = {p["Name"]: p["Value"] for p in template.of_type("AWS::SSM::Parameter").values()
                      if p["Name"].startswith(f"/{PREFIX}/runner/{pool}/")}
        assert parameters[f"/{PREFIX}/runner/{pool}/ABACO_RUNNER_POOL"] == pool
        assert parameters[f"/{PREFIX}/runner/{pool}/ABACO_RESOURCE_PREFIX"] == PREFIX
        privileged = pool == synthesised.env["ABACO_PRIVILEGED_POOL"]
        assert parameters[f"/{PREFIX}/runner/{pool}/ABACO_RUNNER_PRIVILEGED"] == str(privileged).lower()
        assert parameters[f"/{PREFIX}/runner/{pool}/ABACO_PULL_IMAGES"] == "true"  # local default is false
        assert not any("ENCRYPTION" in name for name in parameters)  # the keys never sit in SSM or the template
    for props in template.of_type("AWS::EC2::LaunchTemplate").values():
        data = props["LaunchTemplateData"]
        assert data["MetadataOptions"]["HttpTokens"] == "required"
        assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
        user_data = template.resolve(data["UserData"]["Fn::Base64"])
        assert "abaco-runner" in user_data and "ABACO_SSM_PATH=" in user_data
        assert "ABACO_WORKER_SLOTS" not in user_data and "ABACO_RESOURCE_PREFIX" not in user_data
    refreshes = [v for v in template.resources.values() if v["Type"] == "Custom::AWS"]
    assert len(refreshes) == len(synthesised.pools)
    assert all("startInstanceRefresh" in json.dumps(r["Properties"]) for r in refreshes)
    # A refresh still running must not fail (and roll back) the deploy that starts the next one.
    assert all("InstanceRefreshInProgress" in json.dumps(r["Properties"]) for r in refreshes)


def test_config_secrets_use_the_stack_key_only_for_their_purpose(synthesised: Synthesised) -> None:
    """Issue 4: in AWS, secret configs are KMS envelopes (tenant in the encryption context). The API seals
    and the runners open them under the stage's key; the grants hold only for that purpose."""
    template = synthesised.template
    (key_id,) = template.of_type("AWS::KMS::Key")
    key_arn = f"<{key_id}.Arn>"
    assert synthesised.env["ABACO_SECRETS_BACKEND"] == "kms"
    assert template.resolve(synthesised.env["ABACO_KMS_KEY_ID"]) == key_arn
    for pool in synthesised.pools:
        parameters = {p["Name"].rsplit("/", 1)[1]: template.resolve(p["Value"])
                      for p in template.of_type("AWS::SSM::Parameter").values()
                      if p["Name"].startswith(f"/{PREFIX}/runner/{pool}/")}
        assert parameters["ABACO_SECRETS_BACKEND"] == "kms" and parameters["ABACO_KMS_KEY_ID"] == key_arn, pool
    purpose = {"StringEquals": {"kms:EncryptionContext:purpose": KMS_PURPOSE}}
    grants = [s for s in template.statements() if any(a.startswith("kms:") for a in s.actions)]
    assert all(s.resources == (key_arn,) for s in grants), grants
    api = [s for s in grants if s.role.startswith("ApiApiRole")]
    assert [(s.actions, s.condition) for s in api] == [(("kms:Decrypt", "kms:GenerateDataKey"), purpose)]
    for pool in synthesised.pools:
        runner = [s for s in grants if s.role.startswith(f"RunnersPool{pool}HostRole")]
        assert {s.actions for s in runner} == {("kms:Decrypt",)}, pool  # runners never make new data keys
        via_secrets_manager = {"StringEquals": {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"}}
        assert sorted(map(str, (s.condition for s in runner))) == sorted(map(str, (purpose, via_secrets_manager)))
    assert all(s.condition for s in grants)  # no unconditional use of the key anywhere


@pytest.mark.docker
def test_smoke_one_execution_on_the_synthesised_tables_and_queues(synthesised: Synthesised, tmp_path: Path) -> None:
    template = synthesised.out / f"{STAGE}.template.json"
    stack = start_stack(tmp_path, env={"ABACO_RESOURCE_PREFIX": PREFIX, "ABACO_BOOTSTRAP_TEMPLATE": str(template),
                                       "ABACO_POOLS": synthesised.env["ABACO_POOLS"],
                                       "ABACO_PRIVILEGED_POOL": synthesised.env["ABACO_PRIVILEGED_POOL"],
                                       "ABACO_SECRETS_BACKEND": synthesised.env["ABACO_SECRETS_BACKEND"],
                                       # <prefix>-payloads-<account>-<region>, as the bootstrap reads it too
                                       "ABACO_PAYLOAD_BUCKET": synthesised.template.resolve(
                                           synthesised.env["ABACO_PAYLOAD_BUCKET"])})
    try:
        endpoint = stack.env["AWS_ENDPOINT_URL"]
        keys = {"endpoint_url": endpoint, "region_name": REGION, "aws_access_key_id": "testing",
                "aws_secret_access_key": "testing"}  # explicit: never fall through to instance metadata
        ddb, sqs = boto3.client("dynamodb", **keys), boto3.client("sqs", **keys)
        expected_tables = {p["TableName"] for p in synthesised.template.of_type("AWS::DynamoDB::Table").values()}
        assert set(ddb.list_tables()["TableNames"]) == expected_tables  # nothing came from elsewhere
        api = Api(stack.api_url)
        actor = api.create_actor(image="abacosamples/test")
        wait_for(lambda: api.ok("GET", f"/actors/{actor['id']}")["status"] == "READY", 60, what="actor READY")
        sent = api.ok("POST", f"/actors/{actor['id']}/messages", data={"message": "smoke"})
        execution = api.wait_execution(actor["id"], sent["execution_id"])
        assert execution["status"] == "COMPLETE" and execution["exit_code"] == 0
        assert "Contents of MSG: smoke" in api.logs(actor["id"], sent["execution_id"])
        secret = api.ok("POST", "/actors/configs", json={"name": "smoke-secret", "value": "s3cr3t-smoke",
                                                          "is_secret": True, "actors": actor["id"]})
        assert secret["value"].startswith(KMS_SCHEME)  # sealed under the template's key (same alias)
        inbox = sqs.get_queue_url(QueueName=resources.inbox_name(PREFIX, TENANT, actor["id"]))["QueueUrl"]
        assert sqs.list_queue_tags(QueueUrl=inbox)["Tags"] == {resources.POOL_TAG: "default"}
    finally:
        stack.stop()
