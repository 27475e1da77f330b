"""Permissions of aliases and configs, and alias nonces, over HTTP (reference §1.8-1.11, rows 28-40)."""
from __future__ import annotations

import secrets
from typing import Any

import pytest
import requests

from local.launcher import Stack


@pytest.fixture(scope="module")
def aliased(client: Any) -> dict[str, Any]:
    olive = client("olive")
    actor = olive.ok("POST", "/actors", json={"image": "abacosamples/test"})["id"]
    alias = f"olive-{secrets.token_hex(4)}"
    olive.ok("POST", "/actors/aliases", json={"alias": alias, "actor_id": actor})
    return {"owner": olive, "actor": actor, "alias": alias}


def test_alias_permissions_are_their_own_and_do_not_open_the_actor(aliased: dict[str, Any], client: Any) -> None:
    owner, alias, actor = aliased["owner"], aliased["alias"], aliased["actor"]
    assert owner.ok("GET", f"/actors/aliases/{alias}/permissions") == {"olive": "UPDATE"}
    victor = client("victor")
    assert victor.call("GET", f"/actors/aliases/{alias}").status_code == 400
    assert alias not in [a["alias"] for a in victor.ok("GET", "/actors/aliases")]
    owner.ok("POST", f"/actors/aliases/{alias}/permissions", json={"user": "victor", "level": "READ"})
    assert victor.ok("GET", f"/actors/aliases/{alias}")["actor_id"] == actor
    assert alias in [a["alias"] for a in victor.ok("GET", "/actors/aliases")]
    assert victor.call("GET", f"/actors/{alias}").status_code == 400  # the actor's own grants decide
    assert victor.call("DELETE", f"/actors/aliases/{alias}").status_code == 400


def test_a_page_shows_only_what_the_caller_may_read(aliased: dict[str, Any], client: Any) -> None:
    """The paged forms of the lists filter by the caller's grants as the whole lists do; a nonce's secret
    stays hidden from a reader on every page."""
    owner, alias, actor = aliased["owner"], aliased["alias"], aliased["actor"]
    walter = client("walter")
    mine = f"w-{secrets.token_hex(3)}"
    own = walter.ok("POST", "/actors", json={"image": "abacosamples/noop"})["id"]
    walter.ok("POST", "/actors/aliases", json={"alias": mine, "actor_id": own})
    page = walter.ok("GET", "/actors/aliases?limit=1000")
    assert [a["alias"] for a in page["search"]] == [mine] and page["_metadata"]["next_cursor"] is None
    assert walter.ok("GET", f"/actors/aliases?alias={alias}")["search"] == []  # not even when asked by name
    owner.ok("POST", f"/actors/{actor}/nonces", json={"level": "READ"})
    owner.ok("POST", f"/actors/{actor}/permissions", json={"user": "walter", "level": "READ"})
    nonces = walter.ok("GET", f"/actors/{actor}/nonces?limit=50")["search"]
    assert nonces and all(n["id"] is None for n in nonces)  # READ: ids hidden on the page too
    assert all(n["id"] for n in owner.ok("GET", f"/actors/{actor}/nonces?limit=50")["search"])
    grants = walter.ok("GET", f"/actors/{actor}/permissions?limit=10")["search"]
    assert {"user": "walter", "level": "READ"} in grants


def test_an_alias_needs_update_on_its_actor(aliased: dict[str, Any], client: Any) -> None:
    victor = client("victor")
    response = victor.call("POST", "/actors/aliases", json={"alias": f"v-{secrets.token_hex(3)}",
                                                            "actor_id": aliased["actor"]})
    assert response.status_code == 400
    own = victor.ok("POST", "/actors", json={"image": "abacosamples/noop"})["id"]
    name = f"v-{secrets.token_hex(3)}"
    victor.ok("POST", "/actors/aliases", json={"alias": name, "actor_id": own})
    assert victor.call("PUT", f"/actors/aliases/{name}", json={"actor_id": aliased["actor"]}).status_code == 400
    victor.ok("DELETE", f"/actors/aliases/{name}")
    assert victor.call("GET", f"/actors/aliases/{name}/permissions").status_code == 404


def _anonymous(stack: Stack, method: str, path: str, nonce: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, f"{stack.api_url}{path}?x-nonce={nonce}", timeout=30, **kwargs)


def test_alias_nonces_work_through_the_alias_only(jwt_stack: Stack, aliased: dict[str, Any]) -> None:
    owner, alias, actor = aliased["owner"], aliased["alias"], aliased["actor"]
    assert owner.call("POST", f"/actors/aliases/{alias}/nonces", json={"level": "UPDATE"}).status_code == 400
    nonce = owner.ok("POST", f"/actors/aliases/{alias}/nonces", json={"level": "READ", "max_uses": 5})
    assert nonce["alias"] == alias and nonce["actor_id"] == actor
    assert _anonymous(jwt_stack, "GET", f"/actors/{alias}", nonce["id"]).status_code == 200
    assert _anonymous(jwt_stack, "GET", f"/actors/{actor}", nonce["id"]).status_code == 401
    actor_nonce = owner.ok("POST", f"/actors/{actor}/nonces", json={"level": "READ"})["id"]
    assert _anonymous(jwt_stack, "GET", f"/actors/{alias}", actor_nonce).status_code == 401
    listed = owner.ok("GET", f"/actors/aliases/{alias}/nonces")
    assert [n["id"] for n in listed] == [nonce["id"]]  # the owner manages the alias and its actor
    assert owner.ok("GET", f"/actors/aliases/{alias}/nonces/{nonce['handle']}")["current_uses"] == 1
    owner.ok("DELETE", f"/actors/aliases/{alias}/nonces/{nonce['handle']}")
    assert _anonymous(jwt_stack, "GET", f"/actors/{alias}", nonce["id"]).status_code == 401


def test_configs_need_update_on_their_actors_and_have_their_own_permissions(aliased: dict[str, Any],
                                                                            client: Any) -> None:
    owner, actor = aliased["owner"], aliased["actor"]
    victor = client("victor")
    name = f"cfg-{secrets.token_hex(3)}"
    body = {"name": name, "value": "v", "is_secret": False, "actors": actor}
    assert victor.call("POST", "/actors/configs", json=body).status_code == 400  # Abaco allowed this
    owner.ok("POST", "/actors/configs", json=body)
    assert owner.ok("GET", f"/actors/configs/{name}/permissions") == {"olive": "UPDATE"}
    assert victor.call("GET", f"/actors/configs/{name}").status_code == 400
    assert name not in [c["name"] for c in victor.ok("GET", "/actors/configs")]
    owner.ok("POST", f"/actors/configs/{name}/permissions", json={"user": "victor", "level": "READ"})
    assert victor.ok("GET", f"/actors/configs/{name}")["name"] == name
    assert victor.call("PUT", f"/actors/configs/{name}", json=body).status_code == 400
    owner.ok("DELETE", f"/actors/configs/{name}")
    assert owner.call("GET", f"/actors/configs/{name}/permissions").status_code == 404
