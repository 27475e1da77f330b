"""An actor's totals (executions, cpu, io, runtime): counters added once per execution, after its terminal write.

Abaco's executions summary summed every execution of the actor on each request; at 30,000 executions the
answer passed Lambda's 6 MB. The counters live in one small item per actor in the metrics table (partition
``totals#<actor_dbid>``, sort key ``totals``: never in a tenant's daily counters), not on the actor item,
whose owner and image indexes project the whole item: an addition there wrote three items.

Never counted twice: the addition follows the execution's own terminal write, which is conditional on the
attempt (reliability plan §1.3), so only one writer ever gets past it; and the addition is sent once (the
SDK would retry it after a lost answer and add twice): only a refusal that certainly applied nothing
(throttling, no connection made) is tried again. An execution whose addition is lost (its runner died
between the two writes, or the answer was lost) is left out, and says so in the runner's log: the totals
may undercount, never overcount. This replaces one TransactWriteItems with the actor item (billed twice
for both items, plus the actor's two index entries: 9 write units of 21 per execution, measured by
``python -m bench.cost --measure``) by one write unit. Counters that earlier releases kept on the actor
item are still read and added (``ActorStore.totals``).
"""
from __future__ import annotations

import logging
import time
from typing import Any

from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

from chalicelib.adapters import aws
from chalicelib.adapters.aws_errors import code_of
from chalicelib.adapters.storage.base import Table, serialize
from chalicelib.domain.models import Execution
from chalicelib.wiring.resources import METRICS
from chalicelib.wiring.settings import Settings

LOG = logging.getLogger("abaco.storage")
COUNTERS = ("total_executions", "total_cpu", "total_io", "total_runtime")
_ADD = "ADD total_executions :one, total_cpu :cpu, total_io :io, total_runtime :rt"
# Refusals that applied nothing (DynamoDB error reference): safe to send again.
NOT_APPLIED = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"})
TRIES = 3
PAUSE_SECONDS = 0.05  # doubled after each refusal
SORT_KEY = "totals"


def totals_key(actor_dbid: str) -> dict[str, Any]:
    return {"tenant": {"S": f"totals#{actor_dbid}"}, "day": {"S": SORT_KEY}}


def counters_of(item: dict[str, Any] | None) -> dict[str, int]:
    return {name: int((item or {}).get(name, {}).get("N", "0")) for name in COUNTERS}


class ActorTotals:
    """The metrics table's totals items; additions go through a client that never retries by itself."""

    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self._table = Table(METRICS, settings, client)
        self._once = client or aws.single_try_client("dynamodb", settings)

    def add(self, execution: Execution, final: dict[str, Any]) -> bool:
        """Add one finished execution (``final``'s cpu, io and runtime); False when it may not have been
        added (logged). Call it only after the execution's own terminal write applied."""
        values = serialize({":one": 1, ":cpu": int(final.get("cpu") or 0), ":io": int(final.get("io") or 0),
                            ":rt": int(final.get("runtime") or 0)})
        pause = PAUSE_SECONDS
        for _ in range(TRIES):
            try:
                self._once.update_item(TableName=self._table.name, Key=totals_key(execution.actor_dbid),
                                         UpdateExpression=_ADD, ExpressionAttributeValues=values)
                return True
            except ClientError as exc:
                if code_of(exc) not in NOT_APPLIED:
                    return _left_out(execution, exc)
            except (EndpointConnectionError, ConnectTimeoutError):
                pass  # never sent
            except Exception as exc:  # a read timeout, a lost answer: it may have applied, so never again
                return _left_out(execution, exc)
            time.sleep(pause)
            pause *= 2
        return _left_out(execution, "refused every time")

    def read(self, actor_dbid: str) -> dict[str, int]:
        return counters_of(self._table.get(totals_key(actor_dbid), consistent=False))

    def forget(self, actor_dbid: str) -> None:
        """The deleted actor's counters (its cleanup's last step)."""
        self._table.delete(totals_key(actor_dbid))


def _left_out(execution: Execution, why: object) -> bool:
    LOG.warning("execution %s left out of actor %s's totals (never counted twice): %s",
                execution.id, execution.actor_id, why)
    return False
