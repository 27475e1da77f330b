"""Actors over HTTP (reference §1.3): every field, PUT as full replacement, links, cron, bad input.

Runs against the API-only stack: no runner, so a requested worker stays REQUESTED and can be counted.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import boto3
import pytest

from chalicelib.wiring import resources
from local.launcher import Stack
from tests.conftest import Api
from tests.integration.conftest import error, tenant_api

T = tenant_api  # shorthand
IMAGE = "abacosamples/test"
FULL = {
    "image": IMAGE, "name": "full actor", "description": "every field", "stateless": True, "privileged": False,
    "type": "json", "hints": ["sync", "blue"], "default_environment": {"A": "1", "NUM": 2},
    "webhook": "https://example.org/hook", "token": True, "max_workers": 3, "mem_limit": "256m",
    "max_cpus": 500_000_000, "use_container_uid": True, "queue": "special", "log_ex": 3600,
    "state": {"counter": 1},
}
DEFAULTS = {"description": "", "stateless": True, "privileged": False, "type": "none", "hints": [],
            "default_environment": {}, "link": "", "webhook": "", "token": False, "max_workers": None,
            "mem_limit": None, "max_cpus": None, "use_container_uid": False, "queue": "default", "log_ex": None,
            "cron_schedule": None, "cron_on": False, "cron_next_ex": None, "revision": 1, "state": {},
            "mounts": [], "run_as_executor": False, "status": "SUBMITTED"}


def _count(api: Any) -> int:
    return len(api.ok("GET", "/actors"))


def test_register_with_every_field_and_read_it_back(api_only: Api) -> None:
    api = T(api_only, "ACTORS-FULL")
    created = api.ok("POST", "/actors", json=FULL)
    for key, value in FULL.items():
        assert created[key] == value, key
    assert created["revision"] == 1 and created["status"] == "SUBMITTED" and created["owner"] == "anonymous"
    assert set(created["_links"]) == {"self", "executions", "owner"}
    assert created["_links"]["self"].endswith(f"/actors/{created['id']}")
    for hidden in ("tenant", "api_server", "version", "db_id", "executions"):
        assert hidden not in created
    assert api.ok("GET", f"/actors/{created['id']}") == created


def test_defaults_of_a_minimal_registration(api_only: Api) -> None:
    created = T(api_only, "ACTORS-MIN").ok("POST", "/actors", data={"image": IMAGE})
    for key, value in DEFAULTS.items():
        assert created[key] == value, key
    assert created["name"] is None
    for key in ("create_time", "last_update_time"):
        parsed = dt.datetime.fromisoformat(created[key].replace("Z", "+00:00"))
        assert created[key].endswith("Z") and parsed.tzinfo is not None


def test_form_bodies_with_repeated_hints_and_camel_case_json(api_only: Api) -> None:
    api = T(api_only, "ACTORS-FORMS")
    form = api.ok("POST", "/actors", data=[("image", IMAGE), ("hints", "a"), ("hints", "b"), ("stateless", "false"),
                                           ("default_environment", '{"K": "v"}'), ("log_ex", "60")])
    assert form["hints"] == ["a", "b"] and form["stateless"] is False
    assert form["default_environment"] == {"K": "v"} and form["log_ex"] == 60
    camel = api.ok("POST", "/actors", json={"image": IMAGE, "defaultEnvironment": {"X": "y"}, "maxWorkers": 2,
                                            "useContainerUid": True, "logEx": 99, "cronSchedule": "now + 1 day"})
    assert camel["default_environment"] == {"X": "y"} and camel["max_workers"] == 2
    assert camel["use_container_uid"] is True and camel["log_ex"] == 99 and camel["cron_on"] is True


BAD_BODIES = [
    ({"image": IMAGE, "stateless": "abcd"}, "stateless"),
    ({"image": IMAGE, "use_container_uid": "abcd"}, "use_container_uid"),
    ({"image": IMAGE, "privileged": "maybe"}, "privileged"),
    ({"image": IMAGE, "token": "sometimes"}, "token"),
    ({"image": IMAGE, "default_environment": "abcd"}, "default_environment"),
    ({"image": IMAGE, "default_environment": {"A=B": "x"}}, "default_environment"),
    ({"image": IMAGE, "hints": ["ok", "bad{"]}, "Hints must be simple"),
    ({"image": IMAGE, "hints": {"a": 1}}, "hints"),
    ({"image": IMAGE, "max_workers": 0}, "max_workers"),
    ({"image": IMAGE, "max_workers": "many"}, "max_workers"),
    ({"image": IMAGE, "stateless": False, "max_workers": 2}, "stateful actors can only have 1 worker"),
    ({"image": IMAGE, "mem_limit": "lots"}, "mem_limit"),
    ({"image": IMAGE, "mem_limit": "1k"}, "mem_limit"),
    ({"image": IMAGE, "max_cpus": 5}, "max_cpus"),
    ({"image": IMAGE, "max_cpus": "two"}, "max_cpus"),
    ({"image": IMAGE, "queue": "nope"}, "Invalid queue name."),
    ({"image": IMAGE, "log_ex": 0}, "log_ex"),
    ({"image": IMAGE, "log_ex": "soon"}, "log_ex"),
    ({"image": IMAGE, "type": "xml"}, "type"),
    ({"image": IMAGE, "webhook": "ftp://example.org/x"}, "webhook"),
    ({"image": IMAGE, "webhook": "not a url"}, "webhook"),
    ({"image": IMAGE, "webhook": "http://10.1.2.3/hook"}, "private or link-local"),
    ({"image": IMAGE, "webhook": "http://169.254.169.254/latest"}, "private or link-local"),
    ({"image": IMAGE, "link": "no-such-actor"}, "Invalid link parameter"),
    ({"image": IMAGE, "cron_schedule": "every day"}, "The cron is not in the correct format"),
    ({"image": IMAGE, "cron_schedule": "now + 1 fortnight"}, "fortnight is an invalid unit of time"),
    ({"image": IMAGE, "cron_schedule": "2001-01-01 01 + 1 hour"}, "The current UTC time is"),
    ({"image": IMAGE, "cron_on": True}, "cron_schedule is required"),
    ({"image": IMAGE, "run_as_executor": True}, "run_as_executor"),
    ({"image": IMAGE, "use_container_uid": True, "run_as_executor": True}, "Cannot set both"),
    ({"image": "two words"}, "image"),
    ({"image": IMAGE, "description": "x" * 5000}, "description"),
    ({"image": IMAGE, "state": "x" * 300_001}, "state"),
    ({"name": "no image"}, "image"),
]


@pytest.mark.parametrize("body, expected", BAD_BODIES)
def test_invalid_registrations_are_400s_naming_the_problem_and_create_nothing(
        api_only: Api, body: dict, expected: str) -> None:
    api = T(api_only, "ACTORS-BAD")
    before = _count(api)
    assert expected in error(api.call("POST", "/actors", json=body), 400)
    assert _count(api) == before


def test_put_is_a_full_replacement_with_defaults_keeping_name_owner_and_state(api_only: Api) -> None:
    api = T(api_only, "ACTORS-PUT")
    actor = api.ok("POST", "/actors", json=FULL)
    updated = api.ok("PUT", f"/actors/{actor['id']}", json={"image": IMAGE, "name": "ignored"})
    for key, value in DEFAULTS.items():
        if key not in ("revision", "state", "status"):
            assert updated[key] == value, key
    assert updated["name"] == "full actor" and updated["owner"] == actor["owner"]
    assert updated["state"] == {"counter": 1}  # kept (Abaco reset it; see the README)
    assert updated["revision"] == 1 and updated["last_update_time"] > actor["last_update_time"]
    assert api.ok("GET", f"/actors/{actor['id']}") == updated


def test_new_image_or_force_bumps_the_revision_and_requests_a_new_worker(api_only: Api) -> None:
    api = T(api_only, "ACTORS-REV")
    actor = api.ok("POST", "/actors", json={"image": IMAGE})
    path = f"/actors/{actor['id']}"
    assert [w["revision"] for w in api.ok("GET", f"{path}/workers")] == [1]
    same = api.ok("PUT", path, json={"image": IMAGE, "description": "same image"})
    assert same["revision"] == 1 and len(api.ok("GET", f"{path}/workers")) == 1
    new = api.ok("PUT", path, json={"image": "abacosamples/wc"})
    assert new["revision"] == 2 and new["status"] == "SUBMITTED"
    forced = api.ok("PUT", path, json={"image": "abacosamples/wc", "force": True})
    assert forced["revision"] == 3
    revisions = sorted(w["revision"] for w in api.ok("GET", f"{path}/workers"))
    assert revisions == [1, 2, 3]
    assert all(w["status"] == "REQUESTED" for w in api.ok("GET", f"{path}/workers"))


def test_stateful_actors_must_stay_stateful_and_have_one_worker(api_only: Api) -> None:
    api = T(api_only, "ACTORS-STATEFUL")
    actor = api.ok("POST", "/actors", json={"image": IMAGE, "stateless": False})
    path = f"/actors/{actor['id']}"
    message = error(api.call("PUT", path, json={"image": IMAGE}), 400)
    assert "an actor that was not stateless cannot be updated to be stateless" in message
    assert "stateful actors can only have 1 worker" in error(
        api.call("PUT", path, json={"image": IMAGE, "stateless": False, "max_workers": 2}), 400)
    assert api.ok("GET", path) == actor
    assert api.ok("PUT", path, json={"image": IMAGE, "stateless": False, "description": "d"})["description"] == "d"


@pytest.mark.parametrize("body, expected", [*BAD_BODIES[:-1], ({"image": ""}, "image")])
def test_invalid_updates_are_400s_and_change_nothing(api_only: Api, body: dict, expected: str) -> None:
    api = T(api_only, "ACTORS-BADPUT")
    actors = api.ok("GET", "/actors")
    actor = actors[0] if actors else api.ok("POST", "/actors", json={"image": IMAGE, "description": "keep"})
    assert expected in error(api.call("PUT", f"/actors/{actor['id']}", json=body), 400)
    assert api.ok("GET", f"/actors/{actor['id']}") == actor


def test_cron_schedule_on_register_and_update(api_only: Api) -> None:
    api = T(api_only, "ACTORS-CRON")
    now = dt.datetime.now(dt.UTC)
    actor = api.ok("POST", "/actors", json={"image": IMAGE, "cron_schedule": "now + 2 hours"})
    hour = actor["cron_next_ex"]
    assert actor["cron_on"] is True and actor["cron_schedule"] == "now + 2 hours"
    assert hour in (f"{now.year}-{now.month}-{now.day} {now.hour}", _next_hour(now))  # the hour may turn
    future = f"{now.year + 1}-01-02 03 + 1 month"
    path = f"/actors/{actor['id']}"
    updated = api.ok("PUT", path, json={"image": IMAGE, "cron_schedule": future, "cron_on": True})
    assert updated["cron_next_ex"] == f"{now.year + 1}-1-2 3" and updated["cron_on"] is True
    kept = api.ok("PUT", path, json={"image": IMAGE, "cron_schedule": future})
    assert kept["cron_next_ex"] == updated["cron_next_ex"] and kept["cron_on"] is False  # PUT: cron_on defaults
    cleared = api.ok("PUT", path, json={"image": IMAGE})
    assert (cleared["cron_schedule"], cleared["cron_next_ex"], cleared["cron_on"]) == (None, None, False)


def _next_hour(now: dt.datetime) -> str:
    later = now + dt.timedelta(hours=1)
    return f"{later.year}-{later.month}-{later.day} {later.hour}"


def test_links_by_id_or_alias_refuse_self_links_and_cycles(api_only: Api) -> None:
    api = T(api_only, "ACTORS-LINKS")
    first = api.ok("POST", "/actors", json={"image": IMAGE})
    chain = [first]
    for _ in range(4):
        chain.append(api.ok("POST", "/actors", json={"image": IMAGE, "link": chain[-1]["id"]}))
    api.ok("POST", "/actors/aliases", json={"alias": "chain.end", "actor_id": chain[-1]["id"]})
    path = f"/actors/{first['id']}"
    assert "this update would result in a cycle of linked actors" in error(
        api.call("PUT", path, json={"image": IMAGE, "link": chain[-1]["id"]}), 400)
    assert "this update would result in a cycle of linked actors" in error(
        api.call("PUT", path, json={"image": IMAGE, "link": "chain.end"}), 400)
    assert "cannot link to itself" in error(api.call("PUT", path, json={"image": IMAGE, "link": first["id"]}), 400)
    assert api.ok("GET", path)["link"] == ""
    other = api.ok("POST", "/actors", json={"image": IMAGE, "link": "chain.end"})
    assert other["link"] == "chain.end"
    foreign = T(api_only, "ACTORS-LINKS-OTHER")
    assert "Invalid link parameter" in error(foreign.call("POST", "/actors", json={"image": IMAGE,
                                                                                   "link": first["id"]}), 400)


def test_unknown_actor_is_404_for_every_actor_verb(api_only: Api) -> None:
    api = T(api_only, "ACTORS-404")
    for method in ("GET", "PUT", "DELETE"):
        assert "not found" in error(api.call(method, "/actors/no.such.alias", json={"image": IMAGE}), 404)


def test_delete_removes_the_actor_its_requested_workers_and_its_inbox(api_only: Api) -> None:
    api = T(api_only, "ACTORS-DELETE")
    actor = api.ok("POST", "/actors", json={"image": IMAGE})
    path = f"/actors/{actor['id']}"
    api.ok("POST", f"{path}/messages", json={"message": "queued"})
    assert api.ok("GET", f"{path}/messages")["messages"] == 1
    response = api.call("DELETE", path)
    assert response.status_code == 200 and response.json()["message"] == "Actor deleted successfully."
    for sub in ("", "/messages", "/workers", "/executions"):
        error(api.call("GET", path + sub), 404)
    assert actor["id"] not in [a["id"] for a in api.ok("GET", "/actors")]
    error(api.call("DELETE", path), 404)


def test_a_deleted_actors_inbox_is_tagged_for_the_cleanup_duty(api_only_stack: Stack, api_only: Api) -> None:
    """Runner hosts may delete only inboxes the API tagged as deleting (infrastructure/abaco_infra/policies.py);
    this stack has no runner, so the inbox waits for the cleanup duty with the tag on."""
    api = T(api_only, "ACTORS-DELETE")
    live, doomed = (api.ok("POST", "/actors", json={"image": IMAGE})["id"] for _ in range(2))
    api.ok("DELETE", f"/actors/{doomed}")
    sqs = boto3.client("sqs", endpoint_url=api_only_stack.env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    prefix = api_only_stack.env["ABACO_RESOURCE_PREFIX"]

    def tags(actor_id: str) -> dict[str, str]:
        url, = [u for u in sqs.list_queues(QueueNamePrefix=prefix, MaxResults=1000)["QueueUrls"]
                if u.endswith(actor_id)]
        return sqs.list_queue_tags(QueueUrl=url).get("Tags", {})

    assert tags(doomed).get(resources.DELETING_TAG) == "true"
    assert resources.DELETING_TAG not in tags(live) and tags(live)[resources.POOL_TAG] == "default"


def test_registration_state_and_state_routes(api_only: Api) -> None:
    api = T(api_only, "ACTORS-STATE")
    stateful = api.ok("POST", "/actors", json={"image": IMAGE, "stateless": False, "state": [1, 2]})
    path = f"/actors/{stateful['id']}/state"
    assert api.ok("GET", path) == {"state": [1, 2]}
    assert api.ok("POST", path, json={"k": "v"})["state"] == {"k": "v"}
    assert "state must be JSON serializable" in error(api.call("POST", path, json={}), 400)
    assert api.ok("GET", path) == {"state": {"k": "v"}}
    stateless = api.ok("POST", "/actors", json={"image": IMAGE})
    assert "actor is stateless" in error(api.call("POST", f"/actors/{stateless['id']}/state", json={"a": 1}), 404)
