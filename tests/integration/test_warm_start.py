"""Warm start's own behaviour: the pool's containers are hardened like cold ones, identical to
them from inside, drained with their worker (deletion, new revision, shutdown), reaped after a crash, and
off for actors with the ``cold`` hint. Real emulator, API, runners and Docker."""
from __future__ import annotations

import signal
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from local.launcher import Stack
from runners.pipeline.engine import LABEL_ATTEMPT, LABEL_EXECUTION, LABEL_RUNNER
from runners.pipeline.shim import SHIM_BINARY
from runners.pipeline.warm_container import dispatched_labels
from tests.conftest import Api, start_stack, wait_for
from tests.integration.probe import probe_image, report  # noqa: F401  (fixture)
from tests.integration.warm import (  # noqa: F401  (fixtures)
    dbid,
    labelled,
    warm_api_fixture,
    warm_containers,
    warm_stack_fixture,
    was_warm,
)

HOSTNAME_AND_IDS = {"HOSTNAME", "_abaco_execution_id"}  # what differs between any two executions


@pytest.fixture()
def actors(warm_api: Api) -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    for actor_id in made:
        warm_api.call("DELETE", f"/actors/{actor_id}")


def _create(api: Api, made: list[str], **fields: Any) -> str:
    actor_id = api.create_actor(**fields)["id"]
    made.append(actor_id)
    return actor_id


def _execute(api: Api, actor_id: str, **env: str) -> dict[str, Any]:
    query = urllib.parse.urlencode(env)
    sent = api.ok("POST", f"/actors/{actor_id}/messages?{query}", data={"message": "m\n'x'"})
    execution = api.wait_execution(actor_id, sent["execution_id"])
    assert execution["status"] == "COMPLETE", execution
    return execution


def _waiting(actor_id: str) -> list[dict[str, Any]]:
    return [c for c in warm_containers(dbid(actor_id)) if c["State"] == "running"]


def test_a_warm_container_sees_the_same_environment_as_a_cold_one_in_order(warm_api: Api, actors: list[str],
                                                                          probe_image: str) -> None:  # noqa: F811
    actor = _create(warm_api, actors, image=probe_image, default_environment={"Z": "z", "A": "a\nb"})
    cold = _execute(warm_api, actor, q1="1", q2="2")  # a worker's first execution learns the container: cold
    assert not was_warm(cold)
    wait_for(lambda: _waiting(actor), 60, what="a pre-started container")
    hot = _execute(warm_api, actor, q1="1", q2="2")
    assert was_warm(hot) and hot["phases"]["prestarted"] < hot["phases"]["claimed"] <= hot["phases"]["created"]
    cold_env = report(warm_api.logs(actor, cold["id"]))["env"]
    hot_env = report(warm_api.logs(actor, hot["id"]))["env"]
    assert list(hot_env) == list(cold_env)  # same variables in the same order
    assert {k: v for k, v in hot_env.items() if k not in HOSTNAME_AND_IDS} == \
        {k: v for k, v in cold_env.items() if k not in HOSTNAME_AND_IDS}


def test_waiting_containers_are_hardened_like_cold_ones_and_go_with_the_actor(warm_api: Api, actors: list[str],
                                                                            warm_stack: Stack) -> None:
    actor = _create(warm_api, actors, image="abacosamples/noop", mem_limit="256m")
    _execute(warm_api, actor)
    waiting = wait_for(lambda: _waiting(actor), 60, what="a pre-started container")
    assert len(waiting) == 1
    client = docker.from_env()
    try:
        info = client.api.inspect_container(waiting[0]["Id"])
    finally:
        client.close()
    host = info["HostConfig"]
    assert host["NetworkMode"] == "none" and host["CapDrop"] == ["ALL"] and host["Privileged"] is False
    assert "no-new-privileges:true" in host["SecurityOpt"] and host["PidsLimit"] == 256
    assert host["Memory"] == 256 * 1024 * 1024 and host["MemorySwap"] == host["Memory"]
    assert info["Config"]["User"] == "10000:10000"
    mounts = {m["Destination"]: m for m in info["Mounts"]}
    assert mounts[SHIM_BINARY]["RW"] is False and mounts["/.abaco/control"]["RW"] is False
    assert "/_abaco_results.sock" in mounts and not any("docker.sock" in m["Source"] for m in info["Mounts"])
    assert info["Config"]["Labels"][LABEL_RUNNER].split(":")[1] == str(warm_stack.procs["runner0"].pid)
    warm_api.ok("DELETE", f"/actors/{actor}")
    wait_for(lambda: not warm_containers(dbid(actor)), 60, what="the warm container to go with the actor")


def test_a_new_revision_drains_the_old_revisions_container(warm_api: Api, actors: list[str]) -> None:
    actor = _create(warm_api, actors, image="abacosamples/noop")
    _execute(warm_api, actor)
    old = wait_for(lambda: _waiting(actor), 60, what="a pre-started container")[0]["Id"]
    warm_api.ok("PUT", f"/actors/{actor}", json={"image": "abacosamples/noop", "force": True})
    wait_for(lambda: all(c["Id"] != old for c in warm_containers(dbid(actor))), 60,
             what="the old revision's container to be removed")


def test_the_cold_hint_turns_warm_start_off_for_an_actor(warm_api: Api, actors: list[str]) -> None:
    actor = _create(warm_api, actors, image="abacosamples/noop", hints=["cold"])
    runs = [_execute(warm_api, actor) for _ in range(3)]
    assert not any(was_warm(r) for r in runs)
    assert not warm_containers(dbid(actor))


def test_max_run_time_and_runtime_count_from_the_message(warm_api: Api, actors: list[str],
                                                        probe_image: str) -> None:  # noqa: F811
    actor = _create(warm_api, actors, image=probe_image, max_run_time=2)
    _execute(warm_api, actor)
    wait_for(lambda: any(time.time() - c["Created"] >= 3 for c in _waiting(actor)), 60,
             what="a pre-started container waiting longer than max_run_time")
    execution = _execute(warm_api, actor, PROBE_SLEEP="30")
    assert was_warm(execution)
    assert execution["status_message"] == "container stopped: max_run_time of 2 s reached"
    assert 2 <= execution["runtime"] <= 10
    report(warm_api.logs(actor, execution["id"]))  # it ran and reported before it was stopped


@pytest.fixture()
def own_stack(stack: Stack, tmp_path) -> Iterator[Stack]:
    # A short shutdown grace: the crashed runner's long execution comes back (lease expiry, then the
    # autoscaler) and may be running on the second runner when it is stopped; 60 s would outlast the wait.
    private = start_stack(tmp_path, env={"ABACO_WARM_START": "true", "ABACO_SHUTDOWN_GRACE_SECONDS": "5"},
                          emulator_url=stack.env["AWS_ENDPOINT_URL"])
    yield private
    private.stop()


def test_a_crashed_runners_warm_containers_are_reaped_and_a_stopping_runner_removes_its_own(
        own_stack: Stack, probe_image: str) -> None:  # noqa: F811
    api = Api(own_stack.api_url)
    actor = api.create_actor(image=probe_image)["id"]
    _execute(api, actor)
    runner = wait_for(lambda: _waiting(actor), 60, what="a pre-started container")[0]["Labels"][LABEL_RUNNER]
    sent = api.ok("POST", f"/actors/{actor}/messages?PROBE_SLEEP=300", data={"message": "long"})["execution_id"]
    running = wait_for(lambda: _running_warm(api, actor, sent), 60, what="a warm execution running")
    # Labels are fixed at create: the dispatched container's note tells a reaper which attempt it runs.
    notes = [dispatched_labels(c["Labels"]) for c in _containers_of_runner(runner)]
    assert [(n[LABEL_EXECUTION], n[LABEL_ATTEMPT]) for n in notes if n] == [(sent, str(running["attempt"]))]
    crashed = own_stack.procs.pop("runner0")
    crashed.send_signal(signal.SIGKILL)
    crashed.wait(10)
    assert _containers_of_runner(runner)  # orphaned: the dispatched one (and the next, pre-started)
    own_stack.add_runner("runner1")
    # Any runner of this host reaps them (the session stack's too: its reaper cannot see our tables, so
    # which attempt is marked lost is left to the reliability tests; the note above is what it reads).
    wait_for(lambda: not _containers_of_runner(runner), 60, what="a runner to reap the orphans")
    # A fresh actor on the new runner (the old one's worker record waits for the reconciler).
    fresh = api.create_actor(image="abacosamples/noop")["id"]
    _execute(api, fresh)
    waiting = wait_for(lambda: _waiting(fresh), 60, what="a pre-started container on the new runner")
    assert waiting[0]["Labels"][LABEL_RUNNER].split(":")[1] == str(own_stack.procs["runner1"].pid)
    stopping = own_stack.procs.pop("runner1")
    stopping.send_signal(signal.SIGTERM)
    stopping.wait(60)
    assert not warm_containers(dbid(fresh))  # removed before the runner exited


def _running_warm(api: Api, actor: str, execution_id: str) -> dict[str, Any] | None:
    execution = api.ok("GET", f"/actors/{actor}/executions/{execution_id}")
    phases = execution["phases"]
    assert "started" not in phases or "prestarted" in phases, "the long execution started cold"
    return execution if execution["status"] == "RUNNING" and "started" in phases else None


def _containers_of_runner(runner_id: str) -> list[dict[str, Any]]:
    """Everything the runner created, pre-started containers (no execution label yet) included."""
    return labelled(LABEL_RUNNER, runner_id)


def test_an_idle_workers_warm_container_expires_with_its_time_to_live(stack: Stack, tmp_path) -> None:
    short = start_stack(tmp_path, env={"ABACO_WARM_START": "true", "ABACO_WORKER_TTL": "3"},
                        emulator_url=stack.env["AWS_ENDPOINT_URL"])
    try:
        api = Api(short.api_url)
        actor = api.create_actor(image="abacosamples/noop")["id"]
        _execute(api, actor)
        wait_for(lambda: _waiting(actor), 60, what="a pre-started container")
        wait_for(lambda: not warm_containers(dbid(actor)), 60, what="the idle worker's container to go with it")
        wait_for(lambda: not api.ok("GET", f"/actors/{actor}/workers"), 30, what="the worker to retire")
    finally:
        short.stop()
