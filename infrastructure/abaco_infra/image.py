"""The runner hosts' machine image, baked by EC2 Image Builder when the stack deploys.

A host used to install Docker with apt and the runner with pip at every boot (minutes, and a PyPI or Debian
mirror outage stopped scale-out). The image has all of it: Debian's docker.io, busybox-static (the warm
start's shim, so warm start is on in AWS as the benchmark assumes), the ECR credential helper, the SSM agent
(Session Manager), the CloudWatch agent with its configuration (the runner's JSON log to
``/abaco/<prefix>/runners``), the runner's code bundle and its virtual environment, and the systemd unit.
The user data only writes the stage's settings and starts the unit (``infrastructure/host/user-data.sh``).

The component and recipe are named with the bundle's hash (Image Builder versions are immutable): a new
runner version bakes a new image, which changes the launch template, which starts an instance refresh.
"""
from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_imagebuilder as imagebuilder
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from abaco_infra.config import StageConfig

BUILD_INSTANCE_TYPES = ["t3.medium"]
# AWS-managed policies Image Builder's build instance needs (SSM to run the component, its logging).
BUILDER_POLICIES = ("AmazonSSMManagedInstanceCore", "EC2InstanceProfileForImageBuilder")
PACKAGES = ("docker.io", "python3-venv", "busybox-static", "amazon-ecr-credential-helper", "unzip",
            "ca-certificates", "curl", "logrotate", "iptables")
CLOUDWATCH_CONFIG = "/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json"


def component_document(config: StageConfig, bundle: s3_assets.Asset) -> str:
    """The Image Builder component (YAML): packages, agents, the runner and its venv, then a check."""
    region = Aws.REGION
    agents = [
        f"curl -fsSLo /tmp/ssm.deb https://s3.{region}.amazonaws.com/amazon-ssm-{region}/latest/debian_amd64/"
        "amazon-ssm-agent.deb && dpkg -i /tmp/ssm.deb",
        f"curl -fsSLo /tmp/cwa.deb https://amazoncloudwatch-agent-{region}.s3.{region}.amazonaws.com/debian/amd64/"
        "latest/amazon-cloudwatch-agent.deb && dpkg -i /tmp/cwa.deb",
    ]
    runner = [
        "id abaco >/dev/null 2>&1 || useradd --system --home-dir /opt/abaco --shell /usr/sbin/nologin abaco",
        "usermod -aG docker abaco",
        "install -d -m 0755 /opt/abaco /etc/abaco",
        "rm -rf /opt/abaco/app && mkdir -p /opt/abaco/app && unzip -q /opt/abaco/runner.zip -d /opt/abaco/app",
        "python3 -m venv /opt/abaco/venv",
        "/opt/abaco/venv/bin/pip install -q --no-cache-dir -r /opt/abaco/app/requirements-runner.txt",
        "install -m 0644 /opt/abaco/app/host/abaco-runner.service /etc/systemd/system/abaco-runner.service",
        "install -m 0644 /opt/abaco/app/host/abaco-actor-network.service "
        "/etc/systemd/system/abaco-actor-network.service",
        "install -m 0644 /opt/abaco/app/host/logrotate.conf /etc/logrotate.d/abaco-runner",
        f"sed 's|@@LOG_GROUP@@|{runner_log_group(config)}|' /opt/abaco/app/host/cloudwatch-agent.json > "
        f"{CLOUDWATCH_CONFIG}",
        "systemctl daemon-reload",
        "systemctl enable docker amazon-ssm-agent amazon-cloudwatch-agent",
    ]
    check = ["docker --version", "busybox true", "test -x /usr/bin/docker-credential-ecr-login",
             "/opt/abaco/venv/bin/python -c 'import runners.__main__, docker, boto3'"]
    return "\n".join([
        "name: abaco-runner-host", "schemaVersion: 1.0", "phases:", "  - name: build", "    steps:",
        *_bash("Packages", ["export DEBIAN_FRONTEND=noninteractive", "apt-get update -q",
                            f"apt-get install -y -q --no-install-recommends {' '.join(PACKAGES)}", *agents]),
        "      - name: Bundle", "        action: S3Download", "        inputs:",
        f"          - source: s3://{bundle.s3_bucket_name}/{bundle.s3_object_key}",
        "            destination: /opt/abaco/runner.zip",
        *_bash("Runner", runner),
        "  - name: validate", "    steps:", *_bash("Check", check), ""])


def _bash(name: str, commands: list[str]) -> list[str]:
    return [f"      - name: {name}", "        action: ExecuteBash", "        inputs:", "          commands:",
            *(f"            - {_quoted(c)}" for c in commands)]


def _quoted(command: str) -> str:
    return "'" + command.replace("'", "''") + "'"  # YAML single-quoted scalar


def runner_log_group(config: StageConfig) -> str:
    return f"/abaco/{config.prefix}/runners"


class RunnerImage(Construct):
    """The baked image: a component, a recipe on Debian 12, a build infrastructure, and the image itself."""

    def __init__(self, scope: Construct, construct_id: str, config: StageConfig, bundle: s3_assets.Asset,
                 subnet_id: str, security_group_id: str) -> None:
        super().__init__(scope, construct_id)
        version = bundle.asset_hash[:12]
        role = iam.Role(self, "BuildRole", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
                        description="Abaco: the Image Builder instance that bakes the runner host image",
                        managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(p) for p in BUILDER_POLICIES])
        role.add_to_policy(iam.PolicyStatement(  # the bundle object only (grant_read would add List*, GetBucket*)
            actions=["s3:GetObject"],
            resources=[f"arn:{Aws.PARTITION}:s3:::{bundle.s3_bucket_name}/{bundle.s3_object_key}"]))
        profile = iam.CfnInstanceProfile(self, "BuildProfile", roles=[role.role_name])
        component = imagebuilder.CfnComponent(
            self, "Component", name=f"{config.prefix}-runner-host-{version}", version="1.0.0", platform="Linux",
            data=component_document(config, bundle), description="Abaco runner host: Docker, agents, the runner")
        parent = ec2.MachineImage.from_ssm_parameter(config.ami_parameter, os=ec2.OperatingSystemType.LINUX)
        recipe = imagebuilder.CfnImageRecipe(
            self, "Recipe", name=f"{config.prefix}-runner-{version}", version="1.0.0",
            parent_image=parent.get_image(self).image_id,
            components=[imagebuilder.CfnImageRecipe.ComponentConfigurationProperty(
                component_arn=component.attr_arn)])
        infrastructure = imagebuilder.CfnInfrastructureConfiguration(
            self, "Infrastructure", name=f"{config.prefix}-runner-build", instance_profile_name=profile.ref,
            instance_types=BUILD_INSTANCE_TYPES, subnet_id=subnet_id, security_group_ids=[security_group_id],
            terminate_instance_on_failure=True,
            instance_metadata_options=imagebuilder.CfnInfrastructureConfiguration.InstanceMetadataOptionsProperty(
                http_tokens="required"))
        self.image = imagebuilder.CfnImage(
            self, "Image", image_recipe_arn=recipe.attr_arn,
            infrastructure_configuration_arn=infrastructure.attr_arn,
            image_tests_configuration=imagebuilder.CfnImage.ImageTestsConfigurationProperty(image_tests_enabled=False))

    @property
    def image_id(self) -> str:
        return self.image.attr_image_id

    def machine_image(self, region: str) -> ec2.IMachineImage:
        """The baked image for the launch templates (the stack's region: its environment's)."""
        return ec2.MachineImage.generic_linux({region: self.image_id})
