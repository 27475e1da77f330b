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


class Metrics:
    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self._settings = settings
        self._cloudwatch = client or aws.client("cloudwatch", settings)

    def put_backlog(self, backlog: dict[str, int]) -> None:
        datums = backlog_datums(self._settings.resource_prefix, backlog)
        for start in range(0, len(datums), MAX_DATUMS_PER_CALL):
            try:
                self._cloudwatch.put_metric_data(Namespace=resources.METRICS_NAMESPACE,
                                                 MetricData=datums[start:start + MAX_DATUMS_PER_CALL])
            except (ClientError, BotoCoreError) as exc:
                raise aws_errors.translate(exc, "CloudWatch PutMetricData") from exc
