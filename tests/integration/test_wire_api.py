"""Wire details over HTTP (reference §1.1, §1.13): CORS and OPTIONS, /v3, _links, times, the camel case
switch, utilization, the admin views and the served OpenAPI document."""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from local.launcher import Stack
from tests.conftest import Api, start_stack
from tests.integration.conftest import error, tenant_api

IMAGE = "abacosamples/test"
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def test_cors_headers_on_successes_and_errors(api_only: Api) -> None:
    api = tenant_api(api_only, "WIRE-CORS")
    actor = api.ok("POST", "/actors", json={"image": IMAGE})
    for method, path, status in [("GET", "/actors", 200), ("GET", f"/actors/{actor['id']}", 200),
                                 ("POST", "/actors", 400), ("GET", "/actors/unknown.actor", 404),
                                 ("DELETE", "/actors", 405), ("GET", "/actors/search/actors?limit=x", 400),
                                 ("GET", "/actors/openapi.json", 200), ("GET", "/no/such/route", 404)]:
        response = api.call(method, path, json={})
        assert response.status_code == status, (method, path, response.text)
        assert response.headers["Access-Control-Allow-Origin"] == "*", (method, path)
        assert "Authorization" in response.headers["Access-Control-Allow-Headers"], (method, path)
        if response.status_code >= 400:
            error(response, status)  # in the envelope
    methods = api.call("GET", f"/actors/{actor['id']}").headers["Access-Control-Allow-Methods"]
    assert set(methods.split(",")) == {"GET", "PUT", "DELETE", "OPTIONS"}


def test_options_preflight_is_answered_without_credentials(api_only: Api) -> None:
    for path in ("/actors", "/actors/someid/messages", "/v3/actors/aliases/x", "/actors/search/actors"):
        response = api_only.session.options(api_only.base + path, timeout=10, headers={
            "Origin": "https://dashboard.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-Nonce, Content-Type"})
        assert response.status_code == 200, path
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "OPTIONS" in response.headers["Access-Control-Allow-Methods"]
        allowed = response.headers["Access-Control-Allow-Headers"]
        assert "X-Nonce" in allowed and "Content-Type" in allowed


def test_every_route_is_also_served_under_v3(api_only: Api) -> None:
    api = tenant_api(api_only, "WIRE-V3")
    actor = api.ok("POST", "/v3/actors", json={"image": IMAGE})
    assert api.ok("GET", f"/v3/actors/{actor['id']}") == api.ok("GET", f"/actors/{actor['id']}")
    api.ok("POST", "/v3/actors/aliases", json={"alias": "v3.alias", "actor_id": actor["id"]})
    assert api.ok("GET", "/v3/actors/v3.alias/workers")[0]["actor_id"] == actor["id"]
    api.ok("POST", f"/v3/actors/{actor['id']}/messages", json={"message": "v3"})
    assert api.ok("GET", "/v3/actors/v3.alias/executions")["total_executions"] == 1
    assert api.ok("GET", "/v3/actors/search/actors")["_metadata"]["total_count"] == 1
    api.ok("POST", "/v3/actors/configs", json={"name": "c", "value": "v", "is_secret": False, "actors": "v3.alias"})
    assert [c["name"] for c in api.ok("GET", "/v3/actors/configs")] == ["c"]
    assert api.ok("GET", "/v3/actors/utilization")["currentActors"] == 1
    error(api.call("PATCH", "/v3/actors"), 405)
    assert api.call("GET", "/v3/actors/openapi.json").json()["openapi"].startswith("3.")


def test_links_and_iso_utc_times_on_every_object(api_only: Api) -> None:
    api = tenant_api(api_only, "WIRE-LINKS")
    actor = api.ok("POST", "/actors", json={"image": IMAGE})
    path = f"/actors/{actor['id']}"
    sent = api.ok("POST", f"{path}/messages", json={"message": "x"})
    alias = api.ok("POST", "/actors/aliases", json={"alias": "linked", "actor_id": actor["id"]})
    config = api.ok("POST", "/actors/configs", json={"name": "cfg", "value": "v", "is_secret": False,
                                                     "actors": actor["id"]})
    execution = api.ok("GET", f"{path}/executions/{sent['execution_id']}")
    worker = api.ok("GET", f"{path}/workers")[0]
    objects = [actor, sent, alias, config, execution, worker, api.ok("GET", f"{path}/messages"),
               api.ok("GET", f"{path}/executions"), api.ok("GET", f"{path}/executions/{execution['id']}/logs"),
               api.ok("GET", f"{path}/workers/{worker['id']}")]
    base = api_only.base
    for obj in objects:
        assert obj["_links"] and all(link.startswith(f"{base}/") for link in obj["_links"].values()), obj
    for value in (actor["create_time"], actor["last_update_time"], execution["message_received_time"],
                  worker["create_time"], alias["create_time"], config["create_time"]):
        assert ISO_UTC.match(value), value
        stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        assert abs(stamp - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)


def test_unknown_urls_are_404s_in_the_envelope(api_only: Api) -> None:
    assert "not found" in error(api_only.call("GET", "/nothing/here"), 404)
    assert "not found" in error(api_only.call("GET", "/actors/a/b/c/d/e/f"), 404)


def test_utilization_counts_current_and_all_time_actors(api_only: Api) -> None:
    api = tenant_api(api_only, "WIRE-UTIL")
    assert api.ok("GET", "/actors/utilization") == {"currentActors": 0, "totalActors": 0, "workers": 0,
                                                    "commandQueue": api.ok("GET", "/actors/utilization")[
                                                        "commandQueue"]}
    first = api.ok("POST", "/actors", json={"image": IMAGE})
    api.ok("POST", "/actors", json={"image": IMAGE})
    api.call("DELETE", f"/actors/{first['id']}")
    usage = api.ok("GET", "/actors/utilization")
    assert (usage["currentActors"], usage["totalActors"], usage["workers"]) == (1, 2, 1)
    assert usage["commandQueue"] >= 1  # no runner consumes the API-only stack's commands


def test_admin_views(api_only: Api) -> None:
    api = tenant_api(api_only, "WIRE-ADMIN")
    actor = api.ok("POST", "/actors", json={"image": IMAGE, "max_workers": 2})
    gone = api.ok("POST", "/actors", json={"image": IMAGE})
    for target in (actor, actor, gone):
        api.ok("POST", f"/actors/{target['id']}/messages", json={"message": "m"})
    api.call("DELETE", f"/actors/{gone['id']}")
    listed = api.ok("GET", "/actors/admin")
    assert [a["id"] for a in listed] == [actor["id"]]
    assert (listed[0]["messages"], listed[0]["executions"], listed[0]["runtime"]) == (2, 2, 0)
    assert [w["status"] for w in listed[0]["workers"]] == ["REQUESTED"]
    workers = api.ok("GET", "/actors/admin/workers")
    assert workers["summary"] == {"total_workers": 1, "ready_workers": 0, "requested_workers": 1,
                                  "error_workers": 0, "busy_workers": 0, "actors_no_workers": 0}
    assert workers["workers"][0]["actor_id"] == actor["id"]
    assert workers["workers"][0]["actor_dbid"] == f"WIRE-ADMIN_{actor['id']}"
    executions = api.ok("GET", "/actors/admin/executions")
    summary = executions["summary"]
    assert (summary["total_actors_all"], summary["total_actors_existing"]) == (2, 1)
    assert (summary["total_executions_all"], summary["total_executions_existing"]) == (3, 2)
    assert summary["total_actors_all_with_executions"] == 2
    assert executions["actors"] == [{"actor_id": actor["id"], "owner": "anonymous", "image": IMAGE,
                                     "total_executions": 2, "total_execution_cpu": 0, "total_execution_io": 0,
                                     "total_execution_runtime": 0}]


def test_the_openapi_document_is_served_valid_and_matches_the_routes(api_only: Api) -> None:
    from chalicelib.edge import http
    from chalicelib.edge.openapi import served_operations

    response = api_only.call("GET", "/actors/openapi.json")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    doc = response.json()
    validate(doc)
    assert doc["servers"][0]["url"] == api_only.base and doc["servers"][1]["url"] == f"{api_only.base}/v3"
    served = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
    assert served == {(op.method, op.path) for op in served_operations(http.SERVED)}
    assert ("GET", "/actors/search/{search_type}") in served and ("PUT", "/actors/aliases/{alias}") in served


def test_responses_match_the_documented_schemas(api_only: Api) -> None:
    """The document describes what the API really returns, not only which routes exist."""
    doc = api_only.call("GET", "/actors/openapi.json").json()
    api = tenant_api(api_only, "WIRE-SCHEMAS")
    actor = api.ok("POST", "/actors", json={"image": IMAGE, "stateless": False, "max_workers": None})
    path = f"/actors/{actor['id']}"
    sent = api.ok("POST", f"{path}/messages", json={"message": "x"})
    api.ok("POST", "/actors/aliases", json={"alias": "schema.alias", "actor_id": actor["id"]})
    api.ok("POST", "/actors/configs", json={"name": "s", "value": "v", "is_secret": True, "actors": actor["id"]})
    worker = api.ok("GET", f"{path}/workers")[0]
    execution = f"{path}/executions/{sent['execution_id']}"
    checks = [("post", "/actors", "/actors", {"image": IMAGE}), ("get", "/actors", "/actors", None),
              ("get", "/actors", "/actors?limit=1", None), ("get", "/actors/{actor_id}", path, None),
              ("put", "/actors/{actor_id}", path, {"image": IMAGE, "stateless": False}),
              ("post", "/actors/{actor_id}/messages", f"{path}/messages", {"message": "y"}),
              ("get", "/actors/{actor_id}/messages", f"{path}/messages", None),
              ("get", "/actors/{actor_id}/executions", f"{path}/executions", None),
              ("get", "/actors/{actor_id}/executions/{execution_id}", execution, None),
              ("get", "/actors/{actor_id}/executions/{execution_id}/logs", f"{execution}/logs", None),
              ("get", "/actors/{actor_id}/state", f"{path}/state", None),
              ("post", "/actors/{actor_id}/state", f"{path}/state", {"s": 1}),
              ("get", "/actors/{actor_id}/workers", f"{path}/workers", None),
              ("get", "/actors/{actor_id}/workers/{worker_id}", f"{path}/workers/{worker['id']}", None),
              ("get", "/actors/aliases", "/actors/aliases", None),
              ("get", "/actors/aliases/{alias}", "/actors/aliases/schema.alias", None),
              ("get", "/actors/configs", "/actors/configs", None),
              ("get", "/actors/configs/{config_name}", "/actors/configs/s", None),
              ("get", "/actors/search/{search_type}", "/actors/search/executions", None),
              ("get", "/actors/utilization", "/actors/utilization", None),
              ("get", "/actors/admin", "/actors/admin", None),
              ("get", "/actors/admin/workers", "/actors/admin/workers", None),
              ("get", "/actors/admin/executions", "/actors/admin/executions", None)]
    for method, template, url, body in checks:
        response = api.call(method.upper(), url, json=body)
        assert response.status_code == 200, (url, response.text)
        schema = doc["paths"][template][method]["responses"]["200"]["content"]["application/json"]["schema"]
        OAS30Validator({**schema, "components": doc["components"]}).validate(response.json())
    bad = {"message": "m", "result": {"id": 1}, "status": "success", "version": "x"}
    schema = doc["paths"]["/actors/{actor_id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    with pytest.raises(ValidationError):  # the check has teeth: a wrong result fails it
        OAS30Validator({**schema, "components": doc["components"]}).validate(bad)


# --- the camel case switch (its own API-only stack) -------------------------------------------------------

@pytest.fixture(scope="module")
def camel(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    private = start_stack(tmp_path_factory.mktemp("camel"), env={"ABACO_CASE": "camel"}, runners=0,
                          emulator_url=stack.env["AWS_ENDPOINT_URL"])
    yield Api(private.api_url)
    private.stop()


def test_camel_case_input_and_top_level_output(camel: Api) -> None:
    actor = camel.ok("POST", "/actors", json={"image": IMAGE, "defaultEnvironment": {"snake_key": "v"},
                                              "maxWorkers": 2, "logEx": 60, "cronSchedule": "now + 1 day"})
    for key in ("defaultEnvironment", "maxWorkers", "logEx", "cronSchedule", "cronOn", "cronNextEx",
                "createTime", "lastUpdateTime", "statusMessage", "useContainerUid", "memLimit", "maxCpus"):
        assert key in actor, key
    assert "default_environment" not in actor and "create_time" not in actor
    assert actor["defaultEnvironment"] == {"snake_key": "v"}  # nested dicts are not converted
    assert set(actor["_links"]) == {"self", "executions", "owner"}
    sent = camel.ok("POST", f"/actors/{actor['id']}/messages", json={"message": "m"})
    assert "executionId" in sent
    summary = camel.ok("GET", f"/actors/{actor['id']}/executions")
    assert "totalExecutions" in summary and "messageReceivedTime" in summary["executions"][0]
    execution = camel.ok("GET", f"/actors/{actor['id']}/executions/{sent['executionId']}")
    assert "messageReceivedTime" in execution and "finalState" in execution
    alias = camel.ok("POST", "/actors/aliases", json={"alias": "camel.alias", "actorId": actor["id"]})
    assert alias["actorId"] == actor["id"]
    config = camel.ok("POST", "/actors/configs", json={"name": "c", "value": "v", "isSecret": True,
                                                       "actors": "camel.alias"})
    assert config["isSecret"] is True and config["value"] != "v"
    found = camel.ok("GET", "/actors/search/actors?maxWorkers=2")  # camel query keys too
    assert found["_metadata"] == {"totalCount": 1, "recordsSkipped": 0, "recordLimit": 100, "countReturned": 1,
                                  "nextCursor": None, "next": None}  # one page: no next one
    assert found["search"][0]["maxWorkers"] == 2
    assert set(camel.ok("GET", "/actors/utilization")) == {"currentActors", "totalActors", "workers",
                                                           "commandQueue"}
    admin = camel.ok("GET", "/actors/admin/workers")
    assert "totalWorkers" in admin["summary"] and "actorDbid" in admin["workers"][0]
    assert "totalExecutionsAll" in camel.ok("GET", "/actors/admin/executions")["summary"]
