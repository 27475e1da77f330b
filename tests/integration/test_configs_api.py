"""Configs and secrets over HTTP (reference §1.11), and their delivery to the container as _actor_configs."""
from __future__ import annotations

import ast
import re
from typing import Any

import boto3
import pytest
from cryptography.fernet import Fernet

from chalicelib.wiring import resources
from local.launcher import Stack
from tests.conftest import Api, wait_for
from tests.integration.conftest import API_ONLY_KEY, error, tenant_api

IMAGE = "abacosamples/test"
SECRET = "s3cr3t-Value-that-must-not-leak"


def _client(stack: Stack, service: str) -> Any:
    return boto3.client(service, endpoint_url=stack.env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _raw_item(stack: Stack, tenant: str, name: str) -> dict:
    table = f"{stack.env['ABACO_RESOURCE_PREFIX']}-configs"
    return _client(stack, "dynamodb").get_item(TableName=table, Key={"tenant": {"S": tenant},
                                                                      "name": {"S": name}})["Item"]


def test_plain_and_secret_configs_secrets_only_ever_as_ciphertext(api_only: Api, api_only_stack: Stack) -> None:
    api = tenant_api(api_only, "CONFIGS-CRUD")
    actor = api.ok("POST", "/actors", json={"image": IMAGE})
    api.ok("POST", "/actors/aliases", json={"alias": "cfg.target", "actor_id": actor["id"]})
    plain = api.ok("POST", "/actors/configs", data={"name": "greeting", "value": "hello", "is_secret": "false",
                                                    "actors": f"{actor['id']}, cfg.target"})
    assert plain == {**plain, "name": "greeting", "value": "hello", "is_secret": False,
                     "actors": f"{actor['id']},cfg.target", "owner": "anonymous"}
    assert set(plain["_links"]) == {"self", "owner"}
    response = api.call("POST", "/actors/configs", json={"name": "password", "value": SECRET, "is_secret": True,
                                                          "actors": actor["id"]})
    assert response.status_code == 200 and SECRET not in response.text
    secret = response.json()["result"]
    assert secret["is_secret"] is True and secret["value"].startswith("fernet:")
    for path in ("/actors/configs", "/actors/configs/password"):
        assert SECRET not in api.call("GET", path).text
    assert api.ok("GET", "/actors/configs/password")["value"] == secret["value"]
    assert [c["name"] for c in api.ok("GET", "/actors/configs")] == ["greeting", "password"]
    stored = _raw_item(api_only_stack, "CONFIGS-CRUD", "password")
    assert SECRET not in str(stored)
    token = stored["value"]["S"]
    plaintext = Fernet(API_ONLY_KEY.encode()).decrypt(token.removeprefix("fernet:").encode()).decode()
    assert plaintext == f"CONFIGS-CRUD\x00{SECRET}"  # encrypted with the configured key, bound to the tenant


def test_put_replaces_the_whole_config_and_delete_removes_it(api_only: Api) -> None:
    api = tenant_api(api_only, "CONFIGS-PUT")
    first = api.ok("POST", "/actors", json={"image": IMAGE})
    second = api.ok("POST", "/actors", json={"image": IMAGE})
    created = api.ok("POST", "/actors/configs", json={"name": "flip", "value": "plain", "is_secret": False,
                                                      "actors": first["id"]})
    secret = api.ok("PUT", "/actors/configs/flip", json={"value": SECRET, "isSecret": True,
                                                         "actors": [second["id"]]})
    assert secret["is_secret"] is True and secret["value"] != SECRET and secret["actors"] == second["id"]
    assert secret["create_time"] == created["create_time"] and secret["name"] == "flip"
    back = api.ok("PUT", "/actors/configs/flip", json={"name": "ignored", "value": {"k": [1]}, "is_secret": False,
                                                       "actors": f"{first['id']},{second['id']}"})
    assert back["value"] == '{"k": [1]}' and back["actors"] == f"{first['id']},{second['id']}"
    response = api.call("DELETE", "/actors/configs/flip")
    assert response.status_code == 200 and response.json()["message"] == "Actor config flip deleted successfully."
    assert "No config found" in error(api.call("GET", "/actors/configs/flip"), 404)
    error(api.call("PUT", "/actors/configs/flip", json={"value": "v", "is_secret": False,
                                                        "actors": first["id"]}), 404)
    error(api.call("DELETE", "/actors/configs/flip"), 404)


@pytest.mark.parametrize("body, status, expected", [
    ({"value": "v", "is_secret": False, "actors": "A"}, 400, "Missing required field: name"),
    ({"name": "n", "is_secret": False, "actors": "A"}, 400, "Missing required field: value"),
    ({"name": "n", "value": "v", "actors": "A"}, 400, "Missing required field: is_secret"),
    ({"name": "n", "value": "v", "is_secret": False}, 400, "Missing required field: actors"),
    ({"name": "n", "value": "v", "is_secret": "perhaps", "actors": "A"}, 400, "is_secret"),
    ({"name": "n", "value": "v", "is_secret": False, "actors": " , "}, 400, "at least one actor"),
    ({"name": "n", "value": "v", "is_secret": False, "actors": "no.such.actor"}, 404,
     "No actor or alias found with id: no.such.actor."),
    ({"name": "utilization", "value": "v", "is_secret": False, "actors": "A"}, 400, "reserved word"),
    ({"name": "a/b", "value": "v", "is_secret": False, "actors": "A"}, 400, "forbidden character"),
    ({"name": "a b", "value": "v", "is_secret": False, "actors": "A"}, 400, "forbidden character"),
    ({"name": "n", "value": "x" * 32_769, "is_secret": False, "actors": "A"}, 400, "longer than"),
    ({"name": "dup", "value": "v", "is_secret": False, "actors": "A"}, 400, "Config dup already exists."),
])
def test_bad_configs_are_refused_and_change_nothing(api_only: Api, body: dict, status: int, expected: str) -> None:
    api = tenant_api(api_only, "CONFIGS-BAD")
    actors = api.ok("GET", "/actors") or [api.ok("POST", "/actors", json={"image": IMAGE})]
    if not api.ok("GET", "/actors/configs"):
        api.ok("POST", "/actors/configs", json={"name": "dup", "value": "v", "is_secret": False,
                                                "actors": actors[0]["id"]})
    before = api.ok("GET", "/actors/configs")
    if body.get("actors") == "A":
        body = {**body, "actors": actors[0]["id"]}
    assert expected in error(api.call("POST", "/actors/configs", json=body), status)
    assert api.ok("GET", "/actors/configs") == before


def test_configs_are_per_tenant(api_only: Api) -> None:
    mine, theirs = tenant_api(api_only, "CONFIGS-T1"), tenant_api(api_only, "CONFIGS-T2")
    actor = mine.ok("POST", "/actors", json={"image": IMAGE})
    mine.ok("POST", "/actors/configs", json={"name": "shared-name", "value": "v", "is_secret": True,
                                             "actors": actor["id"]})
    assert theirs.ok("GET", "/actors/configs") == []
    error(theirs.call("GET", "/actors/configs/shared-name"), 404)
    assert "No actor or alias found" in error(theirs.call("POST", "/actors/configs", json={
        "name": "x", "value": "v", "is_secret": False, "actors": actor["id"]}), 404)


@pytest.mark.docker
def test_the_container_gets_its_configs_decrypted_and_logs_are_searchable(api: Api, stack: Stack) -> None:
    """One real execution: configs by id, by alias and secret arrive; near-miss names do not. Then the
    same actor's logs are searched and its deletion cleans up."""
    t = tenant_api(api, "CONFIGS-RUN")
    actor = t.ok("POST", "/actors", json={"image": IMAGE})
    other = t.ok("POST", "/actors", json={"image": IMAGE})
    t.ok("POST", "/actors/aliases", json={"alias": "runner.alias", "actor_id": actor["id"]})
    t.ok("POST", "/actors/aliases", json={"alias": "runner.alias.longer", "actor_id": other["id"]})
    for name, value, secret, actors in [("BY_ID", "one", False, actor["id"]), ("BY_ALIAS", "two", False,
                                        "runner.alias"), ("SECRET", SECRET, True, actor["id"]),
                                        ("OTHER", "no", False, f"{other['id']},runner.alias.longer")]:
        t.ok("POST", "/actors/configs", json={"name": name, "value": value, "is_secret": secret, "actors": actors})
    sent = t.ok("POST", "/actors/runner.alias/messages?_abaco_test_sleep=0", data={"message": "findme-42"})
    execution = _wait(t, actor["id"], sent["execution_id"])
    assert execution["status"] == "COMPLETE", execution
    logs = t.ok("GET", f"/actors/{actor['id']}/executions/{sent['execution_id']}/logs")["logs"]
    match = re.search(r"^_actor_configs=(.*)$", logs, re.MULTILINE)
    assert match, logs
    assert ast.literal_eval(match.group(1)) == {"BY_ID": "one", "BY_ALIAS": "two", "SECRET": SECRET}
    found = t.ok("GET", "/actors/search/logs?logs.like=Contents of MSG: findme-42")
    assert [r["execution_id"] for r in found["search"]] == [sent["execution_id"]]
    assert found["search"][0]["_links"]["execution"].endswith(sent["execution_id"])
    scoped = t.ok("GET", f"/actors/{actor['id']}/executions/{sent['execution_id']}/logs?search=findme-42")
    assert scoped["_metadata"]["total_count"] == 1
    assert t.ok("GET", f"/actors/{actor['id']}/executions/{sent['execution_id']}/logs?search=absent-word"
                )["_metadata"]["total_count"] == 0
    done = t.ok("GET", "/actors/search/executions?status=COMPLETE&exit_code=0")
    assert [e["id"] for e in done["search"]] == [sent["execution_id"]]
    _delete_cleans_up(t, stack, actor["id"], sent["execution_id"])
    assert t.call("DELETE", f"/actors/{other['id']}").status_code == 200  # frees its worker's runner slot


def _delete_cleans_up(t: Any, stack: Stack, actor_id: str, execution_id: str) -> None:
    """DELETE answers at once; the cleanup duty on the runner then removes the inbox, the executions and
    the actor item (asynchronous deletion, in bounded passes), the runner the workers; logs keep their
    TTL (log_ex) and go with it."""
    prefix, dbid = stack.env["ABACO_RESOURCE_PREFIX"], f"CONFIGS-RUN_{actor_id}"
    ddb, sqs = _client(stack, "dynamodb"), _client(stack, "sqs")

    def items(table: str, key: str, value: str) -> list:
        return ddb.query(TableName=f"{prefix}-{table}", KeyConditionExpression="#k = :v",
                         ExpressionAttributeNames={"#k": key}, ExpressionAttributeValues={":v": {"S": value}})["Items"]

    inbox = resources.inbox_name(prefix, "CONFIGS-RUN", actor_id)
    assert sqs.get_queue_url(QueueName=inbox)["QueueUrl"]
    assert items("logs", "execution_key", f"{dbid}#{execution_id}")
    response = t.call("DELETE", f"/actors/{actor_id}")
    assert response.status_code == 200 and response.json()["message"].startswith("Actor deleted successfully")
    assert t.call("GET", f"/actors/{actor_id}").status_code == 404  # gone for the API at once
    wait_for(lambda: items("executions", "actor_dbid", dbid) == [], 60, what="the cleanup to remove the executions")
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=inbox)
    wait_for(lambda: items("workers", "actor_dbid", dbid) == [], 60, what="the runner to remove the workers")
    wait_for(lambda: items("actors", "tenant", "CONFIGS-RUN") and all(
        i["actor_id"]["S"] != actor_id for i in items("actors", "tenant", "CONFIGS-RUN")), 60,
        what="the cleanup to remove the actor")
    assert all("expires_at" in i for i in items("logs", "execution_key", f"{dbid}#{execution_id}"))


def _wait(t: Any, actor_id: str, execution_id: str) -> dict:
    def finished() -> dict | None:
        result = t.ok("GET", f"/actors/{actor_id}/executions/{execution_id}")
        return result if result["status"] in ("COMPLETE", "ERROR") else None

    return wait_for(finished, 90, what="execution to finish")


def _configs_seen(t: Any, actor_id: str) -> dict:
    sent = t.ok("POST", f"/actors/{actor_id}/messages?_abaco_test_sleep=0", data={"message": "configs?"})
    execution = _wait(t, actor_id, sent["execution_id"])
    assert execution["status"] == "COMPLETE", execution
    logs = t.ok("GET", f"/actors/{actor_id}/executions/{sent['execution_id']}/logs")["logs"]
    match = re.search(r"^_actor_configs=(.*)$", logs, re.MULTILINE)
    assert match, logs
    return ast.literal_eval(match.group(1))  # type: ignore[no-any-return]


def test_a_config_written_after_an_execution_reaches_the_next_one_on_the_same_worker(api: Api, stack: Stack) -> None:
    """An actor lists its bound configs on its item (chalicelib/adapters/storage/configs.py), so the runner
    reads bindings only when there are some, and its worker reuses its reading of the actor while messages
    name the same version (runners/host/actor_view.py). Binding a config moves the version: the next message
    sees it. A changed value and a deleted config reach the next execution as well."""
    t = tenant_api(api, "CONFIGS-LATE")
    actor = t.ok("POST", "/actors", json={"image": IMAGE})
    items = _client(stack, "dynamodb")
    key = {"tenant": {"S": "CONFIGS-LATE"}, "actor_id": {"S": actor["id"]}}
    table = f"{stack.env['ABACO_RESOURCE_PREFIX']}-actors"
    assert _configs_seen(t, actor["id"]) == {}
    assert "config_names" not in items.get_item(TableName=table, Key=key)["Item"]
    t.ok("POST", "/actors/configs", json={"name": "LATE", "value": "one", "is_secret": False, "actors": actor["id"]})
    assert items.get_item(TableName=table, Key=key)["Item"]["config_names"] == {"SS": ["LATE"]}
    assert _configs_seen(t, actor["id"]) == {"LATE": "one"}
    workers = t.ok("GET", f"/actors/{actor['id']}/workers")
    t.ok("PUT", "/actors/configs/LATE", json={"name": "LATE", "value": "two", "is_secret": False,
                                              "actors": actor["id"]})
    assert _configs_seen(t, actor["id"]) == {"LATE": "two"}
    t.ok("DELETE", "/actors/configs/LATE")
    assert "config_names" not in items.get_item(TableName=table, Key=key)["Item"]
    assert _configs_seen(t, actor["id"]) == {}
    assert [w["id"] for w in t.ok("GET", f"/actors/{actor['id']}/workers")] == [w["id"] for w in workers]
    assert t.call("DELETE", f"/actors/{actor['id']}").status_code == 200
