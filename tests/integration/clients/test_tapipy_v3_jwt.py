"""The real tapipy 25.4.0 (PyPI, unmodified, in .venv-clients) with Tapis v3 access tokens, in ``jwt`` mode.

``Tapis(base_url=..., access_token=...)`` without ``tenant_id`` reads our Tenants API at start-up and finds
its tenant; every call then carries ``X-Tapis-Token``, whose tenant comes from the token alone. Roles come
from the role store: one granted in ``ABACO_ROLE_GRANTS`` works, and is revoked through the roles API and
``abaco roles`` from the next request on.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests

from local.launcher import Stack
from tests.clients import run_client
from tests.integration.clients.v3_jwt_stack import (  # noqa: F401 (v3_stack is a fixture)
    OTHER_TENANT,
    SETTINGS_ADMIN,
    TENANT,
    tapis_headers,
    v3_stack,
    v3_token,
)

ABACO = str(Path(sys.executable).parent / "abaco")

LIFECYCLE = """
import os, time
from tapipy.tapis import Tapis
t = Tapis(base_url=os.environ["BASE"], access_token=os.environ["TOKEN"])
actor = t.actors.create_actor(image="abacosamples/test", default_environment={"_abaco_test_sleep": "0"})
sent = t.actors.send_message(actor_id=actor.id, message="hello from tapipy")
deadline = time.monotonic() + 120
while True:
    execution = t.actors.get_execution(actor_id=actor.id, execution_id=sent.execution_id)
    if execution.status in ("COMPLETE", "ERROR") or time.monotonic() > deadline:
        break
    time.sleep(0.3)
logs = t.actors.get_execution_logs(actor_id=actor.id, execution_id=sent.execution_id)
listed = [a.id for a in t.actors.list_actors()]
executions = t.actors.list_executions(actor_id=actor.id)
t.actors.delete_actor(actor_id=actor.id)
after = [a.id for a in t.actors.list_actors()]
emit({"tenant_id": t.tenant_id, "owner": actor.owner, "actor_id": actor.id, "status": execution.status,
      "executor": execution.executor, "logs": logs.logs, "listed": listed, "after": after,
      "execution_ids": list(executions.ids)})
"""

GET_ACTOR = """
import os
from tapipy.tapis import Tapis
t = Tapis(base_url=os.environ["BASE"], access_token=os.environ["TOKEN"])
try:
    emit({"owner": t.actors.get_actor(actor_id=os.environ["ACTOR"]).owner})
except Exception as exc:
    emit({"error": str(exc)})
"""


def tapipy(stack: Stack, script: str, user: str, **env: str) -> Any:
    return run_client(script, env={"BASE": stack.api_url, "TOKEN": v3_token(user), **env})


def cli(stack: Stack, tmp_path: Path, user: str, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ABACO_")}
    clean.update({"HOME": str(tmp_path), "ABACO_URL": stack.api_url, "ABACO_TOKEN": v3_token(user)})
    return subprocess.run([ABACO, *args], env=clean, capture_output=True, text=True, timeout=60, check=False)


def test_tapipy_without_tenant_id_runs_an_actor_with_a_v3_token(v3_stack: Stack) -> None:  # noqa: F811
    seen = tapipy(v3_stack, LIFECYCLE, "alice")
    assert seen["tenant_id"] == TENANT  # found through /v3/tenants and /v3/sites, by base_url
    assert seen["owner"] == "alice" and seen["executor"] == "alice"
    assert seen["status"] == "COMPLETE"
    assert "Contents of MSG: hello from tapipy" in seen["logs"]
    assert seen["actor_id"] in seen["listed"] and seen["actor_id"] not in seen["after"]
    assert len(seen["execution_ids"]) == 1


def test_the_tenants_api_answers_as_tapis_does(v3_stack: Stack) -> None:  # noqa: F811
    tenants = requests.get(f"{v3_stack.api_url}/v3/tenants", timeout=10).json()["result"]
    assert [t["tenant_id"] for t in tenants][-1] == TENANT and {t["tenant_id"] for t in tenants} >= {
        TENANT, OTHER_TENANT}
    assert all(t["base_url"] == v3_stack.api_url and "BEGIN PUBLIC KEY" in t["public_key"] for t in tenants)
    sites = requests.get(f"{v3_stack.api_url}/v3/sites", timeout=10).json()["result"]
    assert sites[0]["site_id"] == tenants[0]["site_id"] and sites[0]["site_admin_tenant_id"] == TENANT
    one = requests.get(f"{v3_stack.api_url}/v3/tenants/{OTHER_TENANT}", timeout=10).json()["result"]
    assert one["tenant_id"] == OTHER_TENANT
    missing = requests.get(f"{v3_stack.api_url}/v3/tenants/nowhere", timeout=10)
    assert missing.status_code == 404 and missing.json()["status"] == "error"


def test_refresh_service_and_cross_tenant_tokens_get_the_same_401(v3_stack: Stack) -> None:  # noqa: F811
    url = f"{v3_stack.api_url}/v3/actors"
    good = requests.get(url, headers=tapis_headers("alice"), timeout=10)
    assert good.status_code == 200, good.text
    from tests import jwt_keys

    refused = {
        "refresh": v3_token("alice", token_type="refresh"),
        "service": v3_token("alice", account_type="service"),
        "dev token signed by tacc's key": jwt_keys.sign(jwt_keys.v3_claims("alice", TENANT), key_name="tapis-tacc"),
    }
    bodies = set()
    for name, token in refused.items():
        response = requests.get(url, headers={"X-Tapis-Token": token}, timeout=10)
        assert response.status_code == 401, f"{name}: {response.status_code} {response.text}"
        bodies.add(response.text)
    assert len(bodies) == 1
    # a tacc user never sees dev's actors: the tenant is the token's
    created = requests.post(url, headers=tapis_headers("alice"), json={"image": "abacosamples/noop"}, timeout=10)
    actor_id = created.json()["result"]["id"]
    other = requests.get(f"{url}/{actor_id}", headers=tapis_headers("alice", OTHER_TENANT), timeout=10)
    assert other.status_code == 404
    requests.delete(f"{url}/{actor_id}", headers=tapis_headers("alice"), timeout=10)


def test_a_granted_role_works_and_a_revoked_one_stops_on_the_next_request(v3_stack: Stack,  # noqa: F811
                                                                        tmp_path: Path) -> None:
    url = f"{v3_stack.api_url}/v3/actors"
    created = requests.post(url, headers=tapis_headers("roles-owner"), json={"image": "abacosamples/noop"},
                            timeout=10)
    actor_id = created.json()["result"]["id"]
    # the settings' admin reads any actor of the tenant; a plain user cannot
    assert tapipy(v3_stack, GET_ACTOR, SETTINGS_ADMIN, ACTOR=actor_id) == {"owner": "roles-owner"}
    assert "error" in tapipy(v3_stack, GET_ACTOR, "carol", ACTOR=actor_id)
    granted = cli(v3_stack, tmp_path, SETTINGS_ADMIN, "roles", "grant", "carol", "abaco_admin", "--json")
    assert granted.returncode == 0, granted.stderr
    assert '"source": "api"' in granted.stdout and "abaco_admin" in granted.stdout
    assert tapipy(v3_stack, GET_ACTOR, "carol", ACTOR=actor_id) == {"owner": "roles-owner"}
    revoked = cli(v3_stack, tmp_path, SETTINGS_ADMIN, "roles", "revoke", "carol")
    assert revoked.returncode == 0, revoked.stderr
    assert "error" in tapipy(v3_stack, GET_ACTOR, "carol", ACTOR=actor_id)
    # the grant from ABACO_ROLE_GRANTS is revoked through the roles API too (an admin revoking itself)
    shown = requests.get(f"{v3_stack.api_url}/actors/admin/roles/{SETTINGS_ADMIN}",
                         headers=tapis_headers(SETTINGS_ADMIN), timeout=10).json()["result"]
    assert shown["roles"] == ["abaco_admin"] and shown["source"] == "settings"
    gone = requests.delete(f"{v3_stack.api_url}/actors/admin/roles/{SETTINGS_ADMIN}",
                           headers=tapis_headers(SETTINGS_ADMIN), timeout=10)
    assert gone.status_code == 200 and gone.json()["result"]["roles"] == []
    assert "error" in tapipy(v3_stack, GET_ACTOR, SETTINGS_ADMIN, ACTOR=actor_id)
    again = requests.get(f"{v3_stack.api_url}/actors/admin/roles/carol", headers=tapis_headers(SETTINGS_ADMIN),
                         timeout=10)
    assert again.status_code == 400  # no longer an admin: the roles API itself is refused
    bad = requests.put(f"{v3_stack.api_url}/actors/admin/roles/carol", headers=tapis_headers("alice"),
                       json={"roles": ["abaco_admin"]}, timeout=10)
    assert bad.status_code == 400
    requests.delete(f"{url}/{actor_id}", headers=tapis_headers("roles-owner"), timeout=10)
