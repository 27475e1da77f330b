"""Nonces over HTTP (reference §1.9, plan T21): levels, uses, the race, entropy, masking, leaks."""
from __future__ import annotations

import concurrent.futures
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from local.launcher import Stack
from tests.integration.security.conftest import TENANT_A, TENANT_B

SECRET = re.compile(r"^TENANT-A_[0-9a-f]{64}$")


@pytest.fixture(scope="module")
def owned(client: Any) -> dict[str, Any]:
    owner = client("nico")
    actor = owner.ok("POST", "/actors", json={"image": "abacosamples/test"})["id"]
    other = owner.ok("POST", "/actors", json={"image": "abacosamples/noop"})["id"]
    return {"owner": owner, "actor": actor, "other": other}


def _anonymous(stack: Stack, method: str, path: str, nonce: str, **kwargs: Any) -> requests.Response:
    sep = "&" if "?" in path else "?"
    return requests.request(method, f"{stack.api_url}{path}{sep}x-nonce={nonce}", timeout=30, **kwargs)


def test_a_nonce_has_256_random_bits_and_its_owner_lists_it(owned: dict[str, Any]) -> None:
    owner, actor = owned["owner"], owned["actor"]
    created = owner.ok("POST", f"/actors/{actor}/nonces", json={"level": "READ", "maxUses": 5, "description": "d"})
    assert SECRET.match(created["id"]), created["id"]
    assert (created["level"], created["max_uses"], created["remaining_uses"], created["current_uses"]) == \
        ("READ", 5, 5, 0)
    assert created["owner"] == "nico" and created["actor_id"] == actor
    listed = owner.ok("GET", f"/actors/{actor}/nonces")  # Abaco clients find the id to redeem by listing
    assert created["id"] in [n["id"] for n in listed]
    detail = owner.ok("GET", f"/actors/{actor}/nonces/{created['handle']}")
    assert detail["id"] == created["id"] and detail["description"] == "d"
    secrets = {owner.ok("POST", f"/actors/{actor}/nonces", json={})["id"] for _ in range(20)}
    assert len(secrets) == 20


def test_levels_and_uses_are_enforced(jwt_stack: Stack, owned: dict[str, Any]) -> None:
    owner, actor = owned["owner"], owned["actor"]
    nonce = owner.ok("POST", f"/actors/{actor}/nonces", json={"level": "READ", "max_uses": 3})
    for _ in range(3):
        response = _anonymous(jwt_stack, "GET", f"/actors/{actor}", nonce["id"])
        assert response.status_code == 200 and response.json()["result"]["id"] == actor
    fourth = _anonymous(jwt_stack, "GET", f"/actors/{actor}", nonce["id"])
    assert fourth.status_code == 400 and "No remaining uses" in fourth.json()["message"]
    state = owner.ok("GET", f"/actors/{actor}/nonces/{nonce['handle']}")
    assert (state["current_uses"], state["remaining_uses"]) == (3, 0)
    reader = owner.ok("POST", f"/actors/{actor}/nonces", json={"level": "READ"})["id"]
    assert _anonymous(jwt_stack, "POST", f"/actors/{actor}/messages", reader, data={"message": "x"}
                      ).status_code == 400
    assert _anonymous(jwt_stack, "DELETE", f"/actors/{actor}", reader).status_code == 400


def test_a_nonce_opens_only_its_own_actor_and_no_collection(jwt_stack: Stack, owned: dict[str, Any],
                                                            client: Any) -> None:
    owner, actor, other = owned["owner"], owned["actor"], owned["other"]
    nonce = owner.ok("POST", f"/actors/{actor}/nonces", json={"level": "UPDATE"})
    assert _anonymous(jwt_stack, "GET", f"/actors/{other}", nonce["id"]).status_code == 401
    assert _anonymous(jwt_stack, "GET", "/actors", nonce["id"]).status_code == 401
    assert _anonymous(jwt_stack, "POST", "/actors", nonce["id"], json={"image": "x"}).status_code == 401
    # nonces cannot mint nonces or grant permissions, even at UPDATE
    assert _anonymous(jwt_stack, "POST", f"/actors/{actor}/nonces", nonce["id"], json={}).status_code == 400
    assert _anonymous(jwt_stack, "POST", f"/actors/{actor}/permissions", nonce["id"],
                      json={"user": "x", "level": "READ"}).status_code == 400
    forged = "TENANT-A_" + "0" * 64
    assert _anonymous(jwt_stack, "GET", f"/actors/{actor}", forged).status_code == 401
    assert _anonymous(jwt_stack, "GET", f"/actors/{actor}", nonce["handle"]).status_code == 401
    # another tenant's name in the secret finds nothing, and does not reveal whether an id exists
    assert _anonymous(jwt_stack, "GET", f"/actors/{actor}", "TENANT-B" + nonce["id"][8:]).status_code == 401
    owner.ok("DELETE", f"/actors/{actor}/nonces/{nonce['handle']}")
    assert _anonymous(jwt_stack, "GET", f"/actors/{actor}", nonce["id"]).status_code == 401
    assert client("intruder", TENANT_B).call("GET", f"/actors/{actor}/nonces").status_code == 404


def test_a_readers_listing_yields_no_usable_nonce(jwt_stack: Stack, owned: dict[str, Any], client: Any) -> None:
    owner, actor = owned["owner"], owned["actor"]
    owner.ok("POST", f"/actors/{actor}/permissions", json={"user": "reed", "level": "READ"})
    owner.ok("POST", f"/actors/{actor}/nonces", json={"level": "UPDATE"})
    for listed in client("reed").ok("GET", f"/actors/{actor}/nonces"):
        assert _anonymous(jwt_stack, "GET", f"/actors/{actor}", listed["id"]).status_code == 401


def test_revoking_the_creator_revokes_the_nonce(jwt_stack: Stack, owned: dict[str, Any], client: Any) -> None:
    owner, actor = owned["owner"], owned["actor"]
    owner.ok("POST", f"/actors/{actor}/permissions", json={"user": "tess", "level": "UPDATE"})
    nonce = client("tess").ok("POST", f"/actors/{actor}/nonces", json={"level": "READ"})["id"]
    assert _anonymous(jwt_stack, "GET", f"/actors/{actor}", nonce).status_code == 200
    owner.ok("POST", f"/actors/{actor}/permissions", json={"user": "tess", "level": "NONE"})
    assert _anonymous(jwt_stack, "GET", f"/actors/{actor}", nonce).status_code == 400


@pytest.mark.parametrize("round_", range(3))
def test_fifty_concurrent_uses_of_a_ten_use_nonce_succeed_exactly_ten_times(jwt_stack: Stack,
                                                                            owned: dict[str, Any],
                                                                            round_: int) -> None:
    owner, actor = owned["owner"], owned["actor"]
    nonce = owner.ok("POST", f"/actors/{actor}/nonces", json={"level": "READ", "max_uses": 10})

    def use(_: int) -> int:
        return _anonymous(jwt_stack, "GET", f"/actors/{actor}/state", nonce["id"]).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=25) as pool:
        codes = list(pool.map(use, range(50)))
    assert codes.count(200) == 10, codes
    assert codes.count(400) == 40, codes
    state = owner.ok("GET", f"/actors/{actor}/nonces/{nonce['handle']}")
    assert (state["current_uses"], state["remaining_uses"]) == (10, 0)


def test_a_nonce_message_runs_as_the_creator_and_never_reaches_env_logs_or_tables(
        jwt_stack: Stack, owned: dict[str, Any]) -> None:
    owner, actor = owned["owner"], owned["actor"]
    nonce = owner.ok("POST", f"/actors/{actor}/nonces", json={"level": "EXECUTE", "max_uses": 1})["id"]
    response = _anonymous(jwt_stack, "POST", f"/actors/{actor}/messages?_abaco_test_sleep=0", nonce,
                          data={"message": "via nonce"})
    assert response.status_code == 200, response.text
    execution_id = response.json()["result"]["execution_id"]
    execution = owner.wait_execution(actor, execution_id)
    assert execution["status"] == "COMPLETE" and execution["executor"] == "nico"
    logs = owner.ok("GET", f"/actors/{actor}/executions/{execution_id}/logs")["logs"]
    assert "_abaco_username=nico" in logs and "Contents of MSG: via nonce" in logs
    assert nonce not in logs and "x-nonce" not in logs
    for log in Path(jwt_stack.log_dir).glob("*.log"):
        assert nonce not in log.read_text(errors="replace"), log
    assert nonce not in _dump_tables(jwt_stack)


def _dump_tables(stack: Stack) -> str:
    ddb = boto3.client("dynamodb", endpoint_url=stack.env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    prefix = stack.env["ABACO_RESOURCE_PREFIX"]
    dump = []
    for name in ddb.list_tables()["TableNames"]:
        if name.startswith(prefix):
            for page in ddb.get_paginator("scan").paginate(TableName=name):
                dump.append(str(page["Items"]))
    return "\n".join(dump)


def test_tenant_a_nonce_secret_names_tenant_a(owned: dict[str, Any]) -> None:
    created = owned["owner"].ok("POST", f"/actors/{owned['actor']}/nonces", json={})
    assert created["id"].startswith(f"{TENANT_A}_")
