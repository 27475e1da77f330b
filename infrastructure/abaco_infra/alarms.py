"""Alarms to an SNS topic: dead letters, errors of the API and the duties, old messages, stuck backlog.

Inboxes are created at run time, so their age cannot have a static alarm; the command queues' age (no runner
takes work) and the per-pool backlog (work does not drain) cover the same failure from the outside.
"""
from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from constructs import Construct

from abaco_infra.api import DUTY_FUNCTIONS, Api
from abaco_infra.config import StageConfig
from abaco_infra.data import DataPlane
from chalicelib.wiring import resources

API_ERRORS_PER_5_MIN = 5
COMMAND_AGE_LIMIT_S = 300  # a start-worker command waiting 5 minutes: no runner host takes work
BACKLOG_STUCK_MINUTES = 15
API_GATEWAY_NAME = "abaco"  # Chalice app_name: the RestApi's name
API_STAGE = "api"


class Alarms(Construct):
    def __init__(self, scope: Construct, construct_id: str, config: StageConfig, data: DataPlane, api: Api) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "Topic", topic_name=f"{config.prefix}-alarms",
                               master_key=None, display_name=f"Abaco {config.stage} alarms")
        if config.alarm_email:
            self.topic.add_subscription(subs.EmailSubscription(config.alarm_email))
        self.alarms: list[cw.Alarm] = []
        minute = Duration.minutes(1)
        self._add("DlqNotEmpty", data.dlq.metric_approximate_number_of_messages_visible(
            period=minute, statistic="Maximum"), threshold=0, periods=1,
            description="Messages reached the dead-letter queue: an execution failed repeatedly.")
        for pool in config.pools:
            queue = data.command_queue(pool.name)
            self._add(f"CommandsOld-{pool.name}", queue.metric_approximate_age_of_oldest_message(
                period=minute, statistic="Maximum"), threshold=COMMAND_AGE_LIMIT_S, periods=3,
                description=f"Start-worker commands of pool {pool.name} wait: no runner host takes work.")
            self._add(f"WakesOld-{pool.name}", data.wake_queue(pool.name).metric_approximate_age_of_oldest_message(
                period=minute, statistic="Maximum"), threshold=COMMAND_AGE_LIMIT_S, periods=3,
                description=f"Start requests for messages of pool {pool.name} wait: no runner host takes work.")
            self._add(f"BacklogStuck-{pool.name}", cw.Metric(
                namespace=resources.METRICS_NAMESPACE, metric_name=resources.BACKLOG_METRIC,
                dimensions_map={"Prefix": config.prefix, "Pool": pool.name}, period=minute, statistic="Minimum"),
                threshold=pool.backlog_per_host * max(pool.max_hosts, 1), periods=BACKLOG_STUCK_MINUTES,
                description=f"Pool {pool.name} has more backlog than its largest size can run, for 15 minutes.")
        five = Duration.minutes(5)
        self._add("ApiErrors", cw.Metric(namespace="AWS/Lambda", metric_name="Errors",
                                         dimensions_map={"FunctionName": api.api_function_name}, period=five,
                                         statistic="Sum"), threshold=API_ERRORS_PER_5_MIN, periods=1,
                  description="The API function raised errors.")
        self._add("Api5xx", cw.Metric(namespace="AWS/ApiGateway", metric_name="5XXError",
                                      dimensions_map={"ApiName": API_GATEWAY_NAME, "Stage": API_STAGE}, period=five,
                                      statistic="Sum"), threshold=API_ERRORS_PER_5_MIN, periods=1,
                  description="API Gateway answered 5xx.")
        for name, logical_id in DUTY_FUNCTIONS.items():
            self._add(f"DutyErrors-{name}", cw.Metric(
                namespace="AWS/Lambda", metric_name="Errors",
                dimensions_map={"FunctionName": api.function(logical_id).ref}, period=five, statistic="Sum"),
                threshold=0, periods=3, description=f"The scheduled duty {name} keeps failing.")

    def _add(self, name: str, metric: cw.IMetric, threshold: float, periods: int, description: str) -> None:
        alarm = cw.Alarm(self, name, metric=metric, threshold=threshold, evaluation_periods=periods,
                         comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                         treat_missing_data=cw.TreatMissingData.NOT_BREACHING, alarm_description=description)
        alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
        self.alarms.append(alarm)
