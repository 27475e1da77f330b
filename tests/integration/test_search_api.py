"""Search over HTTP (reference §1.12): the search routes and the query-parameter forms of the collections.

The API-only stack has no runner: workers stay REQUESTED and executions SUBMITTED, which is enough to
search them; a search over real logs runs in test_configs_api.
"""
from __future__ import annotations

import time
from typing import Any

import pytest

from tests.conftest import Api
from tests.integration.conftest import error, tenant_api

TENANT = "SEARCH-TENANT"


@pytest.fixture(scope="module")
def world(api_only: Api) -> dict[str, Any]:
    api = tenant_api(api_only, TENANT)
    alpha = api.ok("POST", "/actors", json={"image": "abacosamples/test", "name": "alpha one", "hints": ["sync"],
                                            "description": "the first", "default_environment": {"LEVEL": 1}})
    time.sleep(0.01)  # distinct create_time values (ISO strings with microseconds)
    beta = api.ok("POST", "/actors", json={"image": "abacosamples/wc", "name": "beta two", "max_workers": 4,
                                           "stateless": True, "description": "word count"})
    gamma = api.ok("POST", "/actors", json={"image": "abacosamples/test", "name": "gamma three",
                                            "stateless": False, "description": "the stateful one"})
    sent = [api.ok("POST", f"/actors/{alpha['id']}/messages", json={"message": f"m{i}"}) for i in range(3)]
    api.ok("POST", f"/actors/{beta['id']}/messages", json={"message": "b"})
    return {"api": api, "alpha": alpha, "beta": beta, "gamma": gamma, "sent": sent}


def _ids(result: dict) -> list[str]:
    return [r["id"] for r in result["search"]]


def test_search_actors_by_every_kind_of_filter(world: dict) -> None:
    api, a, b, g = world["api"], world["alpha"], world["beta"], world["gamma"]
    assert _ids(api.ok("GET", "/actors/search/actors?image=abacosamples/test")) == [a["id"], g["id"]]
    assert _ids(api.ok("GET", "/actors/search/actors?image.neq=abacosamples/test")) == [b["id"]]
    assert _ids(api.ok("GET", "/actors/search/actors?stateless=false")) == [g["id"]]
    assert _ids(api.ok("GET", "/actors/search/actors?max_workers.gte=4")) == [b["id"]]
    assert _ids(api.ok("GET", "/actors/search/actors?max_workers=none")) == [a["id"], g["id"]]
    assert _ids(api.ok("GET", "/actors/search/actors?name.like=^(alpha|gamma)")) == [a["id"], g["id"]]
    assert _ids(api.ok("GET", "/actors/search/actors?name.nlike=o")) == [g["id"]]
    assert _ids(api.ok("GET", "/actors/search/actors?hints=sync")) == [a["id"]]
    assert _ids(api.ok("GET", f"/actors/search/actors?id.in=['{a['id']}','{g['id']}']")) == [a["id"], g["id"]]
    assert _ids(api.ok("GET", f"/actors/search/actors?id.nin=[\"{a['id']}\"]")) == [b["id"], g["id"]]
    assert _ids(api.ok("GET", "/actors/search/actors?default_environment.LEVEL=1")) == [a["id"]]
    assert _ids(api.ok("GET", "/actors/search/actors?_links.owner.like=anonymous$&revision.between=1,1")) == [
        a["id"], b["id"], g["id"]]
    assert _ids(api.ok("GET", f"/actors/search/actors?create_time.gt={b['create_time']}")) == [g["id"]]
    assert _ids(api.ok("GET", f"/actors/search/actors?create_time.lte={b['create_time']}")) == [a["id"], b["id"]]
    year = a["create_time"][:4]
    assert len(api.ok("GET", f"/actors/search/actors?create_time.gte={year}")["search"]) == 3


def test_text_search_exact_search_and_paging(world: dict) -> None:
    api, a, b, g = world["api"], world["alpha"], world["beta"], world["gamma"]
    assert _ids(api.ok("GET", "/actors/search/actors?search=count")) == [b["id"]]
    assert _ids(api.ok("GET", "/actors/search/actors?search=stateful&search=count")) == [b["id"], g["id"]]
    assert _ids(api.ok("GET", "/actors/search/actors?exactsearch=the first")) == [a["id"]]
    page = api.ok("GET", "/actors/search/actors?skip=1&limit=1")
    assert {k: page["_metadata"][k] for k in ("total_count", "records_skipped", "record_limit", "count_returned")} \
        == {"total_count": 3, "records_skipped": 1, "record_limit": 1, "count_returned": 1}
    assert _ids(page) == [b["id"]]
    following = api.ok("GET", f"/actors/search/actors?limit=1&cursor={page['_metadata']['next_cursor']}")
    assert _ids(following) == [g["id"]] and following["_metadata"]["next_cursor"] is None  # the cursor goes on
    assert page["_metadata"]["next"].endswith(f"cursor={page['_metadata']['next_cursor']}")
    assert "cursor is not valid" in error(api.call("GET", "/actors/search/actors?cursor=not-ours"), 400)
    listed = api.ok("GET", "/actors?limit=2")  # any query parameter turns the list into a search
    assert listed["_metadata"]["record_limit"] == 2 and _ids(listed) == [a["id"], b["id"]]
    record = api.ok("GET", f"/actors/search/actors?id={a['id']}")["search"][0]
    assert record == api.ok("GET", f"/actors/{a['id']}")  # the displayed form, with _links


def test_search_workers_and_executions_and_their_collection_forms(world: dict) -> None:
    api, a, b = world["api"], world["alpha"], world["beta"]
    workers = api.ok("GET", "/actors/search/workers?status=REQUESTED")
    assert {w["actor_id"] for w in workers["search"]} == {a["id"], b["id"], world["gamma"]["id"]}
    assert all("_links" in w for w in workers["search"])
    scoped = api.ok("GET", f"/actors/{a['id']}/workers?status=REQUESTED")
    assert [w["actor_id"] for w in scoped["search"]] == [a["id"]]
    executions = api.ok("GET", "/actors/search/executions?status=SUBMITTED")
    assert executions["_metadata"]["total_count"] == 4
    mine = api.ok("GET", f"/actors/{a['id']}/executions?status=SUBMITTED&limit=2")
    assert _ids(mine) == [s["execution_id"] for s in world["sent"][:2]]
    assert mine["_metadata"]["total_count"] == 3
    first = api.ok("GET", f"/actors/{a['id']}/executions/{world['sent'][0]['execution_id']}")
    later = api.ok("GET", f"/actors/{a['id']}/executions?message_received_time.gt={first['message_received_time']}")
    assert _ids(later) == [s["execution_id"] for s in world["sent"][1:]]
    assert api.ok("GET", f"/actors/{a['id']}/executions?executor=anonymous&runtime=0")["_metadata"][
        "total_count"] == 3
    logs = api.ok("GET", f"/actors/{a['id']}/executions/{first['id']}/logs?logs=")
    assert logs["_metadata"]["total_count"] == 1 and logs["search"][0]["execution_id"] == first["id"]
    assert api.ok("GET", "/actors/search/logs")["_metadata"]["total_count"] == 4


def test_search_is_tenant_scoped(world: dict, api_only: Api) -> None:
    other = tenant_api(api_only, "SEARCH-OTHER-TENANT")
    for kind in ("actors", "workers", "executions", "logs"):
        assert other.ok("GET", f"/actors/search/{kind}")["search"] == []
    assert other.ok("GET", f"/actors/search/actors?id={world['alpha']['id']}")["search"] == []


@pytest.mark.parametrize("path, expected", [
    ("/actors/search/nonsense", "search_type is invalid"),
    ("/actors/search/actors?limit=lots", 'Inputted "limit" parameter must be an int'),
    ("/actors/search/actors?skip=-2", 'Inputted "skip" must be positive'),
    ("/actors/search/actors?create_time.gt=last tuesday", "incorrect format"),
    ("/actors/search/actors?revision.between=1", "Between must have two variables"),
    ("/actors/search/actors?name.like=(", "Invalid regular expression"),
    ("/actors?limit=-1", 'Inputted "limit" must be positive'),
    ("/actors/{alpha}/executions?skip=x", 'Inputted "skip" parameter must be an int'),
    ("/actors/{alpha}/workers?limit=x", 'Inputted "limit" parameter must be an int'),
])
def test_bad_searches_are_400s(world: dict, path: str, expected: str) -> None:
    api = world["api"]
    assert expected in error(api.call("GET", path.format(alpha=world["alpha"]["id"])), 400)


def test_x_nonce_alone_keeps_the_plain_collections(world: dict) -> None:
    api = world["api"]
    assert isinstance(api.ok("GET", "/actors?x-nonce=TENANT_abc"), list)
    summary = api.ok("GET", f"/actors/{world['alpha']['id']}/executions?x-nonce=TENANT_abc")
    assert summary["total_executions"] == 3
