"""What one POST /actors/{id}/messages costs in AWS requests, counted over the real stack.

A private API (``jwt`` mode, default rate limits, no runner) talks to the session's emulator through the
bench's counting proxy, so every DynamoDB and SQS request it makes is counted by table or queue. The
bounds are the counts after the accept-path work (README, Benchmarks): a regression that adds a read
to the hot path fails here, whatever the machine's speed. Each measured POST follows a warm-up message
to the same actor, so the once-per-process costs (the queue URLs, waking the registration's start
request) are paid already.
"""
from __future__ import annotations

import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from bench.proxy import CountingProxy
from local.launcher import Stack
from tests import jwt_keys
from tests.conftest import start_stack
from tests.integration.security.conftest import Client

TENANT = "TENANT-COUNT"
# One POST by id, owner or admin: the actor (GetItem), the execution (PutItem), the inbox (SendMessage). The
# worker check (Query) is made once per SEEN_SECONDS: the warm-up message's check saw the actor's (woken)
# worker taking, so the measured message, right after it, needs none (chalicelib/services/taking.py). The
# enqueue mark (UpdateItem) is gone: the reconciler asks SQS for every unclaimed execution instead
# (docs/operator-guide.md, cost). Before the accept-path work an owner who is not an admin also read the
# actor's grants (Query): 6, then 5, then 4 with the check on every message.
BY_ID = 3
BY_ALIAS = BY_ID + 1  # the alias (GetItem) names the actor
NOT_OWNER = BY_ID + 1  # a grantee's level is read from the permissions table (BatchGetItem), every request
ROLES_REFRESH = "dynamodb.PutItem roles"  # a principal's roles, written at most once a minute per process


@pytest.fixture(scope="module")
def counted(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, CountingProxy]]:
    upstream = urllib.parse.urlsplit(stack.env["AWS_ENDPOINT_URL"]).port
    assert upstream is not None
    proxy = CountingProxy(upstream).start()
    _, public_pem = jwt_keys.key_pair()
    env = {"ABACO_ACCESS_CONTROL": "jwt", "ABACO_JWT_ISSUER": jwt_keys.ISSUER, "ABACO_JWT_KEY_ID": "abaco-test-key",
           "ABACO_JWT_PUBLIC_KEY": public_pem, "ABACO_API_WORKERS": "1"}
    private = start_stack(Path(tmp_path_factory.mktemp("counted")), env=env, runners=0, emulator_url=proxy.url)
    yield private, proxy
    private.stop()
    proxy.stop()


def _as(counted: tuple[Stack, CountingProxy], user: str, role: str = "user") -> Client:
    return Client(counted[0].api_url, user, TENANT, role)


def _short(key: str, prefix: str) -> str:
    """``dynamodb.GetItem abaco-t1-actors`` -> ``dynamodb.GetItem actors``; an inbox's name -> ``inbox``."""
    op, _, where = key.partition(" ")
    where = where.removeprefix(prefix + "-")
    return f"{op} {'inbox' if where.startswith('inbox-') else where}".strip()


def _requests_of(counted: tuple[Stack, CountingProxy], call: Callable[[], requests.Response],
                 status: int = 200) -> Counter[str]:
    stack, proxy = counted
    before = proxy.detailed_snapshot()
    response = call()
    after = proxy.detailed_snapshot()
    assert response.status_code == status, response.text
    prefix = stack.env["ABACO_RESOURCE_PREFIX"]
    counts: Counter[str] = Counter()
    for key, number in (after - before).items():
        counts[_short(key, prefix)] += number
    assert counts[ROLES_REFRESH] <= 1, counts
    del counts[ROLES_REFRESH]  # time-based (services.roles.ROLE_REFRESH_SECONDS), not the message path
    return counts


def _post(client: Client, identifier: str) -> Callable[[], requests.Response]:
    return lambda: client.call("POST", f"/actors/{identifier}/messages", json={"message": "counted"})


def _actor(client: Client) -> dict[str, Any]:
    actor = client.ok("POST", "/actors", json={"image": "abacosamples/noop"})
    assert _post(client, actor["id"])().status_code == 200  # warm-up: wakes its start request, caches URLs
    return actor


def test_owner_message_by_id(counted: tuple[Stack, CountingProxy]) -> None:
    owner = _as(counted, "count-owner")
    actor = _actor(owner)
    counts = _requests_of(counted, _post(owner, actor["id"]))
    assert sum(counts.values()) <= BY_ID, counts
    assert counts["dynamodb.Query permissions"] == 0, counts  # the owner's UPDATE is permanent
    assert counts["dynamodb.GetItem actors"] == 1 and counts["dynamodb.PutItem executions"] == 1, counts
    assert counts["sqs.SendMessage inbox"] == 1 and counts["dynamodb.UpdateItem executions"] == 0, counts
    assert counts["dynamodb.Query workers"] == 0, counts  # the warm-up's check saw a taking worker


def test_admin_message_by_id(counted: tuple[Stack, CountingProxy]) -> None:
    owner = _as(counted, "count-owner2")
    actor = _actor(owner)
    counts = _requests_of(counted, _post(_as(counted, "count-admin", "admin"), actor["id"]))
    assert sum(counts.values()) <= BY_ID, counts
    assert counts["dynamodb.Query permissions"] == 0, counts


def test_owner_message_by_alias(counted: tuple[Stack, CountingProxy]) -> None:
    owner = _as(counted, "count-owner3")
    actor = _actor(owner)
    owner.ok("POST", "/actors/aliases", json={"alias": "counted-alias", "actor_id": actor["id"]})
    counts = _requests_of(counted, _post(owner, "counted-alias"))
    assert sum(counts.values()) <= BY_ALIAS, counts
    assert counts["dynamodb.GetItem aliases"] == 1 and counts["dynamodb.GetItem actors"] == 1, counts


def test_grantee_is_checked_on_every_message(counted: tuple[Stack, CountingProxy]) -> None:
    """Not the owner: the grant is read each time, so a revocation holds from the next request on, and a
    refused message writes nothing."""
    owner, other = _as(counted, "count-owner4"), _as(counted, "count-grantee")
    actor = _actor(owner)
    refused = _requests_of(counted, _post(other, actor["id"]), status=400)
    assert not [k for k in refused if k.split(" ")[0].endswith(("PutItem", "UpdateItem", "SendMessage"))], refused
    owner.ok("POST", f"/actors/{actor['id']}/permissions", json={"user": "count-grantee", "level": "EXECUTE"})
    counts = _requests_of(counted, _post(other, actor["id"]))
    assert sum(counts.values()) <= NOT_OWNER, counts
    # The grantee's grant and everybody's, in one BatchGetItem (chalicelib/services/permissions.py), never a
    # query of the actor's every grant.
    assert counts["dynamodb.BatchGetItem"] == 1 and counts["dynamodb.Query permissions"] == 0, counts
    owner.ok("POST", f"/actors/{actor['id']}/permissions", json={"user": "count-grantee", "level": "READ"})
    assert _post(other, actor["id"])().status_code == 400
