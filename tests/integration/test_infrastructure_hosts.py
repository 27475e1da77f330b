"""The synthesised runner hosts and deploy settings (issue 15): a baked image, warm pool or Spot, the drain
hook, Session Manager, logs to CloudWatch, ECR pulls; the API's throttling and reserved concurrency; alarms
per stage; retained resources that a failed first deploy does not leave in the way; no chalice CLI in the
Lambda package. The template is the one ``tests/integration/infra_synth.py`` synthesises once per session."""
from __future__ import annotations

import json
import zipfile

import pytest

from chalicelib.wiring import resources
from tests.integration.infra_synth import PREFIX, Synthesised

pytestmark = pytest.mark.timeout(900)


def test_hosts_boot_from_a_baked_image_without_apt_or_pip(synthesised: Synthesised) -> None:
    template = synthesised.template
    (component,) = template.of_type("AWS::ImageBuilder::Component").values()
    document = json.dumps(template.resolve(component["Data"]))
    for needed in ("docker.io", "busybox-static", "amazon-ecr-credential-helper", "amazon-ssm-agent",
                   "amazon-cloudwatch-agent", "/opt/abaco/venv/bin/pip install", "abaco-runner.service",
                   f"/abaco/{PREFIX}/runners"):
        assert needed in document, needed
    (baked,) = template.of_type("AWS::ImageBuilder::Image")
    for props in template.of_type("AWS::EC2::LaunchTemplate").values():
        data = props["LaunchTemplateData"]
        assert data["ImageId"] == {"Fn::GetAtt": [baked, "ImageId"]}
        user_data = template.resolve(data["UserData"]["Fn::Base64"])
        assert "apt-get install" not in user_data and "pip install" not in user_data and "aws s3 cp" not in user_data
        assert "amazon-cloudwatch-agent-ctl" in user_data and "ecr-login" in user_data
    groups = {p["LogGroupName"] for p in template.of_type("AWS::Logs::LogGroup").values()}
    assert f"/abaco/{PREFIX}/runners" in groups


def test_spot_pools_are_mixed_and_on_demand_pools_keep_a_warm_pool(synthesised: Synthesised) -> None:
    template = synthesised.template
    groups = template.of_type("AWS::AutoScaling::AutoScalingGroup")
    by_name = {p["AutoScalingGroupName"].rsplit("-", 1)[-1]: (k, p) for k, p in groups.items()}
    default_id, default = by_name["default"]
    distribution = default["MixedInstancesPolicy"]["InstancesDistribution"]
    assert distribution["OnDemandBaseCapacity"] == int(default["MinSize"])  # the always-on hosts
    assert distribution["OnDemandPercentageAboveBaseCapacity"] == 0  # scale-out on Spot
    assert len(default["MixedInstancesPolicy"]["LaunchTemplate"]["Overrides"]) > 1  # several Spot pools
    privileged_id, privileged = by_name["privileged"]
    assert "MixedInstancesPolicy" not in privileged
    warm = [p for p in template.of_type("AWS::AutoScaling::WarmPool").values()]
    assert [w["AutoScalingGroupName"] for w in warm] == [{"Ref": privileged_id}]
    hooks = {h["AutoScalingGroupName"]["Ref"]: h for h in template.of_type("AWS::AutoScaling::LifecycleHook").values()}
    for group_id in (default_id, privileged_id):
        hook = hooks[group_id]
        assert hook["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_TERMINATING"
        assert hook["LifecycleHookName"] == "abaco-drain" and hook["DefaultResult"] == "CONTINUE"


def test_host_roles_have_session_manager_lifecycle_logs_and_ecr(synthesised: Synthesised) -> None:
    template = synthesised.template
    for pool in synthesised.pools:
        role = next(k for k in template.of_type("AWS::IAM::Role") if k.startswith(f"RunnersPool{pool}HostRole"))
        managed = [template.resolve(a) for a in template.of_type("AWS::IAM::Role")[role]["ManagedPolicyArns"]]
        assert managed == ["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"]
        mine = [s for s in template.statements() if s.role == role]
        group = f"autoScalingGroupName/{PREFIX}-runners-{pool}"
        assert any("autoscaling:CompleteLifecycleAction" in s.actions and s.resources[0].endswith(group)
                   for s in mine)
        assert any("logs:PutLogEvents" in s.actions and f"/abaco/{PREFIX}/runners" in s.resources[0] for s in mine)
        assert any("ecr:BatchGetImage" in s.actions and s.resources[0].endswith(f"repository/{PREFIX}/*")
                   for s in mine)
        parameters = {p["Name"].rsplit("/", 1)[1]: p["Value"] for p in template.of_type("AWS::SSM::Parameter").values()
                      if p["Name"].startswith(f"/{PREFIX}/runner/{pool}/")}
        assert parameters["ABACO_ASG_NAME"] == f"{PREFIX}-runners-{pool}"
        assert parameters["ABACO_RUNNER_DUTIES"] == str(pool != "privileged").lower()


def test_api_is_throttled_and_its_concurrency_reserved(synthesised: Synthesised) -> None:
    template = synthesised.template
    handler = template.of_type("AWS::Serverless::Function")["APIHandler"]
    assert handler["ReservedConcurrentExecutions"] > 0
    assert "ABACO_API_SERVER" not in handler["Environment"]["Variables"]  # from the request (lambda_start.py)
    for name in ("ABACO_JWT_PUBLIC_KEY", "ABACO_JWT_ISSUER", "ABACO_JWT_AUDIENCE"):
        assert handler["Environment"]["Variables"][name], name
    (stage,) = template.of_type("AWS::ApiGatewayV2::Stage").values()  # the HTTP API (REST: test_infrastructure.py)
    settings = stage["DefaultRouteSettings"]
    assert settings["ThrottlingRateLimit"] > 0 and settings["ThrottlingBurstLimit"] >= settings["ThrottlingRateLimit"]


def test_alarms_are_named_per_stage_and_cover_throttles_latency_and_stale_hosts(synthesised: Synthesised) -> None:
    alarms = synthesised.template.of_type("AWS::CloudWatch::Alarm").values()
    names = {a["AlarmName"] for a in alarms}
    assert all(n.startswith(f"{PREFIX}-") for n in names)
    for table in resources.TABLES:
        assert f"{PREFIX}-Throttles-{table.name}" in names, table.name
    assert f"{PREFIX}-Throttles-executions-{resources.OPEN_INDEX}" in names  # the GSI
    for expected in ("ApiThrottles", "ApiDuration", "ApiLatency", "EventsOld", "StaleHosts", "OldestOpen-default"):
        assert f"{PREFIX}-{expected}" in names, expected
    metrics = {a.get("MetricName") for a in alarms}
    assert {resources.STALE_HOSTS_METRIC, resources.OLDEST_OPEN_METRIC, "Throttles", "Latency", "Duration"} <= metrics


def test_the_lambda_package_has_the_chalice_runtime_but_not_its_cli(synthesised: Synthesised) -> None:
    code = synthesised.template.of_type("AWS::Serverless::Function")["APIHandler"]["CodeUri"]
    package = synthesised.out / f"asset.{code['Key']}"  # the staged asset the CLI would upload
    with zipfile.ZipFile(package) as archive:
        names = archive.namelist()
    assert "chalice/app.py" in names and "app.py" in names
    assert not [n for n in names if n.startswith(("chalice/cli/", "click/", "inquirer/"))]
