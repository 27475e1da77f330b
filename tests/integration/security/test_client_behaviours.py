"""Behaviours Abaco clients rely on, over HTTP against the jwt stack (reference §1.9, §1.10, §1.5).

Nonce ids are listable by those who manage the actor (Abaco clients list nonces to find the id they
redeem) and by nobody else; they are encrypted at rest; a nonce may expire. Alias refusals carry
Abaco's messages. Popping a result (a GET that removes it) needs EXECUTE, not READ.
"""
from __future__ import annotations

import secrets
from typing import Any

import boto3
import pytest
import requests

from chalicelib.adapters.storage.nonces import Expired, NonceStore, target
from chalicelib.domain.access import Kind
from chalicelib.domain.models import Nonce
from chalicelib.services import nonces
from chalicelib.wiring.backend import Backend
from chalicelib.wiring.settings import Settings
from local.launcher import Stack
from tests.conftest import wait_for
from tests.integration.security.conftest import TENANT_A


def _anonymous(stack: Stack, method: str, path: str, nonce: str, **kwargs: Any) -> requests.Response:
    sep = "&" if "?" in path else "?"
    return requests.request(method, f"{stack.api_url}{path}{sep}x-nonce={nonce}", timeout=30, **kwargs)


def _message(response: requests.Response, status: int = 400) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "error" and body["result"] is None
    return str(body["message"])


@pytest.fixture(scope="module")
def shared(client: Any) -> dict[str, Any]:
    """An actor of ``nadia`` with a manager (UPDATE), a reader (READ) and an executor (EXECUTE)."""
    owner = client("nadia")
    actor = owner.ok("POST", "/actors", json={"image": "abacosamples/wc"})["id"]
    for user, level in (("mona", "UPDATE"), ("rita", "READ"), ("ezra", "EXECUTE")):
        owner.ok("POST", f"/actors/{actor}/permissions", json={"user": user, "level": level})
    return {"owner": owner, "actor": actor}


def _table_dump(stack: Stack, logical: str) -> str:
    ddb = boto3.client("dynamodb", endpoint_url=stack.env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    name = f"{stack.env['ABACO_RESOURCE_PREFIX']}-{logical}"
    return "\n".join(str(page["Items"]) for page in ddb.get_paginator("scan").paginate(TableName=name))


def _store(stack: Stack) -> NonceStore:
    """The stack's nonces table, directly."""
    return Backend.from_settings(Settings(AWS_ENDPOINT_URL=stack.env["AWS_ENDPOINT_URL"],
                                          resource_prefix=stack.env["ABACO_RESOURCE_PREFIX"])).nonces


def test_the_owner_and_managers_list_usable_nonce_ids(jwt_stack: Stack, shared: dict[str, Any],
                                                      client: Any) -> None:
    owner, actor = shared["owner"], shared["actor"]
    created = owner.ok("POST", f"/actors/{actor}/nonces", json={"level": "READ", "description": "listed"})
    for caller in (owner, client("mona"), client("adele", role="admin")):
        listed = {n["handle"]: n for n in caller.ok("GET", f"/actors/{actor}/nonces")}
        assert listed[created["handle"]]["id"] == created["id"], caller.user
        detail = caller.ok("GET", f"/actors/{actor}/nonces/{created['handle']}")
        assert detail["id"] == created["id"] and detail["description"] == "listed"
    # what a client does: list, take the id, redeem it
    found = next(n["id"] for n in owner.ok("GET", f"/actors/{actor}/nonces") if n["description"] == "listed")
    response = _anonymous(jwt_stack, "GET", f"/actors/{actor}", found)
    assert response.status_code == 200 and response.json()["result"]["id"] == actor


def test_readers_see_nonces_without_their_ids(jwt_stack: Stack, shared: dict[str, Any], client: Any) -> None:
    owner, actor = shared["owner"], shared["actor"]
    created = owner.ok("POST", f"/actors/{actor}/nonces", json={"level": "EXECUTE"})
    for reader in (client("rita"), client("ezra")):
        listed = {n["handle"]: n for n in reader.ok("GET", f"/actors/{actor}/nonces")}
        seen = listed[created["handle"]]
        assert seen["id"] is None and seen["level"] == "EXECUTE", reader.user
        assert created["id"] not in str(listed)
        assert reader.ok("GET", f"/actors/{actor}/nonces/{created['handle']}")["id"] is None
    # a nonce-authorised request does not see ids either, whatever its level
    updater = owner.ok("POST", f"/actors/{actor}/nonces", json={"level": "UPDATE"})["id"]
    through_nonce = _anonymous(jwt_stack, "GET", f"/actors/{actor}/nonces", updater)
    assert through_nonce.status_code == 200
    assert {n["id"] for n in through_nonce.json()["result"]} == {None}


def test_nonce_ids_are_encrypted_at_rest(jwt_stack: Stack, shared: dict[str, Any]) -> None:
    owner, actor = shared["owner"], shared["actor"]
    created = owner.ok("POST", f"/actors/{actor}/nonces", json={"level": "READ"})
    dump = _table_dump(jwt_stack, "nonces")
    assert created["handle"] in dump  # the item is there ...
    assert created["id"] not in dump and created["id"].split("_", 1)[1] not in dump  # ... its secret is not
    assert "kms1:" in dump  # sealed by the stack's secrets backend (KMS envelopes, ABACO_SECRETS_BACKEND=kms)


def test_alias_nonce_ids_need_update_on_the_alias_and_its_actor(jwt_stack: Stack, shared: dict[str, Any],
                                                                client: Any) -> None:
    owner, actor = shared["owner"], shared["actor"]
    alias = f"nadia-{secrets.token_hex(4)}"
    owner.ok("POST", "/actors/aliases", json={"alias": alias, "actor_id": actor})
    created = owner.ok("POST", f"/actors/aliases/{alias}/nonces", json={"level": "READ"})
    listed = owner.ok("GET", f"/actors/aliases/{alias}/nonces")
    assert [n["id"] for n in listed] == [created["id"]]
    assert _anonymous(jwt_stack, "GET", f"/actors/{alias}", listed[0]["id"]).status_code == 200
    owner.ok("POST", f"/actors/aliases/{alias}/permissions", json={"user": "rita", "level": "READ"})
    assert [n["id"] for n in client("rita").ok("GET", f"/actors/aliases/{alias}/nonces")] == [None]
    # UPDATE on the alias alone opens neither its nonces nor its actor: Abaco's message
    owner.ok("POST", f"/actors/aliases/{alias}/permissions", json={"user": "alan", "level": "UPDATE"})
    refused = _message(client("alan").call("GET", f"/actors/aliases/{alias}/nonces"))
    assert "you do not have access to this alias and actor" in refused


def test_a_nonce_with_a_ttl_is_refused_once_it_expires(jwt_stack: Stack, shared: dict[str, Any]) -> None:
    owner, actor = shared["owner"], shared["actor"]
    lasting = owner.ok("POST", f"/actors/{actor}/nonces", json={"level": "READ", "ttl": 3600})
    assert lasting["expires_at"].endswith("Z") and lasting["expires_at"] > lasting["create_time"]
    assert owner.ok("POST", f"/actors/{actor}/nonces", json={"level": "READ"})["expires_at"] is None
    brief = owner.ok("POST", f"/actors/{actor}/nonces", json={"level": "READ", "ttl": "1"})
    wait_for(lambda: _anonymous(jwt_stack, "GET", f"/actors/{actor}", brief["id"]).status_code == 400, 30,
             what="the nonce to expire")
    assert _message(_anonymous(jwt_stack, "GET", f"/actors/{actor}", brief["id"])) == "This nonce has expired."
    handles = [n["handle"] for n in owner.ok("GET", f"/actors/{actor}/nonces")]
    assert brief["handle"] not in handles and lasting["handle"] in handles
    _message(owner.call("GET", f"/actors/{actor}/nonces/{brief['handle']}"), 404)
    assert _anonymous(jwt_stack, "GET", f"/actors/{actor}", lasting["id"]).status_code == 200


def test_the_redeeming_write_itself_refuses_an_expired_nonce(jwt_stack: Stack, shared: dict[str, Any]) -> None:
    """The expiry is in the one conditional update that counts a use, so a use checked just before the
    expiry cannot be counted after it (the race the service's read-then-write would leave open)."""
    owner, actor = shared["owner"], shared["actor"]
    created = owner.ok("POST", f"/actors/{actor}/nonces", json={"level": "READ", "ttl": 60, "max_uses": 5})
    store = _store(jwt_stack)
    key, digest = target(Kind.ACTOR, TENANT_A, actor), nonces.hash_secret(created["id"])
    with pytest.raises(Expired):
        store.redeem(key, created["handle"], digest, now=10 ** 10)
    used = store.redeem(key, created["handle"], digest, now=0)
    assert (used.current_uses, used.remaining_uses) == (1, 4)


def test_a_nonce_stored_before_encryption_still_redeems(jwt_stack: Stack, shared: dict[str, Any]) -> None:
    """An item as the hash-only code wrote it (no ciphertext): one lookup by its handle still redeems it;
    its id, never stored, is listed as null even to the owner."""
    owner, actor = shared["owner"], shared["actor"]
    secret = f"{TENANT_A}_{secrets.token_hex(32)}"
    old = Nonce(tenant=TENANT_A, handle=nonces.handle_of(secret), secret_hash=nonces.hash_secret(secret),
                actor_id=actor, owner="nadia", roles=["user"], level="READ")
    _store(jwt_stack).create(target(Kind.ACTOR, TENANT_A, actor), old)
    response = _anonymous(jwt_stack, "GET", f"/actors/{actor}", secret)
    assert response.status_code == 200 and response.json()["result"]["id"] == actor
    listed = {n["handle"]: n for n in owner.ok("GET", f"/actors/{actor}/nonces")}
    assert listed[old.handle]["id"] is None and listed[old.handle]["current_uses"] == 1


@pytest.mark.parametrize("ttl", [0, -5, "soon", 10 ** 9, 2.5])
def test_a_bad_ttl_is_a_400_and_creates_nothing(shared: dict[str, Any], ttl: Any) -> None:
    owner, actor = shared["owner"], shared["actor"]
    before = len(owner.ok("GET", f"/actors/{actor}/nonces"))
    assert "ttl" in _message(owner.call("POST", f"/actors/{actor}/nonces", json={"ttl": ttl}))
    assert len(owner.ok("GET", f"/actors/{actor}/nonces")) == before


def test_alias_refusals_carry_abacos_messages(shared: dict[str, Any], client: Any) -> None:
    actor = shared["actor"]
    vera = client("vera")
    refused = _message(vera.call("POST", "/actors/aliases", json={"alias": f"v-{secrets.token_hex(3)}",
                                                                  "actor_id": actor}))
    assert refused == f"Not authorized -- you do not have access to {actor}."
    own = vera.ok("POST", "/actors", json={"image": "abacosamples/noop"})["id"]
    name = f"v-{secrets.token_hex(3)}"
    vera.ok("POST", "/actors/aliases", json={"alias": name, "actor_id": own})
    refused = _message(vera.call("PUT", f"/actors/aliases/{name}", json={"actor_id": actor}))
    assert refused == ("Not authorized -- you do not have UPDATE access to the actor you want to associate with "
                       "this alias.")
    assert vera.ok("GET", f"/actors/aliases/{name}")["actor_id"] == own  # nothing changed


def test_popping_a_result_needs_execute(jwt_stack: Stack, shared: dict[str, Any], client: Any) -> None:
    owner, actor = shared["owner"], shared["actor"]
    sent = owner.ok("POST", f"/actors/{actor}/messages", data={"message": "one two three"})
    execution = owner.wait_execution(actor, sent["execution_id"])
    assert execution["status"] == "COMPLETE", execution
    path = f"/actors/{actor}/executions/{sent['execution_id']}/results"
    assert "do not have access to this actor" in _message(client("rita").call("GET", path))
    reader_nonce = owner.ok("POST", f"/actors/{actor}/nonces", json={"level": "READ"})["id"]
    assert _anonymous(jwt_stack, "GET", path, reader_nonce).status_code == 400
    popped = client("ezra").call("GET", path)  # the reader's refusals left the result in place
    assert popped.status_code == 200 and popped.content == b"3"
    executor_nonce = owner.ok("POST", f"/actors/{actor}/nonces", json={"level": "EXECUTE"})["id"]
    after = _anonymous(jwt_stack, "GET", path, executor_nonce)
    assert after.status_code == 200 and after.content == b""
    assert client("rita").ok("GET", f"/actors/{actor}/executions/{sent['execution_id']}")["status"] == "COMPLETE"

