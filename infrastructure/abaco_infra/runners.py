"""Runner hosts: one EC2 Auto Scaling group per pool (the privileged pool gets its own), Debian 12 with
Debian's docker.io and the project's own code bundle, a systemd unit, settings from SSM, scaling on the
backlog per host, and an instance refresh whenever the bundle (the runner version) changes.
"""
from __future__ import annotations

from pathlib import Path

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_ssm as ssm
from aws_cdk import custom_resources as cr
from constructs import Construct

from abaco_infra import policies
from abaco_infra.config import PoolConfig, StageConfig
from abaco_infra.data import DataPlane, secrets_settings
from chalicelib.wiring import resources

USER_DATA = Path(__file__).resolve().parents[1] / "host" / "user-data.sh"
HEALTH_CHECK_GRACE = Duration.minutes(10)  # apt + pip install on first boot
INSTANCE_WARMUP_S = 300
REFRESH_MIN_HEALTHY_PERCENT = 50
METRIC_PERIOD_S = 60


def group_name(config: StageConfig, pool: PoolConfig) -> str:
    return f"{config.prefix}-runners-{pool.name}"


def parameter_path(config: StageConfig, pool: PoolConfig) -> str:
    return f"/{config.prefix}/runner/{pool.name}"


def runner_settings(config: StageConfig, pool: PoolConfig, data: DataPlane) -> dict[str, str]:
    """The ``ABACO_*`` settings a runner host of ``pool`` starts with (one SSM parameter each)."""
    settings = {
        "ABACO_RESOURCE_PREFIX": config.prefix,
        "ABACO_POOLS": ",".join(config.actor_pools),
        "ABACO_PRIVILEGED_POOL": config.privileged_pool,
        "ABACO_RUNNER_POOL": pool.name,
        "ABACO_RUNNER_PRIVILEGED": "true" if pool.privileged else "false",
        # The cluster duties run on the actor pools' hosts only: the privileged pool's role cannot do them.
        "ABACO_RUNNER_DUTIES": "false" if pool.privileged else "true",
        "ABACO_WORKER_SLOTS": str(pool.worker_slots),
        "ABACO_PULL_IMAGES": "true",  # runner hosts in AWS pull actor images from their registries
        "ABACO_VISIBILITY_TIMEOUT": str(config.visibility_timeout),
        "ABACO_TENANT": config.tenant,
        "ABACO_VERSION": config.version,
        **secrets_settings(config, data),
    }
    if config.api_server:
        settings["ABACO_API_SERVER"] = config.api_server
    settings.update(config.extra_env)
    return settings


class RunnerHosts(Construct):
    """What every pool shares: the network, the security group and the code bundle."""

    def __init__(self, scope: Construct, construct_id: str, config: StageConfig, data: DataPlane,
                 arns: policies.Arns, bundle_dir: Path) -> None:
        super().__init__(scope, construct_id)
        # Public subnets only (no NAT gateway to pay for); hosts accept no inbound traffic at all.
        # Gateway endpoints keep DynamoDB and S3 traffic inside the VPC, free of charge.
        self.vpc = ec2.Vpc(
            self, "Vpc", max_azs=len(Stack.of(self).availability_zones), nat_gateways=0,
            restrict_default_security_group=False,
            subnet_configuration=[ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC,
                                                          cidr_mask=24)],
            gateway_endpoints={"S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3),
                               "DynamoDB": ec2.GatewayVpcEndpointOptions(
                                   service=ec2.GatewayVpcEndpointAwsService.DYNAMODB)})
        self.security_group = ec2.SecurityGroup(self, "RunnerSg", vpc=self.vpc, allow_all_outbound=True,
                                                description="Abaco runner hosts: no inbound traffic")
        self.bundle = s3_assets.Asset(self, "RunnerBundle", path=str(bundle_dir))
        self.refresh_logs_name = refresh_logs = f"/abaco/{config.prefix}/instance-refresh"
        self.refresh_log_group = logs.CfnLogGroup(self, "RefreshLogs", log_group_name=refresh_logs,
                                                  retention_in_days=config.log_retention_days)
        self.refresh_log_group.apply_removal_policy(data.removal)
        self.refresh_role = iam.Role(
            self, "RefreshRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Abaco: starts instance refreshes of the runner groups on a new version")
        self.refresh_role.add_to_policy(iam.PolicyStatement(actions=list(policies.LOG_WRITE),
                                                            resources=[arns.log_group(refresh_logs)]))
        self.pools = [RunnerPool(self, f"Pool-{pool.name}", config, pool, data, arns, self)
                      for pool in config.pools]


class RunnerPool(Construct):
    def __init__(self, scope: Construct, construct_id: str, config: StageConfig, pool: PoolConfig,
                 data: DataPlane, arns: policies.Arns, shared: RunnerHosts) -> None:
        super().__init__(scope, construct_id)
        self.pool = pool
        path = parameter_path(config, pool)
        for name, value in runner_settings(config, pool, data).items():
            ssm.StringParameter(self, f"Setting-{name}", parameter_name=f"{path}/{name}", string_value=value,
                                description=f"Abaco runner setting ({pool.name} pool)")
        bundle_arn = f"arn:{Stack.of(self).partition}:s3:::{shared.bundle.s3_bucket_name}/{shared.bundle.s3_object_key}"
        self.role = iam.Role(self, "HostRole", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
                             description=f"Abaco runner host, pool {pool.name}: its own queues only")
        for statement in policies.runner(arns, pool.name, config.pool_names, data.key.key_arn, path,
                                         config.secret_name, bundle_arn, privileged=pool.privileged,
                                         tenants=pool.tenants):
            self.role.add_to_policy(statement)
        template = ec2.LaunchTemplate(
            self, "LaunchTemplate", launch_template_name=f"{group_name(config, pool)}",
            machine_image=ec2.MachineImage.from_ssm_parameter(config.ami_parameter, os=ec2.OperatingSystemType.LINUX),
            instance_type=ec2.InstanceType(pool.instance_type), role=self.role,
            security_group=shared.security_group, user_data=self._user_data(config, pool, shared),
            require_imdsv2=True, http_put_response_hop_limit=1,  # containers cannot reach instance credentials
            block_devices=[ec2.BlockDevice(device_name="/dev/xvda", volume=ec2.BlockDeviceVolume.ebs(
                pool.volume_gb, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3))])
        self.group = autoscaling.AutoScalingGroup(
            self, "Group", auto_scaling_group_name=group_name(config, pool), vpc=shared.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC), launch_template=template,
            min_capacity=pool.min_hosts, max_capacity=pool.max_hosts,
            health_checks=autoscaling.HealthChecks.ec2(grace_period=HEALTH_CHECK_GRACE),
            default_instance_warmup=Duration.seconds(INSTANCE_WARMUP_S),
            group_metrics=[autoscaling.GroupMetrics(autoscaling.GroupMetric.IN_SERVICE_INSTANCES)])
        self._scale_on_backlog(config, pool)
        self.refresh = _instance_refresh(self, arns, group_name(config, pool), shared)
        self.refresh.node.add_dependency(self.group)

    def _user_data(self, config: StageConfig, pool: PoolConfig, shared: RunnerHosts) -> ec2.UserData:
        script = USER_DATA.read_text()
        for name, value in {"BUNDLE_BUCKET": shared.bundle.s3_bucket_name,
                            "BUNDLE_KEY": shared.bundle.s3_object_key, "REGION": Aws.REGION,
                            "SSM_PATH": parameter_path(config, pool), "SECRET_ID": config.secret_name,
                            "VERSION": shared.bundle.asset_hash}.items():
            script = script.replace(f"@@{name}@@", value)
        user_data = ec2.UserData.for_linux()
        user_data.add_commands(*[line for line in script.splitlines() if line.strip()])
        return user_data

    def _scale_on_backlog(self, config: StageConfig, pool: PoolConfig) -> None:
        """Target tracking on backlog per host = Backlog(prefix, pool) / in-service hosts (at least 1)."""
        dims = [autoscaling.CfnScalingPolicy.MetricDimensionProperty(name="Prefix", value=config.prefix),
                autoscaling.CfnScalingPolicy.MetricDimensionProperty(name="Pool", value=pool.name)]
        backlog = autoscaling.CfnScalingPolicy.TargetTrackingMetricDataQueryProperty(
            id="backlog", return_data=False, metric_stat=autoscaling.CfnScalingPolicy.TargetTrackingMetricStatProperty(
                stat="Average", metric=autoscaling.CfnScalingPolicy.MetricProperty(
                    namespace=resources.METRICS_NAMESPACE, metric_name=resources.BACKLOG_METRIC, dimensions=dims)))
        hosts = autoscaling.CfnScalingPolicy.TargetTrackingMetricDataQueryProperty(
            id="hosts", return_data=False, metric_stat=autoscaling.CfnScalingPolicy.TargetTrackingMetricStatProperty(
                stat="Average", metric=autoscaling.CfnScalingPolicy.MetricProperty(
                    namespace="AWS/AutoScaling", metric_name="GroupInServiceInstances",
                    dimensions=[autoscaling.CfnScalingPolicy.MetricDimensionProperty(
                        name="AutoScalingGroupName", value=self.group.auto_scaling_group_name)])))
        per_host = autoscaling.CfnScalingPolicy.TargetTrackingMetricDataQueryProperty(
            id="backlog_per_host", expression="backlog / IF(hosts > 0, hosts, 1)", label="Backlog per host",
            return_data=True)
        autoscaling.CfnScalingPolicy(
            self, "BacklogPerHost", auto_scaling_group_name=self.group.auto_scaling_group_name,
            policy_type="TargetTrackingScaling",
            target_tracking_configuration=autoscaling.CfnScalingPolicy.TargetTrackingConfigurationProperty(
                target_value=float(pool.backlog_per_host),
                customized_metric_specification=autoscaling.CfnScalingPolicy.CustomizedMetricSpecificationProperty(
                    metrics=[backlog, hosts, per_host])))


def _instance_refresh(scope: Construct, arns: policies.Arns, group: str, shared: RunnerHosts
                      ) -> cr.AwsCustomResource:
    """Start an instance refresh of ``group`` when the runner version (the bundle hash) changes. On create the
    same call with SkipMatching replaces nothing: every host already runs the current launch template."""
    version = shared.bundle.asset_hash
    call = cr.AwsSdkCall(
        service="AutoScaling", action="startInstanceRefresh",
        parameters={"AutoScalingGroupName": group, "Strategy": "Rolling",
                    "Preferences": {"MinHealthyPercentage": REFRESH_MIN_HEALTHY_PERCENT,
                                    "InstanceWarmup": INSTANCE_WARMUP_S, "SkipMatching": True}},
        physical_resource_id=cr.PhysicalResourceId.of(f"{group}-{version}"),
        # A refresh still running (an earlier deploy's, or an operator's) must not fail, and so roll back,
        # the update: the running refresh moves the hosts to the latest launch template anyway.
        ignore_error_codes_matching="InstanceRefreshInProgress")
    resource = cr.AwsCustomResource(
        scope, "InstanceRefresh", on_update=call, role=shared.refresh_role, install_latest_aws_sdk=False,
        log_group=logs.LogGroup.from_log_group_name(scope, "RefreshLogs", shared.refresh_logs_name),
        policy=cr.AwsCustomResourcePolicy.from_statements(policies.instance_refresh(arns, [group])))
    resource.node.add_dependency(shared.refresh_log_group)
    return resource
