"""The request mix of the nightly load test (T28 a), run by ``bench.load`` as ``locust -f`` in a process of
its own: locust monkey-patches the standard library with gevent on import, so nothing else imports this.

Each user paces itself at ``ABACO_LOAD_USER_RPS`` tasks per second (``constant_throughput``): the test
measures latency at a fixed offered load rather than whatever a saturated 2-core machine gives, which
makes its p95 comparable from run to run. The mix is the reliability plan's: 70% reads of one object, 25%
POST messages, 5% lists. The actors sit in a runner pool no runner serves, so messages queue up and start
no container (the "fake executor": nothing runs). The bench passes the actors and one execution of each
in ``ABACO_LOAD_TARGETS`` (``actor:execution,...``) and the tenant in ``ABACO_LOAD_TENANT``.
"""
from __future__ import annotations

import os
import random

from locust import FastHttpUser, constant_throughput, task

TARGETS = [tuple(pair.split(":", 1)) for pair in os.environ.get("ABACO_LOAD_TARGETS", "").split(",") if pair]
TENANT = os.environ.get("ABACO_LOAD_TENANT", "BENCH-LOAD")
USER_RPS = float(os.environ.get("ABACO_LOAD_USER_RPS", "2"))
LIST_LIMIT = 10  # executions listed per page (the default of 100 would make the list mostly payload)


class AbacoClient(FastHttpUser):
    """One API caller (an admin: the bench runs with ``ABACO_ACCESS_CONTROL=none``)."""

    wait_time = constant_throughput(USER_RPS)

    def _target(self) -> tuple[str, str]:
        return random.choice(TARGETS)

    def _headers(self) -> dict[str, str]:
        return {"tenant": TENANT, "Content-Type": "application/json"}

    # 70% GETs
    @task(40)
    def get_actor(self) -> None:
        actor, _ = self._target()
        self.client.get(f"/actors/{actor}", headers=self._headers(), name="GET /actors/{id}")

    @task(20)
    def get_execution(self) -> None:
        actor, execution = self._target()
        self.client.get(f"/actors/{actor}/executions/{execution}", headers=self._headers(),
                        name="GET /actors/{id}/executions/{eid}")

    @task(10)
    def get_messages(self) -> None:
        actor, _ = self._target()
        self.client.get(f"/actors/{actor}/messages", headers=self._headers(), name="GET /actors/{id}/messages")

    # 25% POST messages
    @task(25)
    def post_message(self) -> None:
        actor, _ = self._target()
        self.client.post(f"/actors/{actor}/messages", json={"message": "load"}, headers=self._headers(),
                         name="POST /actors/{id}/messages")

    # 5% lists
    @task(3)
    def list_actors(self) -> None:
        self.client.get("/actors", headers=self._headers(), name="GET /actors")

    @task(2)
    def list_executions(self) -> None:
        actor, _ = self._target()
        self.client.get(f"/actors/{actor}/executions?limit={LIST_LIMIT}", headers=self._headers(),
                        name="GET /actors/{id}/executions")
