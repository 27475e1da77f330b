"""tapipy 25.4.0 (Tapis v3's client, from PyPI, unmodified) drives Abaco's common calls end to end.

tapipy loads its bundled OpenAPI spec of actors: ``/v3/actors/...`` paths, ``send_binary_message`` on
``/v3/actors/{id}//messages`` (merged by the gateway, ``chalicelib/edge/paths.py``), no ``Accept`` on
``get_execution_result``, the message in ``message=`` (``request_body`` is ignored for operations whose
body has declared properties). Without access control and in jwt mode with Abaco v2 tokens (an
``X-Jwt-Assertion-<TENANT>`` header added by a tapipy pre-request plugin hook). Tapis v3 tokens
(``X-Tapis-Token``) have their own suite beside this one.
"""
from __future__ import annotations

import hashlib
import json

from local.launcher import Stack
from tests.integration.clients import Target, doc_example
from tests.integration.clients.conftest import v2_header
from tests.integration.probe import report

PRELUDE = '''
import os, time
from tapipy.tapis import Tapis
from tapipy import errors

def client(header=None):
    t = Tapis(base_url=os.environ["CLIENT_BASE"], tenant_id=os.environ["CLIENT_TENANT"])
    header = header or os.environ.get("CLIENT_HEADER")
    if header:  # Abaco v2's assertion header, as the Agave gateway added it
        name, value = header.split(":", 1)
        t.plugin_on_call_pre_request_callables.append(lambda op, request, **_: request.headers.update({name: value}))
    return t

t = client()
IMAGE = os.environ["CLIENT_IMAGE"]

def wait(actor_id, execution_id):
    deadline = time.monotonic() + 120
    while True:
        execution = t.actors.get_execution(actor_id=actor_id, execution_id=execution_id)
        if execution.status in ("COMPLETE", "ERROR") or time.monotonic() > deadline:
            return execution
        time.sleep(0.3)

def failure(call):
    try:
        call()
    except errors.BaseTapyException as exc:
        return [type(exc).__name__, exc.response.status_code if exc.response is not None else None]
    return None
'''


def test_actors_create_get_list_update_search_delete(tapipy_target: Target) -> None:
    out = tapipy_target.run(PRELUDE + '''
actor = t.actors.create_actor(image=IMAGE, stateless=True, description="made by tapipy",
                              default_environment={"GREETING": "hi"})
got = t.actors.get_actor(actor_id=actor.id)
listed = [a.id for a in t.actors.list_actors()]
updated = t.actors.update_actor(actor_id=actor.id, image=IMAGE, description="updated by tapipy",
                                default_environment={"GREETING": "hello"})
found = t.actors.search_database(search_type="actors", search=actor.id)
t.actors.delete_actor(actor_id=actor.id)
emit({"id": actor.id, "owner": actor.owner, "status": actor.status, "got": [got.id, got.image, got.description],
      "listed": listed, "updated": [updated.description, updated.default_environment.GREETING],
      "found": [a.id for a in found.search], "total": found._metadata.total_count,
      "after_delete": failure(lambda: t.actors.get_actor(actor_id=actor.id))})
''')
    assert out["owner"] == tapipy_target.owner
    assert out["got"] == [out["id"], tapipy_target.env["CLIENT_IMAGE"], "made by tapipy"]
    assert out["id"] in out["listed"]
    assert out["updated"] == ["updated by tapipy", "hello"]
    assert out["found"] == [out["id"]] and out["total"] == 1
    assert out["after_delete"] == ["NotFoundError", 404]


def test_text_json_and_binary_messages_reach_the_container(tapipy_target: Target) -> None:
    payload = bytes(range(256)) * 4
    out = tapipy_target.run(PRELUDE + '''
import base64
actor = t.actors.create_actor(image=IMAGE, stateless=True, default_environment={"PROBE_RESULTS": '["first result"]'})
sent = {
    "text": t.actors.send_message(actor_id=actor.id, message="hello from tapipy"),
    "json": t.actors.send_json_message(actor_id=actor.id, message={"k": [1, "x"]}),
    "binary": t.actors.send_binary_message(actor_id=actor.id, message=base64.b64decode(os.environ["PAYLOAD"])),
}
queued = t.actors.get_messages(actor_id=actor.id).messages
out = {"queued": queued, "msg": {k: (v.msg if isinstance(v.msg, str) else v.msg.__dict__) for k, v in sent.items()}}
for kind, message in sent.items():
    execution = wait(actor.id, message.execution_id)
    out[kind] = {"id": message.execution_id, "status": execution.status, "actor_id": execution.actor_id,
                 "logs": t.actors.get_execution_logs(actor_id=actor.id, execution_id=message.execution_id).logs,
                 "result": t.actors.get_execution_result(actor_id=actor.id, execution_id=message.execution_id).decode()}
summary = t.actors.list_executions(actor_id=actor.id)
out["executions"] = sorted(e.id for e in summary.executions)
out["total"] = summary.total_executions
t.actors.delete_actor(actor_id=actor.id)
emit(out)
''', PAYLOAD=__import__("base64").b64encode(payload).decode())
    assert out["msg"] == {"text": "hello from tapipy", "json": {"k": [1, "x"]}, "binary": "binary - omitted"}
    assert 0 <= out["queued"] <= 3
    for kind in ("text", "json", "binary"):
        assert out[kind]["status"] == "COMPLETE", out[kind]
        assert out[kind]["result"] == "first result"
    text, structured, binary = (report(out[kind]["logs"]) for kind in ("text", "json", "binary"))
    assert text["env"]["MSG"] == "hello from tapipy" and text["env"]["_abaco_Content_Type"] == "str"
    assert structured["env"]["MSG"] == "{'k': [1, 'x']}" and structured["context"]["dict_keys"] == ["k"]
    assert binary["env"]["_abaco_Content_Type"] == "application/octet-stream" and "MSG" not in binary["env"]
    assert (binary["binary"]["size"], binary["binary"]["sha256"]) == (len(payload), hashlib.sha256(payload).hexdigest())
    assert out["executions"] == sorted(out[kind]["id"] for kind in ("text", "json", "binary"))
    assert out["total"] == 3


def test_workers_state_and_permissions(tapipy_target: Target) -> None:
    out = tapipy_target.run(PRELUDE + '''
actor = t.actors.create_actor(image=IMAGE, stateless=False)
def ready():
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        workers = t.actors.list_workers(actor_id=actor.id)
        if workers and all(w.status == "READY" for w in workers):
            return workers
        time.sleep(0.3)
    return t.actors.list_workers(actor_id=actor.id)
workers = ready()
refused = failure(lambda: t.actors.manage_worker_pool_size(actor_id=actor.id, num=1))  # admin only
pool = client(os.environ.get("ADMIN_HEADER")).actors.manage_worker_pool_size(actor_id=actor.id, num=1)
t.actors.update_state(actor_id=actor.id, request_body={"count": 3, "names": ["a", "b"]})
state = t.actors.get_state(actor_id=actor.id).state
before = t.actors.list_permissions(actor_id=actor.id).__dict__
after = t.actors.update_permissions(actor_id=actor.id, user="tap-reader", level="READ").__dict__
purged = t.actors.delete_pending_messages(actor_id=actor.id)
emit({"purged": [purged.msg, t.actors.get_messages(actor_id=actor.id).messages],
      "id": actor.id, "workers": [[w.actor_id, w.status] for w in workers], "pool": pool, "refused": refused,
      "state": state.__dict__, "before": before, "after": after})
''', **({"ADMIN_HEADER": v2_header("tap-admin", "admin")} if tapipy_target.mode == "jwt" else {}))
    assert out["workers"] and all(worker == [out["id"], "READY"] for worker in out["workers"])
    assert out["pool"]["status"] == "success"
    assert out["refused"] == (["BadRequestError", 400] if tapipy_target.mode == "jwt" else None)
    assert out["state"] == {"count": 3, "names": ["a", "b"]}
    assert out["purged"] == ["Actor mailbox purged.", 0]
    owner = tapipy_target.owner
    assert out["before"] == {owner: "UPDATE"}
    assert out["after"] == {owner: "UPDATE", "tap-reader": "READ"}
    if tapipy_target.mode == "jwt":  # the grant is real: the reader reads, and only reads
        reader = tapipy_target.as_user("tap-reader", {"CLIENT_HEADER": v2_header("tap-reader")})
        seen = reader.run(PRELUDE + '''
actor_id = os.environ["ACTOR"]
emit({"got": t.actors.get_actor(actor_id=actor_id).id,
      "send": failure(lambda: t.actors.send_message(actor_id=actor_id, message="no")),
      "stranger": failure(lambda: client(os.environ["STRANGER"]).actors.get_actor(actor_id=actor_id))})
''', ACTOR=out["id"], STRANGER=v2_header("tap-stranger"))
        assert seen == {"got": out["id"], "send": ["BadRequestError", 400], "stranger": ["BadRequestError", 400]}
    tapipy_target.run(PRELUDE + 't.actors.delete_actor(actor_id=os.environ["ACTOR"])\nemit(True)', ACTOR=out["id"])


def test_aliases_and_nonces(tapipy_target: Target) -> None:
    alias = f"tapipy-{tapipy_target.mode}-alias"
    out = tapipy_target.run(PRELUDE + '''
alias = os.environ["ALIAS"]
first = t.actors.create_actor(image=IMAGE, stateless=True)
second = t.actors.create_actor(image=IMAGE, stateless=True)
made = t.actors.create_alias(alias=alias, actor_id=first.id)
got = t.actors.get_alias(alias=alias)
listed = [a.alias for a in t.actors.list_aliases()]
moved = t.actors.update_actor_alias(alias=alias, actor_id=second.id)
via_alias = t.actors.send_message(actor_id=alias, message="through the alias")
execution = wait(second.id, via_alias.execution_id)
logs = t.actors.get_execution_logs(actor_id=second.id, execution_id=via_alias.execution_id).logs
nonce = t.actors.create_nonce(actor_id=second.id, level="EXECUTE", max_uses=2)
nonces = t.actors.list_nonces(actor_id=second.id)
fetched = t.actors.get_nonce(actor_id=second.id, nonce_id=nonce.id)
anonymous = Tapis(base_url=os.environ["CLIENT_BASE"], tenant_id=os.environ["CLIENT_TENANT"])
redeemed = anonymous.actors.send_message(actor_id=second.id, message="with a nonce",
                                         _tapis_query_parameters={"x-nonce": nonce.id})
t.actors.delete_nonce(actor_id=second.id, nonce_id=nonce.id)
gone = failure(lambda: t.actors.get_nonce(actor_id=second.id, nonce_id=nonce.id))
t.actors.delete_alias(alias=alias)
emit({"first": first.id, "second": second.id, "made": [made.alias, made.actor_id], "got": got.actor_id,
      "listed": listed, "moved": moved.actor_id, "status": execution.status, "logs": logs,
      "nonce": [nonce.level, nonce.max_uses, nonce.remaining_uses], "listed_nonces": len(nonces),
      "fetched": fetched.level, "redeemed": redeemed.execution_id is not None, "gone": gone,
      "alias_gone": failure(lambda: t.actors.get_alias(alias=alias))})
for actor in (first, second):
    t.actors.delete_actor(actor_id=actor.id)
''', ALIAS=alias)
    assert out["made"] == [alias, out["first"]] and out["got"] == out["first"] and alias in out["listed"]
    assert out["moved"] == out["second"]
    assert out["status"] == "COMPLETE" and report(out["logs"])["env"]["MSG"] == "through the alias"
    assert out["nonce"] == ["EXECUTE", 2, 2] and out["fetched"] == "EXECUTE" and out["listed_nonces"] == 1
    assert out["redeemed"] is True
    assert out["gone"] == ["NotFoundError", 404] and out["alias_gone"] == ["NotFoundError", 404]


def test_a_reserved_word_alias_is_refused_in_abacos_envelope(tapipy_target: Target) -> None:
    out = tapipy_target.run(PRELUDE + '''
actor = t.actors.create_actor(image=IMAGE)
try:
    t.actors.create_alias(alias="v2", actor_id=actor.id)
    refused = None
except errors.BadRequestError as exc:
    refused = [exc.response.status_code, exc.response.json()]
t.actors.delete_actor(actor_id=actor.id)
emit(refused)
''')
    status, body = out
    assert status == 400 and body["status"] == "error" and body["result"] is None
    assert json.dumps(body["message"]).startswith('"v2 is a reserved word')


def test_the_compatibility_page_example_runs(stack: Stack) -> None:
    """docs/compatibility.md's tapipy example, as printed (it asserts what reached the container)."""
    assert Target("none").run(doc_example("tapipy") + "\nemit(True)\n", ABACO_URL=stack.api_url) is True
