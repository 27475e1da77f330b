"""The permission table over HTTP (plan T19): owner, READ, EXECUTE, no grant and admin against every actor
route; list filtering; ABACO_WORLD; privileged fields (T20); no 5xx anywhere."""
from __future__ import annotations

import re
from typing import Any

import pytest

from chalicelib.domain.access import Level, Scope, required
from tests.integration.security.conftest import TENANT_A, Client

USERS = ("owner", "reader", "executor", "nobody", "admin")
# Who passes a route, by the level (or admin scope) it requires.
PASSES = {
    "READ": {"owner", "reader", "executor", "admin"},
    "EXECUTE": {"owner", "executor", "admin"},
    "UPDATE": {"owner", "admin"},
    "ADMIN": {"admin"},
}


@pytest.fixture(scope="module")
def world(client: Any) -> dict[str, Any]:
    """A stateful actor of ``owen`` with one finished execution, a worker and a nonce."""
    users = {"owner": client("owen"), "reader": client("rita"), "executor": client("eve"),
             "nobody": client("nora"), "admin": client("adam", role="admin")}
    owner = users["owner"]
    actor = owner.ok("POST", "/actors", json={"image": "abacosamples/test", "stateless": False})
    aid = actor["id"]
    owner.ok("POST", f"/actors/{aid}/permissions", json={"user": "rita", "level": "READ"})
    owner.ok("POST", f"/actors/{aid}/permissions", json={"user": "eve", "level": "EXECUTE"})
    sent = owner.ok("POST", f"/actors/{aid}/messages?_abaco_test_sleep=0", data={"message": "hi"})
    owner.wait_execution(aid, sent["execution_id"])
    worker = owner.ok("GET", f"/actors/{aid}/workers")[0]
    nonce = owner.ok("POST", f"/actors/{aid}/nonces", json={"level": "READ"})
    return {"users": users, "actor": aid, "execution": sent["execution_id"], "worker": worker["id"],
            "nonce": nonce["handle"]}


def _table(w: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    a, e = w["actor"], w["execution"]
    return [
        ("GET", f"/actors/{a}", "READ", {}),
        ("PUT", f"/actors/{a}", "UPDATE", {"json": {"image": "abacosamples/test", "stateless": False}}),
        ("GET", f"/actors/{a}/messages", "READ", {}),
        ("POST", f"/actors/{a}/messages?_abaco_test_sleep=0", "EXECUTE", {"data": {"message": "x"}}),
        ("GET", f"/actors/{a}/executions", "READ", {}),
        ("GET", f"/actors/{a}/executions/{e}", "READ", {}),
        ("GET", f"/actors/{a}/executions/{e}/logs", "READ", {}),
        ("GET", f"/actors/{a}/state", "READ", {}),
        ("POST", f"/actors/{a}/state", "UPDATE", {"json": {"count": 1}}),
        ("GET", f"/actors/{a}/workers", "READ", {}),
        ("POST", f"/actors/{a}/workers", "ADMIN", {"json": {"num": 1}}),
        ("GET", f"/actors/{a}/workers/{w['worker']}", "READ", {}),
        ("GET", f"/actors/{a}/permissions", "READ", {}),
        ("POST", f"/actors/{a}/permissions", "UPDATE", {"json": {"user": "zed", "level": "READ"}}),
        ("GET", f"/actors/{a}/nonces", "READ", {}),
        ("POST", f"/actors/{a}/nonces", "UPDATE", {"json": {"level": "READ", "max_uses": 1}}),
        ("GET", f"/actors/{a}/nonces/{w['nonce']}", "READ", {}),
    ]


def test_every_actor_route_against_the_permission_table(world: dict[str, Any]) -> None:
    mismatches = []
    for method, path, need, kwargs in _table(world):
        for user in USERS:
            response = world["users"][user].call(method, path, **kwargs)
            expected = 200 if user in PASSES[need] else 400
            if response.status_code != expected:
                mismatches.append(f"{user} {method} {path}: {response.status_code} (wanted {expected}) "
                                  f"{response.text[:120]}")
    assert mismatches == []


def test_destructive_routes_refuse_then_allow(world: dict[str, Any]) -> None:
    users = world["users"]
    owner = users["owner"]
    a = owner.ok("POST", "/actors", json={"image": "abacosamples/noop"})["id"]
    owner.ok("POST", f"/actors/{a}/permissions", json={"user": "rita", "level": "READ"})
    owner.ok("POST", f"/actors/{a}/permissions", json={"user": "eve", "level": "EXECUTE"})
    worker = owner.ok("GET", f"/actors/{a}/workers")[0]["id"]  # requested at registration
    for user in ("reader", "executor", "nobody"):
        nonce = owner.ok("POST", f"/actors/{a}/nonces", json={})["handle"]
        assert users[user].call("DELETE", f"/actors/{a}/nonces/{nonce}").status_code == 400
        assert owner.call("DELETE", f"/actors/{a}/nonces/{nonce}").status_code == 200
        assert users[user].call("DELETE", f"/actors/{a}/workers/{worker}").status_code == 400
        assert users[user].call("DELETE", f"/actors/{a}").status_code == 400
    assert owner.call("DELETE", f"/actors/{a}/workers/{worker}").status_code == 400  # admins only
    assert users["admin"].call("DELETE", f"/actors/{a}/workers/{worker}").status_code == 200
    other = owner.ok("POST", "/actors", json={"image": "abacosamples/noop"})["id"]
    assert users["admin"].call("DELETE", f"/actors/{other}").status_code == 200
    assert owner.call("DELETE", f"/actors/{a}").status_code == 200
    assert owner.call("GET", f"/actors/{a}").status_code == 404
    assert owner.call("GET", f"/actors/{a}/permissions").status_code == 404


def test_every_registered_actor_route_refuses_callers_below_its_level(world: dict[str, Any]) -> None:
    """Routes added later are covered too: whatever they do, callers without the level get a 400 first."""
    import app  # noqa: F401
    from chalicelib.edge import http

    ids = {"actor_id": world["actor"], "execution_id": world["execution"], "worker_id": world["worker"],
           "nonce_id": world["nonce"]}
    levels = {"reader": Level.READ, "executor": Level.EXECUTE, "nobody": Level.NONE}
    checked = 0
    for path, verb, view in http.REGISTERED:
        scope, level = required(view)
        if scope not in (Scope.ACTOR, Scope.ACTOR_ADMIN) or world["actor"] is None:
            continue
        url = re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), "x"), path)
        for user, held in levels.items():
            if held >= level and scope is Scope.ACTOR:
                continue
            response = world["users"][user].call(verb, url, json={})
            assert response.status_code == 400, f"{user} {verb} {path}: {response.status_code} {response.text}"
            checked += 1
    assert checked > 20


def test_lists_show_only_readable_actors_and_world_grants_open_them(client: Any) -> None:
    pam, quinn = client("pam"), client("quinn")
    actor = pam.ok("POST", "/actors", json={"image": "abacosamples/noop"})["id"]
    assert actor in [a["id"] for a in pam.ok("GET", "/actors")]
    assert actor not in [a["id"] for a in quinn.ok("GET", "/actors")]
    assert quinn.call("GET", f"/actors/{actor}").status_code == 400
    assert actor in [a["id"] for a in client("root", role="admin").ok("GET", "/actors")]
    pam.ok("POST", f"/actors/{actor}/permissions", json={"user": "ABACO_WORLD", "level": "READ"})
    assert actor in [a["id"] for a in quinn.ok("GET", "/actors")]
    assert quinn.ok("GET", f"/actors/{actor}")["id"] == actor
    assert quinn.call("POST", f"/actors/{actor}/messages", data={"message": "x"}).status_code == 400


def test_permission_grants_are_validated_and_the_owner_keeps_update(client: Any) -> None:
    pam = client("pam")
    actor = pam.ok("POST", "/actors", json={"image": "abacosamples/noop"})["id"]
    for body in [{"user": "x"}, {"level": "READ"}, {"user": "x", "level": "WRITE"}, {"user": "a#b", "level": "READ"},
                 {"user": "pam", "level": "READ"}]:
        response = pam.call("POST", f"/actors/{actor}/permissions", json=body)
        assert response.status_code == 400, body
    result = pam.ok("POST", f"/actors/{actor}/permissions", json={"user": "sam", "level": "EXECUTE"})
    assert result == {"pam": "UPDATE", "sam": "EXECUTE"}
    result = pam.ok("POST", f"/actors/{actor}/permissions", json={"user": "sam", "level": "NONE"})
    assert result["sam"] == "NONE"


@pytest.mark.parametrize("fields", [{"privileged": True}, {"max_workers": 2}, {"mem_limit": "1g"},
                                    {"max_cpus": 1_000_000_000}, {"use_container_uid": "true"}, {"privileged": 1}])
def test_privileged_fields_need_the_privileged_role(client: Any, fields: dict[str, Any]) -> None:
    user: Client = client("uma")
    before = len(user.ok("GET", "/actors"))
    response = user.call("POST", "/actors", json={"image": "abacosamples/noop", **fields})
    assert response.status_code == 400 and "privileged" in response.json()["message"]
    assert len(user.ok("GET", "/actors")) == before
    actor = user.ok("POST", "/actors", json={"image": "abacosamples/noop"})["id"]
    response = user.call("PUT", f"/actors/{actor}", json={"image": "abacosamples/noop", **fields})
    assert response.status_code == 400
    assert user.ok("GET", f"/actors/{actor}")["max_workers"] is None


def test_privileged_and_admin_roles_may_set_them_but_message_bodies_are_never_checked(client: Any) -> None:
    priv = client("pete", role="privileged")
    actor = priv.ok("POST", "/actors", json={"image": "abacosamples/noop", "max_workers": 2, "mem_limit": "256m"})
    assert (actor["max_workers"], actor["mem_limit"]) == (2, "256m")
    priv.ok("POST", f"/actors/{actor['id']}/permissions", json={"user": "uma", "level": "EXECUTE"})
    uma = client("uma")
    # Abaco refused a message whose JSON happened to have a "privileged" key; a message is not an actor.
    assert uma.call("POST", f"/actors/{actor['id']}/messages", json={"privileged": True, "max_workers": 9}
                    ).status_code == 200


def test_a_limited_user_has_the_rights_of_a_user(client: Any) -> None:
    limited = client("lou", role="limited")
    actor = limited.ok("POST", "/actors", json={"image": "abacosamples/noop"})
    assert actor["owner"] == "lou"
    assert limited.call("POST", "/actors/x/workers", json={"num": 1}).status_code in (400, 404)


def test_admin_routes_stay_in_the_admins_tenant(client: Any) -> None:
    actor = client("owen").ok("POST", "/actors", json={"image": "abacosamples/noop"})["id"]
    other_admin = client("ada", tenant="TENANT-B", role="admin")
    assert other_admin.call("GET", f"/actors/{actor}").status_code == 404
    assert other_admin.call("POST", f"/actors/{actor}/workers", json={"num": 1}).status_code == 404
    assert client("adam", tenant=TENANT_A, role="admin").call("GET", f"/actors/{actor}").status_code == 200
