"""Alarms to an SNS topic, each named ``<prefix>-<what>`` (two stages in one account never share a name):
dead letters, errors of the API and the duties, old messages, stuck backlog, DynamoDB and GSI throttles, the
API function's throttles and duration, API latency, the events queue's age, stale host heartbeats and the
oldest open execution. ``docs/operator-guide.md`` says what each one means and what to do.

Inboxes are created at run time, so their age cannot have a static alarm; the command queues' age (no runner
takes work), the per-pool backlog (work does not drain) and the oldest open execution cover the same failure
from the outside.
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
EVENTS_AGE_LIMIT_S = 300  # an execution event waiting 5 minutes: no host runs the events duty
BACKLOG_STUCK_MINUTES = 15
API_LATENCY_P99_MS = 3000  # API Gateway's p99 over 5 minutes (its 29 s limit is far above a healthy API)
DURATION_SHARE = 0.8  # the API function's p99 duration at 80 % of its timeout: requests about to time out
OLDEST_OPEN_LIMIT_S = 3600  # an execution open (SUBMITTED or RUNNING) for an hour with no max_run_time that long


class Alarms(Construct):
    def __init__(self, scope: Construct, construct_id: str, config: StageConfig, data: DataPlane, api: Api) -> None:
        super().__init__(scope, construct_id)
        self.prefix = config.prefix
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
        gateway, five_xx = api.gateway_metrics
        self._add("Api5xx", cw.Metric(namespace="AWS/ApiGateway", metric_name=five_xx, dimensions_map=gateway,
                                      period=five, statistic="Sum"), threshold=API_ERRORS_PER_5_MIN, periods=1,
                  description="API Gateway answered 5xx.")
        for name, logical_id in DUTY_FUNCTIONS.items():
            self._add(f"DutyErrors-{name}", cw.Metric(
                namespace="AWS/Lambda", metric_name="Errors",
                dimensions_map={"FunctionName": api.function(logical_id).ref}, period=five, statistic="Sum"),
                threshold=0, periods=3, description=f"The scheduled duty {name} keeps failing.")
        self._api_alarms(config, api, five)
        self._data_alarms(config, data, minute)

    def _api_alarms(self, config: StageConfig, api: Api, five: Duration) -> None:
        function = {"FunctionName": api.api_function_name}
        self._add("ApiThrottles", cw.Metric(namespace="AWS/Lambda", metric_name="Throttles", dimensions_map=function,
                                            period=five, statistic="Sum"), threshold=0, periods=1,
                  description="The API function was throttled: its reserved concurrency is used up (callers got "
                              "429).")
        self._add("ApiDuration", cw.Metric(namespace="AWS/Lambda", metric_name="Duration", dimensions_map=function,
                                           period=five, statistic="p99"),
                  threshold=config.api_timeout_s * 1000 * DURATION_SHARE, periods=2,
                  description="The API function's p99 duration nears its timeout: a slow store or a slow query.")
        self._add("ApiLatency", cw.Metric(namespace="AWS/ApiGateway", metric_name="Latency",
                                          dimensions_map=api.gateway_metrics[0],
                                          period=five, statistic="p99"), threshold=API_LATENCY_P99_MS, periods=3,
                  description="API Gateway's p99 latency stays above 3 s.")

    def _data_alarms(self, config: StageConfig, data: DataPlane, minute: Duration) -> None:
        for table in resources.TABLES:
            self._throttles(f"Throttles-{table.name}", {"TableName": table.physical(config.prefix)},
                            f"DynamoDB throttled requests to the {table.name} table.")
            for index in table.global_secondary_indexes():
                self._throttles(f"Throttles-{table.name}-{index['IndexName']}",
                                {"TableName": table.physical(config.prefix),
                                 "GlobalSecondaryIndexName": index["IndexName"]},
                                f"DynamoDB throttled the {index['IndexName']} index of the {table.name} table.")
        self._add("EventsOld", data.queues[resources.EVENTS.name].metric_approximate_age_of_oldest_message(
            period=minute, statistic="Maximum"), threshold=EVENTS_AGE_LIMIT_S, periods=3,
            description="Execution events wait: no runner host runs the events duty (webhooks, links).")
        stale = cw.Metric(namespace=resources.METRICS_NAMESPACE, metric_name=resources.STALE_HOSTS_METRIC,
                          dimensions_map={"Prefix": config.prefix}, period=minute, statistic="Maximum")
        self._add("StaleHosts", stale, threshold=0, periods=3,
                  description="A runner host stopped heartbeating without stopping.")
        for pool in config.pools:
            self._add(f"OldestOpen-{pool.name}", cw.Metric(
                namespace=resources.METRICS_NAMESPACE, metric_name=resources.OLDEST_OPEN_METRIC,
                dimensions_map={"Prefix": config.prefix, "Pool": pool.name}, period=minute, statistic="Maximum"),
                threshold=OLDEST_OPEN_LIMIT_S, periods=5,
                description=f"An execution of pool {pool.name} has been open (queued or running) for an hour.")

    def _throttles(self, name: str, dimensions: dict[str, str], description: str) -> None:
        minute = Duration.minutes(1)
        reads, writes = (cw.Metric(namespace="AWS/DynamoDB", metric_name=metric, dimensions_map=dimensions,
                                   period=minute, statistic="Sum")
                         for metric in ("ReadThrottleEvents", "WriteThrottleEvents"))
        both = cw.MathExpression(expression="reads + writes", using_metrics={"reads": reads, "writes": writes},
                                 period=minute, label=name)
        self._add(name, both,
                  threshold=0, periods=5, description=description)

    def _add(self, name: str, metric: cw.IMetric, threshold: float, periods: int, description: str) -> None:
        alarm = cw.Alarm(self, name, metric=metric, threshold=threshold, evaluation_periods=periods,
                         alarm_name=f"{self.prefix}-{name}",
                         comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                         treat_missing_data=cw.TreatMissingData.NOT_BREACHING, alarm_description=description)
        alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
        self.alarms.append(alarm)
