"""Scaling on a busy runner host: more actors than slots, and one worker per woken actor.

One runner with two slots and the shipped worker time to live (600 s). Slots bound running containers, not
workers (architecture §7): every registered actor gets a READY worker, which parks (no poller) until a
message wakes it, so a message to any of them starts its container within seconds and nothing is retired
or declined; and a message to a worker-less actor must end with exactly one worker (the API and the
autoscaler both react to it). Worker counts come from the workers table and the runner's metrics,
container starts from Docker's events.
"""
from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from chalicelib.wiring.backend import Backend
from local import emulator
from local.launcher import Stack
from tests.conftest import Api, start_stack, wait_for
from tests.faults import DockerEvents, backend_for

pytestmark = pytest.mark.docker
TENANT = "DEV-DEVELOP"
SLOTS = 2
WAKE_DEADLINE_SECONDS = 30.0  # a message to a parked actor or one without a worker; the TTL is 600 s


@pytest.fixture(scope="module")
def sstack(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {"ABACO_WORKER_SLOTS": str(SLOTS), "ABACO_AUTOSCALE_SECONDS": "0.5", "ABACO_HOST_HEARTBEAT_SECONDS": "2",
           "ABACO_RUNNER_METRICS_PORT": str(emulator.free_port())}
    private = start_stack(tmp_path_factory.mktemp("scaling"), env=env, emulator_url=stack.env["AWS_ENDPOINT_URL"])
    try:
        yield private
    finally:
        private.stop()


@pytest.fixture(scope="module")
def sapi(sstack: Stack) -> Api:
    return Api(sstack.api_url)


def _send(api: Api, actor_id: str) -> str:
    return api.ok("POST", f"/actors/{actor_id}/messages", data={"message": "m"})["execution_id"]


def _workers(api: Api, actor_id: str) -> list[dict]:
    return api.ok("GET", f"/actors/{actor_id}/workers")


def _metric(api: Api, name: str) -> float:
    """A counter of the stack's one runner, from its /metrics endpoint."""
    port = wait_for(lambda: next((h["metrics_port"] for h in api.ok("GET", "/actors/admin/hosts")["hosts"]), 0),
                    30, what="the runner's metrics port")
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.split(" ")[0] == name)


def test_every_actor_on_a_host_with_fewer_slots_is_ready_and_a_message_wakes_its_worker(sapi: Api) -> None:
    actors = [sapi.create_actor(image="abacosamples/noop")["id"] for _ in range(SLOTS + 1)]
    wait_for(lambda: all([w["status"] for w in _workers(sapi, a)] == ["READY"] for a in actors), 60,
             what="a READY worker for every actor, more actors than slots")
    activated = _metric(sapi, "abaco_workers_activated_total")
    with DockerEvents() as events:
        posted = time.monotonic()
        woken = _send(sapi, actors[-1])
        assert sapi.wait_execution(actors[-1], woken, timeout=WAKE_DEADLINE_SECONDS)["status"] == "COMPLETE"
        took = time.monotonic() - posted
        again = _send(sapi, actors[0])  # another parked actor's message is served the same way
        assert sapi.wait_execution(actors[0], again, timeout=WAKE_DEADLINE_SECONDS)["status"] == "COMPLETE"
        time.sleep(0.5)  # the last docker events (both executions are over: nothing more can start)
        assert events.starts[woken] == 1 and events.starts[again] == 1
    print(f"a message to a parked actor on a host with more actors than slots: complete after {took:.1f} s")
    assert _metric(sapi, "abaco_workers_activated_total") - activated == 2
    assert _metric(sapi, "abaco_workers_retired_total") == 0  # nothing retired or declined for room
    for actor_id in actors:  # every actor kept its one worker
        assert [w["status"] for w in _workers(sapi, actor_id)] in (["READY"], ["BUSY"])
    for host in sapi.ok("GET", "/actors/admin/hosts")["hosts"]:
        assert host["used_slots"] <= host["slots"] == SLOTS


def _without_worker(api: Api, actor_id: str) -> None:
    """Let the registration's worker start (and park), then stop it through the API."""
    wait_for(lambda: all(w["status"] == "READY" for w in _workers(api, actor_id)), 30, what="a settled worker")
    for worker in _workers(api, actor_id):
        api.ok("DELETE", f"/actors/{actor_id}/workers/{worker['id']}")
    wait_for(lambda: _workers(api, actor_id) == [], 30, what="the actor without a worker")


def _worker_records_until_done(backend: Backend, actor_dbid: str, execution_id: str) -> set[tuple[str, str]]:
    """Every worker record (id, incarnation) of the actor from now until 2 s (four autoscaler passes) after
    the execution is over."""
    seen: set[tuple[str, str]] = set()
    limit, settled = time.monotonic() + WAKE_DEADLINE_SECONDS, None
    while settled is None or time.monotonic() < settled:
        assert time.monotonic() < limit, f"execution {execution_id} not done after {WAKE_DEADLINE_SECONDS} s"
        seen |= {(w.id, w.create_time) for w in backend.workers.list(actor_dbid)}
        if settled is None and backend.executions.get(actor_dbid, execution_id).status.value in ("COMPLETE", "ERROR"):
            settled = time.monotonic() + 2
        time.sleep(0.05)
    return seen


def test_a_message_to_a_worker_less_actor_ends_with_exactly_one_worker(sstack: Stack, sapi: Api) -> None:
    backend = backend_for(sstack)
    for _ in range(3):
        actor_id = sapi.create_actor(image="abacosamples/noop", max_workers=3)["id"]
        _without_worker(sapi, actor_id)
        started = _metric(sapi, "abaco_workers_started_total")
        with DockerEvents() as events:
            eid = _send(sapi, actor_id)
            seen = _worker_records_until_done(backend, f"{TENANT}_{actor_id}", eid)
            # Docker's event may trail the execution's record on a loaded host: wait for it, not a fixed time
            wait_for(lambda: events.starts.get(eid, 0) >= 1, 30, what="Docker's start event")  # noqa: B023
            assert events.starts[eid] == 1
        assert backend.executions.get(f"{TENANT}_{actor_id}", eid).status.value == "COMPLETE"
        assert len(seen) == 1, seen  # one worker record, ever
        assert _metric(sapi, "abaco_workers_started_total") - started == 1
        assert len(_workers(sapi, actor_id)) == 1
