"""Tenant isolation over every registered route (plan T18): another tenant's ids are 404s everywhere, and
no list, search or count includes another tenant's objects. Routes added later are swept automatically."""
from __future__ import annotations

import re
import secrets
from typing import Any

import pytest

from chalicelib.edge.http import PREFIXES
from tests.integration.security.conftest import Client

A, B = "MATRIX-A", "MATRIX-B"
OBJECT_PARAMETERS = {"actor_id", "execution_id", "worker_id", "nonce_id", "alias", "config_name"}
BODY = {"image": "abacosamples/noop", "message": "hello", "num": 1, "user": "bob", "level": "READ",
        "value": "v", "is_secret": False, "actors": "nothing-here", "name": "b-config", "alias": "b-alias"}


@pytest.fixture(scope="module")
def tenant_a(client: Any) -> dict[str, str]:
    """Objects of every kind in tenant A: actor, execution (with logs), worker, alias, nonce, configs."""
    alice: Client = client("alice", A)
    actor = alice.ok("POST", "/actors", json={"image": "abacosamples/test"})["id"]
    sent = alice.ok("POST", f"/actors/{actor}/messages?_abaco_test_sleep=0", data={"message": "tenant A"})
    alice.wait_execution(actor, sent["execution_id"])
    alias = f"matrix-alias-{secrets.token_hex(4)}"
    alice.ok("POST", "/actors/aliases", json={"alias": alias, "actor_id": actor})
    config = f"matrix-config-{secrets.token_hex(4)}"
    alice.ok("POST", "/actors/configs", json={"name": config, "value": "a-value", "is_secret": False,
                                               "actors": actor})
    nonce = alice.ok("POST", f"/actors/{actor}/nonces", json={"level": "READ"})
    worker = alice.ok("GET", f"/actors/{actor}/workers")[0]["id"]
    return {"actor_id": actor, "execution_id": sent["execution_id"], "worker_id": worker, "alias": alias,
            "config_name": config, "nonce_id": nonce["handle"]}


def _routes() -> list[tuple[str, str]]:
    import app  # noqa: F401  (registers every blueprint)
    from chalicelib.edge import http

    return [(prefix + path, verb) for path, verb, _ in http.REGISTERED for prefix in PREFIXES]


def _fill(path: str, ids: dict[str, str], actor_as_alias: bool = False) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "actor_id" and actor_as_alias:
            return ids["alias"]
        if name == "search_type":
            return "actors"
        return ids.get(name, "x")

    return re.sub(r"\{(\w+)\}", value, path)


def test_every_route_answers_404_for_another_tenants_objects(client: Any, tenant_a: dict[str, str]) -> None:
    callers = [client("bob", B), client("bea", B, role="admin")]
    failures, checked = [], 0
    for path, verb in _routes():
        params = set(re.findall(r"\{(\w+)\}", path))
        if not params & OBJECT_PARAMETERS or "/dashboard/" in path:
            continue  # a dashboard address serves the same static page for any id; its data calls are checked here
        variants = [False, True] if "actor_id" in params else [False]
        for as_alias in variants:
            url = _fill(path, tenant_a, as_alias)
            for caller in callers:
                response = caller.call(verb, url, json=BODY)
                checked += 1
                if response.status_code != 404:
                    failures.append(f"{caller.user} {verb} {url}: {response.status_code} {response.text[:100]}")
    assert failures == []
    assert checked >= 150, checked


def test_no_list_search_or_count_shows_another_tenants_objects(client: Any, tenant_a: dict[str, str]) -> None:
    bea = client("bea", B, role="admin")
    bea.ok("POST", "/actors", json={"image": "abacosamples/noop"})  # B is not empty
    leaks, checked = [], 0
    for path, verb in _routes():
        params = set(re.findall(r"\{(\w+)\}", path))
        if params & OBJECT_PARAMETERS:
            continue
        for search_type in (["actors", "workers", "executions", "logs"] if "search_type" in params else [""]):
            url = path.replace("{search_type}", search_type)
            for caller in (bea, client("bob", B)):
                response = caller.call(verb, url, json=BODY)
                checked += 1
                assert response.status_code < 500, f"{verb} {url}: {response.status_code}"
                found = [name for name, value in tenant_a.items() if value in response.text]
                if found:
                    leaks.append(f"{caller.user} {verb} {url}: shows A's {found}")
    assert leaks == []
    assert checked >= 20, checked
    utilization = bea.ok("GET", "/actors/utilization")
    assert utilization["currentActors"] == len(bea.ok("GET", "/actors"))


def test_another_tenants_actor_cannot_be_named_in_a_body(client: Any, tenant_a: dict[str, str]) -> None:
    bob = client("bob", B)
    assert bob.call("POST", "/actors/aliases", json={"alias": "b-points-at-a", "actor_id": tenant_a["actor_id"]}
                    ).status_code == 404
    assert bob.call("POST", "/actors/configs", json={"name": "b-steals", "value": "x", "is_secret": True,
                                                     "actors": tenant_a["actor_id"]}).status_code == 404
    assert bob.call("POST", "/actors", json={"image": "abacosamples/noop", "link": tenant_a["actor_id"]}
                    ).status_code == 400
    # the same names are free in B: tenants are separate namespaces
    own = bob.ok("POST", "/actors", json={"image": "abacosamples/noop"})["id"]
    assert bob.ok("POST", "/actors/aliases", json={"alias": tenant_a["alias"], "actor_id": own})["actor_id"] == own
    assert client("alice", A).ok("GET", f"/actors/aliases/{tenant_a['alias']}")["actor_id"] == tenant_a["actor_id"]
