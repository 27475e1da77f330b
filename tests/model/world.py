"""What the model-based tests share: the backend on in-process moto, a caller, and a runner factory.

A "runner" here is the real ``ExecutionRunner`` of one runner host and actor, on the in-memory engine
(``tests/fake_engine.py``): the machines drive its protocol steps (claim, heartbeat, commit, hand-back,
start failure) directly, in the interleavings Hypothesis picks, instead of through a container's lifetime.
"""
from __future__ import annotations

import itertools
import os
import threading
from dataclasses import dataclass, field
from typing import Any

import boto3
from hypothesis import HealthCheck, settings

from chalicelib.domain.models import Actor
from chalicelib.identity.auth import Caller
from chalicelib.services import actors as actor_service
from chalicelib.wiring import resources
from chalicelib.wiring.backend import Backend
from runners.fence import Fence
from runners.metrics import Registry, standard_registry
from runners.pipeline.consumer import InboxConsumer
from runners.pipeline.execution import ExecutionRunner
from tests.fake_engine import FakeEngine

REGION = "us-east-1"
# The plan's pass criterion (T27) is 200 examples of up to 50 steps each with no falsifying example: the
# "full" profile (MODEL_PROFILE=full; about 1 min per machine on an idle 2-core machine). The default
# "pr" profile runs fewer examples, so that `make test` stays fast on a shared machine: each step is a
# few moto calls of about 5 ms each.
PROFILES = {"pr": {"execution": (60, 50), "actor": (30, 30)},
            "full": {"execution": (200, 50), "actor": (200, 50)}}
PROFILE = os.environ.get("MODEL_PROFILE", "pr")


def model_settings(machine: str) -> settings:
    """Hypothesis settings for ``machine`` ("execution" or "actor") under the selected profile."""
    examples, steps = PROFILES[PROFILE][machine]
    # The pr profile is derandomised: `make test` (and CI) runs the same examples every time, so a red run
    # means a change broke something, never that this run's dice found an old bug. The full profile (the
    # nightly tier) explores with fresh randomness; `pytest --hypothesis-seed=<n>` repeats one of its runs.
    return settings(max_examples=examples, stateful_step_count=steps, deadline=None, database=None,
                    derandomize=PROFILE == "pr", suppress_health_check=[HealthCheck.too_slow], print_blob=True)


@dataclass
class World:
    backend: Backend
    caller: Caller
    ids: itertools.count = field(default_factory=itertools.count)
    metrics: Registry = field(default_factory=standard_registry)

    runners: dict[tuple[str, str], ExecutionRunner] = field(default_factory=dict)
    ddb: Any = field(default_factory=lambda: boto3.client("dynamodb", region_name=REGION))

    def runner(self, runner_id: str, actor: Actor) -> ExecutionRunner:
        """The runner host ``runner_id``'s executor for ``actor`` (a fence that is never started: the
        machines expire leases by moving the clock, not by waiting for the watchdog)."""
        key = (runner_id, actor.id)
        if key not in self.runners:
            self.runners[key] = self._runner(runner_id, actor)
        return self.runners[key]

    def forget(self, actor: Actor) -> None:
        """Remove a finished example's actor, executions and logs from moto. Its tables would otherwise grow
        over hundreds of examples, and moto answers an index query or a scan by reading every item."""
        if self.backend.actors.find_live(actor.tenant, actor.id) is not None:
            actor_service.delete(self.backend, self.caller, actor.id)
        self.backend.actors.delete(actor.tenant, actor.id)  # what the cleanup duty does last
        table = resources.EXECUTIONS.physical(self.backend.settings.resource_prefix)
        for execution in self.backend.executions.list(actor.dbid):
            self.ddb.delete_item(TableName=table, Key={"actor_dbid": {"S": actor.dbid},
                                                       "execution_id": {"S": execution.id}})
        self.runners = {k: r for k, r in self.runners.items() if k[1] != actor.id}

    def _runner(self, runner_id: str, actor: Actor) -> ExecutionRunner:
        inbox = self.backend.queues.inbox_url(actor.tenant, actor.id)
        return ExecutionRunner(self.backend, engine=FakeEngine(), runner_id=runner_id,
                               worker_id=f"{runner_id}-{actor.id}", inbox=InboxConsumer(self.backend.queues, inbox),
                               kill_event=threading.Event(), fence=Fence(kill=lambda _cid: None),
                               metrics=self.metrics)
