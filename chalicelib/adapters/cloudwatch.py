"""CloudWatch metrics adapter: what the periodic duties publish, with SDK errors translated once."""
from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters import aws, aws_errors
from chalicelib.wiring import resources
from chalicelib.wiring.settings import Settings

MAX_DATUMS_PER_CALL = 1000  # PutMetricData limit (CloudWatch quotas)


def backlog_datums(prefix: str, backlog: dict[str, int]) -> list[dict[str, Any]]:
    """One datum per pool, dimensioned by prefix and pool: the scaling policy of each runner group reads
    exactly its own (Prefix, Pool) series."""
    return [{"MetricName": resources.BACKLOG_METRIC, "Unit": "Count", "Value": float(count),
             "Dimensions": [{"Name": "Prefix", "Value": prefix}, {"Name": "Pool", "Value": pool}]}
            for pool, count in sorted(backlog.items())]


def health_datums(prefix: str, stale_hosts: int, oldest_open: dict[str, float]) -> list[dict[str, Any]]:
    """The alarms' gauges: stale hosts per prefix, the oldest open execution's age per (prefix, pool)."""
    prefix_dim = {"Name": "Prefix", "Value": prefix}
    return [{"MetricName": resources.STALE_HOSTS_METRIC, "Unit": "Count", "Value": float(stale_hosts),
             "Dimensions": [prefix_dim]},
            *({"MetricName": resources.OLDEST_OPEN_METRIC, "Unit": "Seconds", "Value": round(age, 1),
               "Dimensions": [prefix_dim, {"Name": "Pool", "Value": pool}]}
              for pool, age in sorted(oldest_open.items()))]


class Metrics:
    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self._settings = settings
        self._cloudwatch = client or aws.client("cloudwatch", settings)

    def put_backlog(self, backlog: dict[str, int]) -> None:
        self.put(backlog_datums(self._settings.resource_prefix, backlog))

    def put_health(self, stale_hosts: int, oldest_open: dict[str, float]) -> None:
        self.put(health_datums(self._settings.resource_prefix, stale_hosts, oldest_open))

    def put(self, datums: list[dict[str, Any]]) -> None:
        for start in range(0, len(datums), MAX_DATUMS_PER_CALL):
            try:
                self._cloudwatch.put_metric_data(Namespace=resources.METRICS_NAMESPACE,
                                                 MetricData=datums[start:start + MAX_DATUMS_PER_CALL])
            except (ClientError, BotoCoreError) as exc:
                raise aws_errors.translate(exc, "CloudWatch PutMetricData") from exc
