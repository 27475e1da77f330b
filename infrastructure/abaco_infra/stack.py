"""One stack per stage: data plane, API, runner hosts, alarms."""
from __future__ import annotations

from pathlib import Path

from aws_cdk import Aws, CfnOutput, Environment, Fn, Stack, Tags
from constructs import Construct

from abaco_infra import policies
from abaco_infra.alarms import Alarms
from abaco_infra.api import Api
from abaco_infra.config import StageConfig
from abaco_infra.data import DataPlane
from abaco_infra.runners import RunnerHosts, parameter_path

DEFAULT_AZ_COUNT = 2


class AbacoStack(Stack):
    def __init__(self, scope: Construct, config: StageConfig, bundle_dir: Path) -> None:
        # The construct id is the stage: Chalice's construct names its stage after its scope (dev, prod).
        super().__init__(scope, config.stage, stack_name=config.stack_name,
                         env=Environment(account=config.account, region=config.region),
                         description=f"Abaco on AWS, stage {config.stage} (prefix {config.prefix})")
        self._config = config
        Tags.of(self).add("abaco:stage", config.stage)
        Tags.of(self).add("abaco:prefix", config.prefix)
        # ARNs from the CDK environment's pseudo parameters (AWS::Region, AWS::AccountId), never literals: the
        # template deploys into whichever account and region it is given.
        arns = policies.Arns(config.prefix, Aws.REGION, Aws.ACCOUNT_ID)
        self.data = DataPlane(self, "Data", config)
        self.api = Api(self, "Api", config, self.data, arns)
        self.runners = RunnerHosts(self, "Runners", config, self.data, arns, bundle_dir)
        self.alarms = Alarms(self, "Alarms", config, self.data, self.api)
        CfnOutput(self, "ResourcePrefix", value=config.prefix)
        CfnOutput(self, "SecretsKeyArn", value=self.data.key.key_arn)
        CfnOutput(self, "AlarmTopicArn", value=self.alarms.topic.topic_arn)
        for pool in config.pools:
            CfnOutput(self, f"RunnerSettings{pool.name.title()}", value=parameter_path(config, pool))

    @property
    def availability_zones(self) -> list[str]:
        """The configured zones, else the region's first ones resolved by CloudFormation (Fn::GetAZs): the
        default would be a context lookup, which needs an AWS account."""
        if self._config.availability_zones:
            return list(self._config.availability_zones)
        return [Fn.select(index, Fn.get_azs()) for index in range(DEFAULT_AZ_COUNT)]
