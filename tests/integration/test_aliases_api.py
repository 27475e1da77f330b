"""Aliases over HTTP (reference §1.10): usable wherever an actor id is; Abaco's naming rules; unique."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.services.aliases import FORBIDDEN_CHARS, RESERVED_WORDS
from tests.conftest import Api
from tests.integration.conftest import error, tenant_api

IMAGE = "abacosamples/test"


def test_create_read_list_repoint_delete(api_only: Api) -> None:
    api = tenant_api(api_only, "ALIASES-CRUD")
    first = api.ok("POST", "/actors", json={"image": IMAGE})
    second = api.ok("POST", "/actors", json={"image": IMAGE})
    alias = api.ok("POST", "/actors/aliases", json={"alias": "dots.in.my.name.alias", "actor_id": first["id"]})
    assert alias["alias"] == "dots.in.my.name.alias" and alias["actor_id"] == first["id"]
    assert alias["owner"] == "anonymous" and set(alias["_links"]) == {"self", "owner", "actor"}
    assert alias["_links"]["actor"].endswith(f"/actors/{first['id']}")
    assert api.ok("GET", "/actors/aliases/dots.in.my.name.alias") == alias
    assert [a["alias"] for a in api.ok("GET", "/actors/aliases")] == ["dots.in.my.name.alias"]
    moved = api.ok("PUT", "/actors/aliases/dots.in.my.name.alias", data={"actor_id": second["id"]})
    assert moved["actor_id"] == second["id"]
    assert api.ok("GET", "/actors/dots.in.my.name.alias")["id"] == second["id"]
    response = api.call("DELETE", "/actors/aliases/dots.in.my.name.alias")
    assert response.status_code == 200 and "deleted successfully" in response.json()["message"]
    assert "No alias found" in error(api.call("GET", "/actors/aliases/dots.in.my.name.alias"), 404)
    error(api.call("GET", "/actors/dots.in.my.name.alias"), 404)
    assert api.ok("GET", "/actors/aliases") == []


def test_an_alias_works_wherever_an_actor_id_does(api_only: Api) -> None:
    api = tenant_api(api_only, "ALIASES-EVERYWHERE")
    actor = api.ok("POST", "/actors", json={"image": IMAGE, "stateless": False})
    api.ok("POST", "/actors/aliases", json={"alias": "worker-bee", "actor_id": actor["id"]})
    path = "/actors/worker-bee"
    assert api.ok("GET", path)["id"] == actor["id"]
    sent = api.ok("POST", f"{path}/messages", json={"message": "via alias"})
    assert api.ok("GET", f"{path}/messages")["messages"] == 1
    assert api.ok("GET", f"{path}/executions")["ids"] == [sent["execution_id"]]
    assert api.ok("GET", f"{path}/executions/{sent['execution_id']}")["id"] == sent["execution_id"]
    assert api.ok("GET", f"{path}/executions/{sent['execution_id']}/logs")["logs"] == ""
    workers = api.ok("GET", f"{path}/workers")
    assert api.ok("GET", f"{path}/workers/{workers[0]['id']}")["id"] == workers[0]["id"]
    assert api.ok("POST", f"{path}/state", json={"n": 1})["state"] == {"n": 1}
    assert api.ok("GET", f"{path}/state") == {"state": {"n": 1}}
    assert api.ok("PUT", path, json={"image": IMAGE, "stateless": False, "description": "d"})["description"] == "d"
    assert api.ok("GET", f"{path}/executions?status=SUBMITTED")["_metadata"]["total_count"] == 1
    assert api.call("DELETE", path).status_code == 200
    error(api.call("GET", f"/actors/{actor['id']}"), 404)
    error(api.call("GET", path), 404)  # the alias remains but names nothing (as in Abaco)


@pytest.mark.parametrize("name", list(RESERVED_WORDS))
def test_reserved_words_are_refused(api_only: Api, name: str) -> None:
    api = tenant_api(api_only, "ALIASES-RESERVED")
    actor = api.ok("POST", "/actors", json={"image": IMAGE})
    assert "reserved word" in error(api.call("POST", "/actors/aliases", json={"alias": name,
                                                                              "actor_id": actor["id"]}), 400)
    assert api.ok("GET", "/actors/aliases") == []


@pytest.mark.parametrize("char", list(FORBIDDEN_CHARS))
def test_forbidden_characters_are_refused(api_only: Api, char: str) -> None:
    api = tenant_api(api_only, "ALIASES-CHARS")
    actors = api.ok("GET", "/actors") or [api.ok("POST", "/actors", json={"image": IMAGE})]
    message = error(api.call("POST", "/actors/aliases", json={"alias": f"bad{char}name",
                                                              "actor_id": actors[0]["id"]}), 400)
    assert "forbidden character" in message
    assert api.ok("GET", "/actors/aliases") == []


@pytest.mark.parametrize("body, status, expected", [
    ({"actor_id": "x"}, 400, "Missing required field: alias"),
    ({"alias": "no-target"}, 400, "Missing required field: actor_id"),
    ({"alias": "ghost", "actor_id": "JWpkNmBwKewYo"}, 404, "No actor found with id"),
    ({"alias": "x" * 129, "actor_id": "x"}, 400, "at most 128"),
    ({"alias": "tab\there", "actor_id": "x"}, 400, "printable"),
])
def test_bad_alias_bodies(api_only: Api, body: dict, status: int, expected: str) -> None:
    api = tenant_api(api_only, "ALIASES-BAD")
    assert expected in error(api.call("POST", "/actors/aliases", json=body), status)
    assert api.ok("GET", "/actors/aliases") == []


def test_an_alias_may_not_be_a_hashid(api_only: Api) -> None:
    api = tenant_api(api_only, "ALIASES-HASHID")
    actor = api.ok("POST", "/actors", json={"image": IMAGE})
    other = api.ok("POST", "/actors", json={"image": IMAGE})
    message = error(api.call("POST", "/actors/aliases", json={"alias": other["id"], "actor_id": actor["id"]}), 400)
    assert "Alias cannot be an Abaco hash id" in message


def test_unique_per_tenant_even_under_concurrent_creation(api_only: Api) -> None:
    api = tenant_api(api_only, "ALIASES-UNIQUE")
    actor = api.ok("POST", "/actors", json={"image": IMAGE})
    body = {"alias": "only-one", "actor_id": actor["id"]}
    with ThreadPoolExecutor(8) as pool:
        codes = sorted(r.status_code for r in pool.map(lambda _: api.call("POST", "/actors/aliases", json=body),
                                                       range(8)))
    assert codes == [200] + [400] * 7
    assert "Alias only-one already exists." in error(api.call("POST", "/actors/aliases", json=body), 400)
    other_tenant = tenant_api(api_only, "ALIASES-UNIQUE-2")
    theirs = other_tenant.ok("POST", "/actors", json={"image": IMAGE})
    assert other_tenant.ok("POST", "/actors/aliases", json={"alias": "only-one", "actor_id": theirs["id"]})
    assert api.ok("GET", "/actors/only-one")["id"] == actor["id"]
    assert other_tenant.ok("GET", "/actors/only-one")["id"] == theirs["id"]


def test_an_alias_cannot_point_into_another_tenant(api_only: Api) -> None:
    mine = tenant_api(api_only, "ALIASES-TENANT-A")
    theirs = tenant_api(api_only, "ALIASES-TENANT-B")
    foreign = theirs.ok("POST", "/actors", json={"image": IMAGE})
    assert "No actor found" in error(mine.call("POST", "/actors/aliases",
                                               json={"alias": "stolen", "actor_id": foreign["id"]}), 404)
    error(mine.call("GET", f"/actors/{foreign['id']}"), 404)


def test_put_cannot_rename_and_needs_an_existing_actor(api_only: Api) -> None:
    api = tenant_api(api_only, "ALIASES-PUT")
    actor = api.ok("POST", "/actors", json={"image": IMAGE})
    alias = api.ok("POST", "/actors/aliases", json={"alias": "fixed-name", "actor_id": actor["id"]})
    assert "cannot be updated" in error(api.call("PUT", "/actors/aliases/fixed-name",
                                                 json={"alias": "new-name", "actor_id": actor["id"]}), 400)
    assert "No actor found" in error(api.call("PUT", "/actors/aliases/fixed-name",
                                              json={"actor_id": "JWpkNmBwKewYo"}), 404)
    assert "No alias found" in error(api.call("PUT", "/actors/aliases/nope", json={"actor_id": actor["id"]}), 404)
    error(api.call("DELETE", "/actors/aliases/nope"), 404)
    assert api.ok("GET", "/actors/aliases/fixed-name") == alias
    assert api.ok("PUT", "/actors/aliases/fixed-name", json={"alias": "fixed-name", "actorId": actor["id"]})
