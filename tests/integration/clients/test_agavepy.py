"""agavepy 0.9.5 (Abaco v2 through the Agave gateway, from PyPI, unmodified) drives Abaco's common calls.

agavepy calls ``https://<host>/actors/v2/...`` (its bundled ``resources/api_actors.json.j2``): the routes'
``/actors/v2`` spelling (``chalicelib/edge/paths.py``), as ``https://abaco.test`` through a TLS front
that is its HTTPS proxy (``tests/tls_front.py``). Without access control and in
jwt mode with a bearer JWT (agavepy's ``Authorization: Bearer``). agavepy has no search call; tapipy's
suite covers search.
"""
from __future__ import annotations

import base64
import hashlib

import pytest

from local.launcher import Stack
from tests.conftest import Api
from tests.integration.clients import Target, doc_example
from tests.integration.clients.conftest import bearer, v2_header
from tests.integration.probe import report

PRELUDE = '''
import os, time
import requests
from agavepy.agave import Agave

PROXIES = {"https": os.environ["CLIENT_PROXY"]}

def client(token=None):
    return Agave(api_server=os.environ["CLIENT_BASE"], token=token or os.environ["CLIENT_TOKEN"],
                 verify=os.environ["CLIENT_CA"], proxies=PROXIES)

ag = client()
IMAGE = os.environ["CLIENT_IMAGE"]

def wait(actor_id, execution_id):
    deadline = time.monotonic() + 120
    while True:
        execution = ag.actors.getExecution(actorId=actor_id, executionId=execution_id)
        if execution["status"] in ("COMPLETE", "ERROR") or time.monotonic() > deadline:
            return execution
        time.sleep(0.3)

def failure(call):
    try:
        call()
    except requests.exceptions.HTTPError as exc:
        return [exc.response.status_code, exc.response.json()["message"]]
    return None
'''


def test_actors_add_get_list_update_delete(agavepy_target: Target) -> None:
    out = agavepy_target.run(PRELUDE + '''
actor = ag.actors.add(body={"image": IMAGE, "name": "agave-made", "stateless": True,
                            "description": "made by agavepy", "defaultEnvironment": {"GREETING": "hi"}})
got = ag.actors.get(actorId=actor["id"])
listed = [a["id"] for a in ag.actors.list()]
updated = ag.actors.update(actorId=actor["id"], body={"image": IMAGE, "description": "updated by agavepy",
                                                      "defaultEnvironment": {"GREETING": "hello"}})
deleted = ag.actors.delete(actorId=actor["id"])
emit({"actor": actor, "got": got, "listed": listed, "updated": updated, "deleted": deleted,
      "after_delete": failure(lambda: ag.actors.get(actorId=actor["id"]))})
''')
    actor = out["actor"]
    assert actor["owner"] == agavepy_target.owner and actor["name"] == "agave-made"
    assert actor["default_environment"] == {"GREETING": "hi"}
    assert [out["got"]["id"], out["got"]["image"]] == [actor["id"], agavepy_target.env["CLIENT_IMAGE"]]
    assert actor["id"] in out["listed"]
    assert out["updated"]["description"] == "updated by agavepy"
    assert out["updated"]["default_environment"] == {"GREETING": "hello"}
    assert out["deleted"] is None  # agavepy returns the (empty) result of a deletion
    assert out["after_delete"][0] == 404


def test_text_json_and_binary_messages_reach_the_container(agavepy_target: Target) -> None:
    payload = bytes(range(256)) * 3
    out = agavepy_target.run(PRELUDE + '''
import base64
actor = ag.actors.add(body={"image": IMAGE, "stateless": True,
                            "defaultEnvironment": {"PROBE_RESULTS": '["agave result"]'}})
aid = actor["id"]
sent = {
    "text": ag.actors.sendMessage(actorId=aid, body={"message": "hello from agavepy"}),
    "json": ag.actors.sendMessage(actorId=aid, body={"k": [1, "x"]}),
    "binary": ag.actors.sendBinaryMessage(actorId=aid, message=base64.b64decode(os.environ["PAYLOAD"])),
}
out = {"queued": ag.actors.getMessages(actorId=aid)["messages"], "msg": {k: v["msg"] for k, v in sent.items()}}
for kind, message in sent.items():
    eid = message["execution_id"]
    execution = wait(aid, eid)
    out[kind] = {"id": eid, "status": execution["status"], "actor_id": execution["actor_id"],
                 "logs": ag.actors.getExecutionLogs(actorId=aid, executionId=eid)["logs"],
                 "result": ag.actors.getOneExecutionResult(actorId=aid, executionId=eid).content.decode()}
summary = ag.actors.listExecutions(actorId=aid)
out["executions"] = sorted(e["id"] for e in summary["executions"])
out["total"] = summary["total_executions"]
ag.actors.delete(actorId=aid)
emit(out)
''', PAYLOAD=base64.b64encode(payload).decode())
    assert out["msg"] == {"text": "hello from agavepy", "json": {"k": [1, "x"]}, "binary": "binary - omitted"}
    assert 0 <= out["queued"] <= 3
    for kind in ("text", "json", "binary"):
        assert out[kind]["status"] == "COMPLETE", out[kind]
        assert out[kind]["result"] == "agave result"
    text, structured, binary = (report(out[kind]["logs"]) for kind in ("text", "json", "binary"))
    assert text["env"]["MSG"] == "hello from agavepy" and text["env"]["_abaco_Content_Type"] == "str"
    assert structured["env"]["_abaco_Content_Type"] == "application/json"
    assert structured["context"]["dict_keys"] == ["k"]
    assert binary["env"]["_abaco_Content_Type"] == "application/octet-stream" and "MSG" not in binary["env"]
    assert (binary["binary"]["size"], binary["binary"]["sha256"]) == (len(payload), hashlib.sha256(payload).hexdigest())
    assert out["executions"] == sorted(out[kind]["id"] for kind in ("text", "json", "binary"))
    assert out["total"] == 3


def test_workers_state_permissions_and_purge(agavepy_target: Target) -> None:
    out = agavepy_target.run(PRELUDE + '''
actor = ag.actors.add(body={"image": IMAGE, "stateless": False})
aid = actor["id"]
deadline = time.monotonic() + 120
while True:
    workers = ag.actors.listWorkers(actorId=aid)
    if (workers and all(w["status"] == "READY" for w in workers)) or time.monotonic() > deadline:
        break
    time.sleep(0.3)
worker = ag.actors.getWorker(actorId=aid, workerId=workers[0]["id"])
refused = failure(lambda: ag.actors.addWorker(actorId=aid, body={"num": 1}))  # admin only
added = client(os.environ.get("ADMIN_TOKEN")).actors.addWorker(actorId=aid, body={"num": 1})
ag.actors.updateState(actorId=aid, body={"count": 3, "names": ["a", "b"]})
state = ag.actors.getState(actorId=aid)["state"]
before = ag.actors.getPermissions(actorId=aid)
after = ag.actors.updatePermissions(actorId=aid, body={"user": "agave-reader", "level": "READ"})
try:  # the purge happens; agavepy 0.9.5 then fails on its own undeclared response model
    ag.actors.deleteMessages(actorId=aid)
    purge = "returned"
except KeyError as exc:
    purge = ["KeyError", str(exc)]
messages = ag.actors.getMessages(actorId=aid)["messages"]
emit({"id": aid, "workers": [[w["actor_id"], w["status"]] for w in workers], "worker": worker["id"],
      "first": workers[0]["id"], "refused": refused, "added": added, "state": state, "before": before,
      "after": after, "purge": purge, "messages": messages})
''', **({"ADMIN_TOKEN": bearer("agave-admin", "admin")} if agavepy_target.mode == "jwt" else {}))
    assert out["workers"] and all(worker == [out["id"], "READY"] for worker in out["workers"])
    assert out["worker"] == out["first"]
    if agavepy_target.mode == "jwt":
        assert out["refused"][0] == 400 and "admin" in out["refused"][1]
    else:
        assert out["refused"] is None
    assert out["state"] == {"count": 3, "names": ["a", "b"]}
    owner = agavepy_target.owner
    assert out["before"] == {owner: "UPDATE"}
    assert out["after"] == {owner: "UPDATE", "agave-reader": "READ"}
    assert out["purge"] == ["KeyError", "'ActorMessagesDeleteResponse'"] and out["messages"] == 0
    if agavepy_target.mode == "jwt":  # the grant is real: the reader reads, and only reads
        reader = agavepy_target.as_user("agave-reader", {"CLIENT_TOKEN": bearer("agave-reader")})
        seen = reader.run(PRELUDE + '''
aid = os.environ["ACTOR"]
emit({"got": ag.actors.get(actorId=aid)["id"],
      "send": failure(lambda: ag.actors.sendMessage(actorId=aid, body={"message": "no"}))[0],
      "stranger": failure(lambda: client(os.environ["STRANGER"]).actors.get(actorId=aid))[0]})
''', ACTOR=out["id"], STRANGER=bearer("agave-stranger"))
        assert seen == {"got": out["id"], "send": 400, "stranger": 400}
    admin = {"ADMIN_TOKEN": bearer("agave-admin", "admin")} if agavepy_target.mode == "jwt" else {}
    stopped = agavepy_target.run(PRELUDE + '''
aid, wid = os.environ["ACTOR"], os.environ["WORKER"]
refused = failure(lambda: ag.actors.deleteWorker(actorId=aid, workerId=wid))  # admin only here
# With no access control the first call was an admin's and stopped the (parked) worker, whose record then
# goes at once: a second stop finds nothing. With jwt, the admin's call stops it.
stopped = failure(lambda: client(os.environ.get("ADMIN_TOKEN")).actors.deleteWorker(actorId=aid, workerId=wid))
gone = failure(lambda: ag.actors.getWorker(actorId=aid, workerId=wid))
ag.actors.delete(actorId=aid)
emit([refused, stopped, gone and gone[0]])''', ACTOR=out["id"], WORKER=out["first"], **admin)
    if agavepy_target.mode == "jwt":
        assert stopped[0][0] == 400 and stopped[1] is None
    else:
        assert stopped[0] is None and stopped[1][0] == 404
    assert stopped[2] == 404  # the worker is gone either way


def test_aliases_and_nonces(agavepy_target: Target) -> None:
    alias = f"agavepy-{agavepy_target.mode}-alias"
    out = agavepy_target.run(PRELUDE + '''
alias = os.environ["ALIAS"]
actor = ag.actors.add(body={"image": IMAGE, "stateless": True})
aid = actor["id"]
made = ag.actors.addAlias(body={"alias": alias, "actorId": aid})
got = ag.actors.getAlias(alias=alias)
listed = [a["alias"] for a in ag.actors.listAliases()]
via_alias = ag.actors.sendMessage(actorId=alias, body={"message": "through the alias"})
execution = wait(aid, via_alias["execution_id"])
logs = ag.actors.getExecutionLogs(actorId=aid, executionId=via_alias["execution_id"])["logs"]
nonce = ag.actors.addNonce(actorId=aid, body={"level": "EXECUTE", "maxUses": 2})
nonces = ag.actors.listNonces(actorId=aid)
fetched = ag.actors.getNonce(actorId=aid, nonceId=nonce["id"])
redeemed = requests.post(os.environ["CLIENT_BASE"] + "/actors/v2/" + aid + "/messages",
                         params={"x-nonce": nonce["id"]}, data={"message": "with a nonce"},
                         verify=os.environ["CLIENT_CA"], proxies=PROXIES)
ag.actors.deleteNonce(actorId=aid, nonceId=nonce["id"])
gone = failure(lambda: ag.actors.getNonce(actorId=aid, nonceId=nonce["id"]))
ag.actors.deleteAlias(alias=alias)
emit({"id": aid, "made": [made["alias"], made["actor_id"]], "got": got["actor_id"], "listed": listed,
      "status": execution["status"], "logs": logs, "listed_nonces": len(nonces),
      "nonce": [nonce["level"], nonce["max_uses"], nonce["remaining_uses"]], "fetched": fetched["level"],
      "redeemed": [redeemed.status_code, redeemed.json()["result"]["msg"]], "gone": gone[0],
      "alias_gone": failure(lambda: ag.actors.getAlias(alias=alias))[0]})
ag.actors.delete(actorId=aid)
''', ALIAS=alias)
    assert out["made"] == [alias, out["id"]] and out["got"] == out["id"] and alias in out["listed"]
    assert out["status"] == "COMPLETE" and report(out["logs"])["env"]["MSG"] == "through the alias"
    assert out["nonce"] == ["EXECUTE", 2, 2] and out["fetched"] == "EXECUTE" and out["listed_nonces"] == 1
    assert out["redeemed"] == [200, "with a nonce"]
    assert out["gone"] == 404 and out["alias_gone"] == 404


def test_the_compatibility_page_example_runs(agavepy_target: Target) -> None:
    """docs/compatibility.md's agavepy example, as printed (it asserts what reached the container); the
    proxy comes from HTTPS_PROXY, which agavepy reads at import."""
    env = agavepy_target.env
    assert agavepy_target.run(doc_example("agavepy") + "\nemit(True)\n", ABACO_HTTPS_URL=env["CLIENT_BASE"],
                              ABACO_TOKEN=env["CLIENT_TOKEN"], ABACO_CA_FILE=env["CLIENT_CA"],
                              HTTPS_PROXY=env["CLIENT_PROXY"]) is True


def test_abaco_v2_assertion_header_with_jwt_and_jwt_header_name(clients_jwt_stack: Stack,
                                                                 agavepy_target: Target) -> None:
    """agavepy's own v2 form: ``jwt=`` in ``jwt_header_name=`` (X-Jwt-Assertion-<TENANT>), as inside TACC.
    Only collection calls: with ``jwt=`` agavepy strips ``/``, ``v`` and ``2`` from both ends of each URL
    (``/actors/v2`` becomes ``/actors``, served too), which would cut an actor id ending in ``v`` or ``2``."""
    if agavepy_target.mode != "jwt":
        pytest.skip("a v2 assertion header means something only with access control (jwt)")
    name, value = v2_header("agave-v2").split(":", 1)
    out = agavepy_target.run(PRELUDE + '''
v2 = Agave(api_server=os.environ["CLIENT_BASE"], jwt=os.environ["V2_JWT"], jwt_header_name=os.environ["V2_NAME"],
           verify=os.environ["CLIENT_CA"], proxies=PROXIES)
actor = v2.actors.add(body={"image": IMAGE, "name": "v2-header"})
listed = [a["id"] for a in v2.actors.list()]
emit({"actor": actor, "listed": listed, "anonymous": failure(lambda: Agave(api_server=os.environ["CLIENT_BASE"],
      jwt="not-a-jwt", jwt_header_name=os.environ["V2_NAME"], verify=os.environ["CLIENT_CA"],
      proxies=PROXIES).actors.list())})
''', V2_JWT=value, V2_NAME=name)
    assert out["actor"]["owner"] == "agave-v2" and out["actor"]["name"] == "v2-header"
    assert out["listed"] == [out["actor"]["id"]]
    assert out["anonymous"][0] == 401
    Api(clients_jwt_stack.api_url).call("DELETE", f"/actors/{out['actor']['id']}",
                                        headers=dict([v2_header("agave-v2").split(":", 1)]))
