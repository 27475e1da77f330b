"""Executions over HTTP (reference §1.5, §1.4, §1.7): force-quit, results, the legacy POST, the inbox
count and purge, and the workers API. Real emulator, API and Docker."""
from __future__ import annotations

import json
import urllib.parse

import pytest

from tests.conftest import Api, wait_for
from tests.integration.probe import new_actor, probe_image, report  # noqa: F401  (fixtures)


def _error(response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "error" and body["result"] is None
    return body["message"]


def _send(api: Api, actor_id: str, message: str = "m", **env: str) -> str:
    query = urllib.parse.urlencode(env)
    return api.ok("POST", f"/actors/{actor_id}/messages?{query}", data={"message": message})["execution_id"]


def _status(api: Api, actor_id: str, execution_id: str) -> str:
    return api.ok("GET", f"/actors/{actor_id}/executions/{execution_id}")["status"]


@pytest.fixture()
def probe(new_actor, probe_image: str) -> str:  # noqa: F811
    return new_actor(image=probe_image, max_workers=1)["id"]


def test_results_pop_one_at_a_time_in_order(api: Api, probe: str) -> None:
    eid = _send(api, probe, PROBE_RESULTS=json.dumps(["one", "two", "three"]))
    assert api.wait_execution(probe, eid)["status"] == "COMPLETE"
    popped = []
    for _ in range(4):
        response = api.call("GET", f"/actors/{probe}/executions/{eid}/results")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/octet-stream"
        popped.append(response.content)
    assert popped == [b"one", b"two", b"three", b""]  # empty body once none is left


def test_results_of_the_maximum_size_are_kept_and_larger_ones_dropped(api: Api, probe: str) -> None:
    eid = _send(api, probe, PROBE_RESULT_BYTES="131072", PROBE_RAW_RESULT_BYTES="131073")
    assert api.wait_execution(probe, eid)["status"] == "COMPLETE"
    assert api.call("GET", f"/actors/{probe}/executions/{eid}/results").content == b"r" * 131072
    assert api.call("GET", f"/actors/{probe}/executions/{eid}/results").content == b""


def test_results_socket_is_writable_by_a_non_root_container_user(api: Api, probe: str) -> None:
    eid = _send(api, probe, PROBE_RESULTS=json.dumps(["from uid 65534"]))
    assert api.wait_execution(probe, eid)["status"] == "COMPLETE"
    seen = report(api.logs(probe, eid))
    assert seen["uid"] == 10000 and seen["sent"] == ["from uid 65534"]  # ABACO_CONTAINER_USER's default uid
    assert seen["results"] == {"exists": True, "kind": "socket", "mode": "0o777"}
    assert api.call("GET", f"/actors/{probe}/executions/{eid}/results").content == b"from uid 65534"


def test_force_quit_stops_a_running_execution_which_ends_complete(api: Api, probe: str) -> None:
    eid = _send(api, probe, PROBE_SLEEP="120")
    wait_for(lambda: _status(api, probe, eid) == "RUNNING", 60, what="RUNNING")
    response = api.call("DELETE", f"/actors/{probe}/executions/{eid}")
    assert response.status_code == 200, response.text
    assert response.json()["message"] == f"Issued force quit command for execution {eid}."
    execution = api.wait_execution(probe, eid, timeout=20)
    assert execution["status"] == "COMPLETE"
    assert execution["exit_code"] in (137, 143) and execution["runtime"] < 60
    assert execution["status_message"] == "container stopped: force quit requested"
    message = _error(api.call("DELETE", f"/actors/{probe}/executions/{eid}"), 400)
    assert message.startswith("Cannot force quit an execution not in RUNNING status")
    _error(api.call("DELETE", f"/actors/{probe}/executions/nope"), 404)


def test_purge_empties_the_inbox_and_fails_waiting_executions(api: Api, probe: str) -> None:
    running = _send(api, probe, PROBE_SLEEP="120")
    wait_for(lambda: _status(api, probe, running) == "RUNNING", 60, what="RUNNING")
    waiting = [_send(api, probe, f"queued {i}") for i in range(4)]
    wait_for(lambda: api.ok("GET", f"/actors/{probe}/messages")["messages"] == 4, 20, what="4 queued messages")
    refused = api.call("POST", f"/actors/{probe}/messages?_abaco_synchronous=true", data={"message": "s"})
    assert "Cannot issue synchronous execution" in _error(refused, 400)  # Abaco's intended guard
    purged = api.ok("DELETE", f"/actors/{probe}/messages")
    assert purged["msg"] == "Actor mailbox purged." and "self" in purged["_links"]
    assert api.ok("GET", f"/actors/{probe}/messages")["messages"] == 0
    for eid in waiting:
        execution = api.ok("GET", f"/actors/{probe}/executions/{eid}")
        assert (execution["status"], execution["status_message"]) == ("ERROR", "purged")
    assert _status(api, probe, running) == "RUNNING"  # the purge leaves the running execution alone
    api.ok("DELETE", f"/actors/{probe}/executions/{running}")
    assert api.wait_execution(probe, running, timeout=20)["status"] == "COMPLETE"
    later = _send(api, probe, "after the purge")
    assert api.wait_execution(probe, later)["status"] == "COMPLETE"


def test_legacy_post_records_an_execution(api: Api, new_actor) -> None:  # noqa: F811
    actor = new_actor(image="abacosamples/noop")
    result = api.ok("POST", f"/actors/{actor['id']}/executions", data={"runtime": "12", "cpu": "340", "io": "5"})
    assert result["id"] == actor["id"]  # Abaco answers with the actor
    summary = api.ok("GET", f"/actors/{actor['id']}/executions")
    assert (summary["total_executions"], summary["total_runtime"], summary["total_cpu"], summary["total_io"]) == \
        (1, 12, 340, 5)
    recorded = api.ok("GET", f"/actors/{actor['id']}/executions/{summary['executions'][0]['id']}")
    assert recorded["status"] == "COMPLETE" and recorded["executor"] == "anonymous"
    for body in ({"runtime": "x", "cpu": "1", "io": "1"}, {"cpu": "1", "io": "1"}, {"runtime": 1, "cpu": -1, "io": 1}):
        _error(api.call("POST", f"/actors/{actor['id']}/executions", json=body), 400)
    assert api.ok("GET", f"/actors/{actor['id']}/executions")["total_executions"] == 1


# --- workers -----------------------------------------------------------------------------------

def test_workers_post_adds_requested_records_and_delete_stops_them(api: Api, new_actor) -> None:  # noqa: F811
    actor = new_actor(image="abacosamples/noop")
    aid = actor["id"]
    wait_for(lambda: len(api.ok("GET", f"/actors/{aid}/workers")) == 1, 30, what="the first worker")
    response = api.call("POST", f"/actors/{aid}/workers", json={"num": 3})
    assert response.status_code == 200, response.text
    assert response.json()["message"] == "Scheduled 2 new worker(s) to start. Previously, there were 1 workers."
    workers = api.ok("GET", f"/actors/{aid}/workers")
    assert len(workers) == 3  # records exist at once, REQUESTED until a runner takes them
    wait_for(lambda: {w["status"] for w in api.ok("GET", f"/actors/{aid}/workers")} <= {"READY", "BUSY"}, 60,
             what="3 READY workers")
    assert api.ok("POST", f"/actors/{aid}/workers", data={"num": "2"}) is None
    detail = api.ok("GET", f"/actors/{aid}/workers/{workers[0]['id']}")
    for key in ("id", "status", "tenant", "ch_name", "cid", "location", "image", "host_id", "create_time",
                "last_execution_time", "last_health_check_time"):
        assert key in detail, key
    victim = workers[1]["id"]
    assert api.call("DELETE", f"/actors/{aid}/workers/{victim}").status_code == 200
    wait_for(lambda: victim not in [w["id"] for w in api.ok("GET", f"/actors/{aid}/workers")], 15,
             what="the worker to remove its own record")
    _error(api.call("GET", f"/actors/{aid}/workers/{victim}"), 404)
    _error(api.call("POST", f"/actors/{aid}/workers", json={"num": "many"}), 400)
    assert len(api.ok("GET", f"/actors/{aid}/workers")) == 2
