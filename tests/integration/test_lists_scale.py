"""Scale of the smaller collections (issue 16) against the session's moto server over HTTP: aliases,
configs, nonces and permissions page with ``limit``/``skip``/``cursor`` in the search envelope and keep
Abaco's shapes without parameters, in a bounded number of AWS calls however large the collection; an
execution's configs are read through its actor's bindings, never the tenant's configs.

Large collections are written straight through the tables under a prefix of their own (thousands through
the API would take minutes on the emulator); a recording proxy between the API (or a store) and the
emulator counts the AWS requests one API request, or one config lookup, makes.
"""
from __future__ import annotations

import secrets
import urllib.parse
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from bench.proxy import RecordingProxy
from chalicelib.domain.errors import BadRequest, Conflict
from chalicelib.domain.models import Actor, ActorConfig, Execution
from chalicelib.domain.paging import encode_cursor
from chalicelib.services import configs as config_service
from chalicelib.wiring import resources
from chalicelib.wiring.backend import Backend
from chalicelib.wiring.settings import Settings
from local import bootstrap
from local.launcher import Stack
from tests.conftest import Api
from tests.integration.conftest import proxied_stack, tenant_api

REGION = "us-east-1"
TENANT = "LISTS-TENANT"
MAX_CALLS_PER_PAGE = 16  # one GET of a page: the guard's reads and a few DynamoDB pages, whatever the size
BATCH_WRITE = 25


def _backend(endpoint: str, prefix: str) -> Backend:
    return Backend.from_settings(Settings(AWS_ENDPOINT_URL=endpoint, AWS_DEFAULT_REGION=REGION,
                                          resource_prefix=prefix))


@pytest.fixture(scope="module")
def proxied(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, RecordingProxy]]:
    with proxied_stack(stack, tmp_path_factory, "lists") as pair:
        yield pair


def _calls_during(proxy: RecordingProxy, action: Any) -> tuple[Any, int]:
    before = len(proxy.recorded())
    result = action()
    return result, len(proxy.recorded()) - before


def _write_aliases(stack: Stack, actor_id: str, count: int) -> set[str]:
    """``count`` aliases of ``actor_id`` in TENANT, written 25 a request (BatchWriteItem)."""
    client = boto3.client("dynamodb", endpoint_url=stack.env["AWS_ENDPOINT_URL"], region_name=REGION,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    table = resources.ALIASES.physical(stack.env["ABACO_RESOURCE_PREFIX"])
    names = [f"bulk-{i:05d}" for i in range(count)]
    for first in range(0, count, BATCH_WRITE):
        items = [{"PutRequest": {"Item": {"tenant": {"S": TENANT}, "alias": {"S": n}, "actor_id": {"S": actor_id},
                                          "owner": {"S": "anonymous"}, "create_time": {"S": f"2026-01-01T{n}"}}}}
                 for n in names[first:first + BATCH_WRITE]]
        while items:
            items = client.batch_write_item(RequestItems={table: items}).get("UnprocessedItems", {}).get(table, [])
    return set(names)


def _walk(api: Any, path: str, key: str, limit: int) -> list[Any]:
    """Every record of a paged collection, following ``_metadata.next_cursor`` page by page."""
    seen: list[Any] = []
    url = f"{path}?limit={limit}"
    for _ in range(200):
        page = api.ok("GET", url)
        assert page["_metadata"]["count_returned"] == len(page["search"]) <= limit
        seen.extend(record[key] for record in page["search"])
        cursor = page["_metadata"]["next_cursor"]
        if cursor is None:
            assert page["_metadata"]["next"] is None
            return seen
        assert page["_metadata"]["next"].endswith(f"/{path.lstrip('/')}?limit={limit}&cursor={cursor}")
        url = f"{path}?limit={limit}&cursor={cursor}"
    raise AssertionError("the walk did not end")


def test_2500_aliases_page_once_each_in_bounded_calls(proxied: tuple[Stack, RecordingProxy]) -> None:
    stack, proxy = proxied
    api = tenant_api(Api(stack.api_url), TENANT)
    actor_id = api.ok("POST", "/actors", json={"image": "abacosamples/test"})["id"]
    written = _write_aliases(stack, actor_id, 2500)
    seen = _walk(api, "/actors/aliases", "alias", 700)
    assert len(seen) == len(set(seen)) == 2500 and set(seen) == written
    listed, calls = _calls_during(proxy, lambda: api.ok("GET", "/actors/aliases"))
    assert isinstance(listed, list) and len(listed) == 1000 and calls <= MAX_CALLS_PER_PAGE, calls  # Abaco's shape
    page, calls = _calls_during(proxy, lambda: api.ok("GET", "/actors/aliases?limit=5&skip=3"))
    assert [r["alias"] for r in page["search"]] == sorted(written)[3:8] and calls <= MAX_CALLS_PER_PAGE, calls
    filtered = api.ok("GET", "/actors/aliases?alias=bulk-00042")  # a filter: the same language as search
    assert [r["alias"] for r in filtered["search"]] == ["bulk-00042"]
    assert api.call("GET", "/actors/aliases?cursor=not-a-cursor").status_code == 400
    assert api.call("GET", "/actors/aliases?limit=-1").status_code == 400


def test_configs_nonces_and_permissions_page_and_keep_their_shapes(proxied: tuple[Stack, RecordingProxy]) -> None:
    stack, _ = proxied
    api = tenant_api(Api(stack.api_url), "LISTS-SMALL")
    actor_id = api.ok("POST", "/actors", json={"image": "abacosamples/test"})["id"]
    for i in range(12):
        api.ok("POST", "/actors/configs", json={"name": f"cfg{i:02d}", "value": f"v{i}", "is_secret": i % 2 == 0,
                                                "actors": actor_id})
        api.ok("POST", f"/actors/{actor_id}/nonces", json={"level": "READ", "description": f"n{i}"})
        api.ok("POST", f"/actors/{actor_id}/permissions", json={"user": f"user{i:02d}", "level": "READ"})
    configs = api.ok("GET", "/actors/configs")
    assert [c["name"] for c in configs] == [f"cfg{i:02d}" for i in range(12)]
    assert sorted(_walk(api, "/actors/configs", "name", 5)) == [c["name"] for c in configs]
    nonces = api.ok("GET", f"/actors/{actor_id}/nonces")
    assert len(nonces) == 12 and all(n["id"] for n in nonces)  # the caller manages the actor: ids shown
    paged = _walk(api, f"/actors/{actor_id}/nonces", "id", 5)
    assert sorted(paged) == sorted(n["id"] for n in nonces)  # the same secrets, decrypted for the page only
    grants = api.ok("GET", f"/actors/{actor_id}/permissions")
    assert isinstance(grants, dict) and grants["user03"] == "READ" and len(grants) == 13  # and the owner
    walked = _walk(api, f"/actors/{actor_id}/permissions", "user", 4)
    assert sorted(walked) == sorted(grants)
    page = api.ok("GET", f"/actors/{actor_id}/permissions?user=user03")
    assert page["search"] == [{"user": "user03", "level": "READ"}]
    elsewhere = encode_cursor({"s": {"object_key": {"S": "OTHER#actor#x"}, "username": {"S": "u"}}, "o": 0})
    assert api.call("GET", f"/actors/{actor_id}/permissions?cursor={elsewhere}").status_code == 400


def test_admin_views_read_one_page_of_actors(proxied: tuple[Stack, RecordingProxy]) -> None:
    stack, proxy = proxied
    api = tenant_api(Api(stack.api_url), "LISTS-ADMIN")
    made = {api.ok("POST", "/actors", json={"image": "abacosamples/test"})["id"] for _ in range(5)}
    assert {a["id"] for a in api.ok("GET", "/actors/admin")} == made  # Abaco's list without parameters
    seen: list[str] = []
    cursor = ""
    for _ in range(10):
        page = api.ok("GET", f"/actors/admin?limit=2{'&cursor=' + cursor if cursor else ''}")
        seen += [a["id"] for a in page["actors"]]
        cursor = page["_metadata"]["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 5 and set(seen) == made
    executions = api.ok("GET", "/actors/admin/executions?limit=2")
    assert len(executions["actors"]) == 2 and executions["_metadata"]["next_cursor"]
    assert "_metadata" not in api.ok("GET", "/actors/admin/executions")  # Abaco's shape without parameters
    workers = api.ok("GET", "/actors/admin/workers?limit=3")
    assert workers["_metadata"]["record_limit"] == 3 and "summary" in workers
    every = sum(len(api.ok("GET", f"/actors/{a}/workers")) for a in made)
    usage, calls = _calls_during(proxy, lambda: api.ok("GET", "/actors/utilization"))
    assert usage["currentActors"] == 5 and usage["workers"] == every > 0, usage
    assert calls <= 6, calls  # counted by DynamoDB (actors, the workers' tenant index), not actor by actor


def test_an_execution_reads_only_its_own_actors_configs(stack: Stack) -> None:
    """Two requests (its bindings, then its configs) however many configs the tenant has; a binding whose
    config no longer lists the actor hands nothing over; a PUT and a DELETE move the bindings."""
    prefix = f"abaco-cb{secrets.token_hex(3)}"
    direct = _backend(stack.env["AWS_ENDPOINT_URL"], prefix)
    bootstrap.create_tables(direct.settings)
    port = urllib.parse.urlsplit(stack.env["AWS_ENDPOINT_URL"]).port
    proxy = RecordingProxy(port).start()
    try:
        counted = _backend(proxy.url, prefix)
        mine, other, idle = (Actor(tenant="T", id=f"A{i}{secrets.token_hex(3)}", image="i", owner="u")
                             for i in range(3))

        def config(name: str, value: str, *actors: Actor) -> ActorConfig:
            made = ActorConfig(tenant="T", name=name, value=value, is_secret=False, actors=[a.id for a in actors],
                               actor_ids=[a.id for a in actors], owner="u")
            direct.configs.create(made, config_service.recipients(made))
            return made

        for i in range(150):
            config(f"theirs{i:03d}", "no", other)
        config("own", "one", mine)
        shared = config("shared", "two", mine, other)
        direct.configs.rebind(direct.configs.get("T", "theirs007"), [mine.id])  # a stale binding (a crash)
        found, calls = _calls_during(proxy, lambda: config_service.configs_for_actor(counted, mine))
        assert found == {"own": "one", "shared": "two"} and calls == 2, calls
        found, calls = _calls_during(proxy, lambda: config_service.configs_for_actor(counted, idle))
        assert found == {} and calls == 1, calls
        with pytest.raises(BadRequest):  # a second "own": refused, and the first keeps its binding
            config("own", "taken", mine, idle)
        assert config_service.configs_for_actor(counted, mine)["own"] == "one"
        bindings = boto3.client("dynamodb", endpoint_url=stack.env["AWS_ENDPOINT_URL"], region_name=REGION,
                                aws_access_key_id="testing", aws_secret_access_key="testing").query(
            TableName=resources.CONFIG_BINDINGS.physical(prefix), KeyConditionExpression="actor_key = :k",
            ExpressionAttributeValues={":k": {"S": f"T#{idle.id}"}})["Items"]
        assert bindings == []  # the refused create's binding went again
        direct.configs.replace(shared.model_copy(update={"actors": [other.id], "actor_ids": [other.id]}),
                               [mine.id, other.id], [other.id])
        assert config_service.configs_for_actor(counted, mine) == {"own": "one"}
        assert config_service.configs_for_actor(counted, other)["shared"] == "two"
        direct.configs.delete("T", "own", [mine.id])
        assert config_service.configs_for_actor(counted, mine) == {}
        assert config_service.rebind(direct, "T") == 151  # the rebuild for configs stored before bindings
    finally:
        proxy.stop()


def test_a_retried_execution_create_is_not_a_conflict(stack: Stack) -> None:
    """The SDK re-sends a conditional put whose answer timed out (the scale run met it under load): the
    put that finds its own item succeeds; another execution with the same id is still a conflict."""
    backend = _backend(stack.env["AWS_ENDPOINT_URL"], f"abaco-rt{secrets.token_hex(3)}")
    bootstrap.create_tables(backend.settings)
    execution = Execution(tenant="T", actor_id="A", id="e1", executor="u", open_pool="default", created_ns=1)
    backend.executions.create(execution)
    backend.executions.create(execution)  # the same write again
    with pytest.raises(Conflict):
        backend.executions.create(execution.model_copy(update={"created_ns": 2}))
