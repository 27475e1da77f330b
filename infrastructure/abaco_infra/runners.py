"""Runner hosts: one EC2 Auto Scaling group per pool (the privileged pool gets its own) on the baked image
(``image.py``: Docker, busybox-static, the agents, the runner's venv), a systemd unit, settings from SSM,
scaling on the backlog per host, and an instance refresh whenever the bundle (the runner version) changes.

Scale-in is safe: a terminating lifecycle hook holds a host until it drained (``runners/host/lifecycle.py``
completes it), busy hosts protect themselves from scale-in, Spot hosts (a mixed-instances policy) drain on
the interruption notice; pools without Spot can keep a warm pool of stopped, pre-booted hosts. Operators
reach a host with SSM Session Manager (the managed policy on the host role); its JSON log goes to
CloudWatch Logs (``/abaco/<prefix>/runners``).
"""
from __future__ import annotations

from pathlib import Path

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_ssm as ssm
from aws_cdk import custom_resources as cr
from constructs import Construct

from abaco_infra import policies
from abaco_infra.config import PoolConfig, StageConfig
from abaco_infra.data import DataPlane, secrets_settings
from abaco_infra.image import RunnerImage, runner_log_group
from chalicelib.wiring import resources

USER_DATA = Path(__file__).resolve().parents[1] / "host" / "user-data.sh"
HEALTH_CHECK_GRACE = Duration.minutes(3)  # the image is baked: boot and start-up checks only
HOOK_NAME = "abaco-drain"  # runners/host/lifecycle.py completes it
HOOK_HEARTBEAT_TIMEOUT = Duration.minutes(5)  # the draining host records a heartbeat every minute
SESSION_MANAGER_POLICY = "AmazonSSMManagedInstanceCore"
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
        "ABACO_ASG_NAME": group_name(config, pool),  # scale-in protection and the drain (lifecycle.py)
        "ABACO_VISIBILITY_TIMEOUT": str(config.visibility_timeout),
        "ABACO_TENANT": config.tenant,
        "ABACO_VERSION": config.version,
        "ABACO_TRACING": "true",  # X-Ray to the agent on 127.0.0.1:2000 (infrastructure/host/cloudwatch-agent.json)
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
        self.image = RunnerImage(self, "Image", config, self.bundle, self.vpc.public_subnets[0].subnet_id,
                                 self.security_group.security_group_id)
        self.log_group = logs.CfnLogGroup(self, "RunnerLogs", log_group_name=runner_log_group(config),
                                          retention_in_days=config.log_retention_days)
        self.log_group.apply_removal_policy(data.removal)
        self.pull_through = f"{config.prefix}-dockerhub" if config.dockerhub_cache_secret else ""
        if self.pull_through:
            ecr.CfnPullThroughCacheRule(
                self, "DockerHubCache", ecr_repository_prefix=self.pull_through,
                upstream_registry_url="registry-1.docker.io",
                credential_arn=config.dockerhub_cache_secret)
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
        for statement in policies.host_extras(arns, group_name(config, pool), runner_log_group(config),
                                              list(config.ecr_repository_prefixes or (config.prefix,)),
                                              shared.pull_through):
            self.role.add_to_policy(statement)
        self.role.add_managed_policy(iam.ManagedPolicy.from_aws_managed_policy_name(SESSION_MANAGER_POLICY))
        template = ec2.LaunchTemplate(
            self, "LaunchTemplate", launch_template_name=f"{group_name(config, pool)}",
            machine_image=shared.image.machine_image(config.region),
            instance_type=ec2.InstanceType(pool.instance_type), role=self.role,
            security_group=shared.security_group, user_data=self._user_data(config, pool, shared),
            require_imdsv2=True, http_put_response_hop_limit=1,  # containers cannot reach instance credentials
            block_devices=[ec2.BlockDevice(device_name="/dev/xvda", volume=ec2.BlockDeviceVolume.ebs(
                pool.volume_gb, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3))])
        self.group = autoscaling.AutoScalingGroup(
            self, "Group", auto_scaling_group_name=group_name(config, pool), vpc=shared.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC), **_instances(pool, template),
            min_capacity=pool.min_hosts, max_capacity=pool.max_hosts,
            health_checks=autoscaling.HealthChecks.ec2(grace_period=HEALTH_CHECK_GRACE),
            default_instance_warmup=Duration.seconds(INSTANCE_WARMUP_S),
            group_metrics=[autoscaling.GroupMetrics(autoscaling.GroupMetric.IN_SERVICE_INSTANCES)])
        self.group.add_lifecycle_hook(
            "Drain", lifecycle_hook_name=HOOK_NAME,
            lifecycle_transition=autoscaling.LifecycleTransition.INSTANCE_TERMINATING,
            heartbeat_timeout=HOOK_HEARTBEAT_TIMEOUT, default_result=autoscaling.DefaultResult.CONTINUE)
        if pool.warm_pool:
            self.group.add_warm_pool(min_size=pool.warm_pool, pool_state=autoscaling.PoolState.STOPPED,
                                     reuse_on_scale_in=True)
        self._scale_on_backlog(config, pool)
        self.refresh = _instance_refresh(self, arns, group_name(config, pool), shared)
        self.refresh.node.add_dependency(self.group)

    def _user_data(self, config: StageConfig, pool: PoolConfig, shared: RunnerHosts) -> ec2.UserData:
        script = USER_DATA.read_text()
        for name, value in {"REGION": Aws.REGION, "SSM_PATH": parameter_path(config, pool),
                            "SECRET_ID": config.secret_name, "VERSION": shared.bundle.asset_hash,
                            "ECR_REGISTRY": f"{Aws.ACCOUNT_ID}.dkr.ecr.{Aws.REGION}.amazonaws.com"}.items():
            script = script.replace(f"@@{name}@@", value)
        user_data = ec2.UserData.for_linux()
        user_data.add_commands(*[line for line in script.splitlines() if line.strip() and not line.startswith("#")])
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


def _instances(pool: PoolConfig, template: ec2.LaunchTemplate) -> dict[str, object]:
    """The group's instances: the launch template alone, or a mixed-instances policy where the first
    min_hosts are on demand and everything above runs on Spot (over several instance types)."""
    if not pool.spot:
        return {"launch_template": template}
    types = list(dict.fromkeys([pool.instance_type, *pool.spot_instance_types]))
    return {"mixed_instances_policy": autoscaling.MixedInstancesPolicy(
        launch_template=template,
        launch_template_overrides=[autoscaling.LaunchTemplateOverrides(instance_type=ec2.InstanceType(t))
                                   for t in types],
        instances_distribution=autoscaling.InstancesDistribution(
            on_demand_base_capacity=pool.min_hosts, on_demand_percentage_above_base_capacity=0,
            spot_allocation_strategy=autoscaling.SpotAllocationStrategy.PRICE_CAPACITY_OPTIMIZED))}


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
