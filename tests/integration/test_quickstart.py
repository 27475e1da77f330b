"""The seed README's quickstart, step by step, over HTTP against the real emulator, API and Docker."""
from __future__ import annotations

import io

import docker

from runners.pipeline.engine import LABEL_EXECUTION
from tests.conftest import Api, wait_for

EXECUTION_FIELDS = ("exit_code", "final_state", "runtime", "cpu", "io", "worker_id", "start_time", "finish_time")


def test_empty_system_lists_no_actors_in_the_envelope(api: Api) -> None:
    body = api.call("GET", "/actors", headers={"tenant": "EMPTY-TENANT"}).json()
    assert body == {"message": "Actors retrieved successfully.", "result": [], "status": "success",
                    "version": ":dev"}


def test_quickstart_form_bodies_end_to_end(api: Api) -> None:
    actor = api.ok("POST", "/actors", data={"image": "abacosamples/test"})
    assert actor["status"] == "SUBMITTED"
    assert actor["image"] == "abacosamples/test" and actor["owner"] == "anonymous"
    actor_id = actor["id"]
    wait_for(lambda: api.ok("GET", f"/actors/{actor_id}")["status"] == "READY", 60, what="actor READY")

    sent = api.ok("POST", f"/actors/{actor_id}/messages", data={"message": "test execution"})
    execution_id = sent["execution_id"]
    assert sent["msg"] == "test execution"

    summary = api.ok("GET", f"/actors/{actor_id}/executions")
    assert execution_id in [e["id"] for e in summary["executions"]]
    for key in ("total_executions", "total_cpu", "total_io", "total_runtime"):
        assert key in summary

    execution = api.wait_execution(actor_id, execution_id)
    assert execution["status"] == "COMPLETE"
    for key in EXECUTION_FIELDS:
        assert execution[key] is not None, key
    assert execution["exit_code"] == 0
    assert execution["final_state"]["Status"] == "exited"
    assert execution["runtime"] >= 2  # the test image sleeps 2 s
    assert execution["cpu"] > 0

    logs = api.logs(actor_id, execution_id)
    assert "Contents of MSG: test execution" in logs
    assert "MSG=test execution" in logs
    for variable in ("_abaco_actor_id", "_abaco_execution_id", "_abaco_worker_id", "_abaco_api_server",
                     "_abaco_username", "_abaco_Content_Type=str", "_abaco_actor_dbid"):
        assert variable in logs, variable
    assert f"_abaco_execution_id={execution_id}" in logs

    totals = api.ok("GET", f"/actors/{actor_id}/executions")
    assert totals["total_executions"] == 1 and totals["total_runtime"] >= 2

    workers = api.ok("GET", f"/actors/{actor_id}/workers")
    assert len(workers) == 1 and workers[0]["status"] in ("READY", "BUSY")
    for key in ("tenant", "ch_name", "cid", "location", "image", "last_execution_time", "last_health_check_time"):
        assert key in workers[0], key


def test_json_bodies_and_query_parameters_reach_the_container(api: Api) -> None:
    actor = api.create_actor(image="abacosamples/test", default_environment={"FROM_ACTOR": "yes"})
    sent = api.ok("POST", f"/actors/{actor['id']}/messages?greeting=hello", json={"a": 1, "b": [1, 2]})
    execution = api.wait_execution(actor["id"], sent["execution_id"])
    assert execution["status"] == "COMPLETE"
    logs = api.logs(actor["id"], sent["execution_id"])
    assert "MSG={'a': 1, 'b': [1, 2]}" in logs  # Abaco hands JSON to the container as a Python repr
    assert "_abaco_Content_Type=application/json" in logs
    assert "greeting=hello" in logs and "FROM_ACTOR=yes" in logs


def test_logs_are_visible_while_the_container_runs(api: Api) -> None:
    actor = api.create_actor(image="abacosamples/test")
    sent = api.ok("POST", f"/actors/{actor['id']}/messages", json={"message": "streaming"})
    eid = sent["execution_id"]

    def running_with_logs() -> bool:
        execution = api.ok("GET", f"/actors/{actor['id']}/executions/{eid}")
        return execution["status"] == "RUNNING" and "Contents of MSG: streaming" in api.logs(actor["id"], eid)

    wait_for(running_with_logs, 60, interval=0.1, what="logs during the run")
    assert api.wait_execution(actor["id"], eid)["status"] == "COMPLETE"


def test_containers_are_isolated_and_removed(api: Api) -> None:
    actor = api.create_actor(image="abacosamples/sleep_loop")
    sent = api.ok("POST", f"/actors/{actor['id']}/messages?_abaco_sleep_iterations=3", data={"message": "3"})
    client = docker.from_env()
    try:
        def running_container() -> list:
            return client.containers.list(filters={"label": f"{LABEL_EXECUTION}={sent['execution_id']}"})

        container = wait_for(running_container, 60, what="the execution's container")[0]
        host = container.attrs["HostConfig"]
        assert host["NetworkMode"] == "none"
        assert host["CapDrop"] == ["ALL"]
        assert "no-new-privileges:true" in host["SecurityOpt"]
        assert host["Privileged"] is False
        assert host["PidsLimit"] and host["PidsLimit"] > 0
        assert host["Memory"] > 0 and host["MemorySwap"] == host["Memory"]
        assert not any("docker.sock" in b for b in (host.get("Binds") or []))
        execution = api.wait_execution(actor["id"], sent["execution_id"])
        assert execution["status"] == "COMPLETE" and execution["exit_code"] == 0
        wait_for(lambda: not client.containers.list(
            all=True, filters={"label": f"{LABEL_EXECUTION}={sent['execution_id']}"}), 30,
            what="the container to be removed")
    finally:
        client.close()


def test_non_zero_exit_is_complete_with_the_exit_code(api: Api) -> None:
    client = docker.from_env()
    try:
        dockerfile = b'FROM abacosamples/test\nCMD ["sh", "-c", "echo failing on purpose; exit 3"]\n'
        client.images.build(fileobj=io.BytesIO(dockerfile), tag="abaco-test/exit3", rm=True)
    finally:
        client.close()
    actor = api.create_actor(image="abaco-test/exit3")
    sent = api.ok("POST", f"/actors/{actor['id']}/messages", data={"message": "x"})
    execution = api.wait_execution(actor["id"], sent["execution_id"])
    assert execution["status"] == "COMPLETE"  # Abaco: a non-zero exit is recorded, not an error status
    assert execution["exit_code"] == 3
    assert "failing on purpose" in api.logs(actor["id"], sent["execution_id"])


def test_python_actor_word_count(api: Api) -> None:
    actor = api.create_actor(image="abacosamples/wc")
    sent = api.ok("POST", f"/actors/{actor['id']}/messages", data={"message": "the quick brown fox"})
    execution = api.wait_execution(actor["id"], sent["execution_id"])
    assert execution["status"] == "COMPLETE" and execution["exit_code"] == 0
    assert "Number of words is: 4" in api.logs(actor["id"], sent["execution_id"])


def test_missing_image_puts_the_actor_in_error_without_pulling(api: Api) -> None:
    """No registry is reachable: a runner never tries a pull (which alone sends DNS traffic); the actor goes
    to ERROR with the reason, as Abaco does when its spawner cannot get the image (ACTOR_ERROR)."""
    actor = api.create_actor(image="abaco-test/no-such-image-anywhere")

    def errored() -> dict | None:
        current = api.ok("GET", f"/actors/{actor['id']}")
        return current if current["status"] == "ERROR" else None

    current = wait_for(errored, 60, what="the actor to go to ERROR")
    assert "not available on this runner host" in current["status_message"]
    assert "pulling is disabled" in current["status_message"]
    api.ok("DELETE", f"/actors/{actor['id']}")
