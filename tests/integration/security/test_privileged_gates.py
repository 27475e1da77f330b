"""Gates of privileged actors at run time and in nonces (reliability plan §3.3, gates 3 to 5), over HTTP on the jwt
stack with a runner of the privileged pool. Docker's event log witnesses that a refused run creates no
container; the privileged runner's own JSON log holds the audit lines."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import docker
import pytest
import requests

from local.launcher import Stack
from runners.pipeline.engine import LABEL_ACTOR
from tests.conftest import wait_for
from tests.integration.security.conftest import privileged_runner

pytestmark = pytest.mark.docker


def _audit_lines(stack: Stack, runner: str, execution_id: str) -> list[dict[str, Any]]:
    lines = []
    for line in Path(stack.log_dir, f"{runner}.log").read_text(errors="replace").splitlines():
        if line.startswith("{") and execution_id in line:
            record = json.loads(line)
            if record.get("audit") == "privileged_run" and record.get("execution_id") == execution_id:
                lines.append(record)
    return lines


def _containers_created(actor_id: str, since: float) -> int:
    client = docker.from_env()
    try:
        return len(list(client.api.events(since=int(since), until=int(time.time()) + 1, decode=True,
                                          filters={"type": "container", "event": "create",
                                                   "label": f"{LABEL_ACTOR}={actor_id}"})))
    finally:
        client.close()


def test_a_revoked_role_stops_the_next_privileged_run_and_every_run_is_audited(jwt_stack: Stack,
                                                                              client: Any) -> None:
    runner = privileged_runner(jwt_stack)
    priya = client("priya", role="privileged")
    actor = priya.ok("POST", "/actors", json={"image": "abacosamples/noop", "privileged": True})["id"]
    revoked = client("priya")  # her tokens now carry only the user role (every call records that)
    since = time.time() - 1
    refused = revoked.ok("POST", f"/actors/{actor}/messages", data={"message": "x"})["execution_id"]
    failed = revoked.wait_execution(actor, refused)
    assert failed["status"] == "ERROR"
    assert "owner priya no longer holds the privileged or admin role" in failed["status_message"]
    assert _containers_created(actor, since) == 0
    [line] = wait_for(lambda: _audit_lines(jwt_stack, runner, refused), 20, what="the refusal's audit line")
    assert (line["level"], line["allowed"], line["owner"], line["actor_id"]) == ("WARNING", False, "priya", actor)

    restored = priya.ok("POST", f"/actors/{actor}/messages", data={"message": "y"})["execution_id"]  # role back
    assert priya.wait_execution(actor, restored)["status"] == "COMPLETE"
    [line] = wait_for(lambda: _audit_lines(jwt_stack, runner, restored), 20, what="the run's audit line")
    assert line["allowed"] is True and (line["tenant"], line["owner"], line["actor_id"]) == (
        "TENANT-A", "priya", actor)
    assert line["runner_id"] and line["worker_id"] and line["image"] == "abacosamples/noop"


def test_a_nonce_never_carries_the_admin_or_privileged_role(jwt_stack: Stack, client: Any) -> None:
    owner = client("nadia")
    theirs = owner.ok("POST", "/actors", json={"image": "abacosamples/noop"})["id"]
    admin = client("adam", role="admin")
    minted = admin.ok("POST", f"/actors/{theirs}/nonces", json={"level": "READ"})  # the admin role allows it
    assert minted["roles"] == ["user"]
    used = jwt_stack.api_url + f"/actors/{theirs}?x-nonce={minted['id']}"
    response = requests.get(used, timeout=30)
    assert response.status_code == 400 and "Not authorized" in response.json()["message"]  # no admin bypass

    mine = admin.ok("POST", "/actors", json={"image": "abacosamples/noop"})["id"]
    update = admin.ok("POST", f"/actors/{mine}/nonces", json={"level": "UPDATE"})["id"]
    put = requests.put(jwt_stack.api_url + f"/actors/{mine}?x-nonce={update}", timeout=30,
                       json={"image": "abacosamples/noop", "privileged": True})
    assert put.status_code == 400 and "only admins and privileged users" in put.json()["message"]
    assert admin.ok("GET", f"/actors/{mine}")["privileged"] is False
    plain = requests.put(jwt_stack.api_url + f"/actors/{mine}?x-nonce={update}", timeout=30,
                         json={"image": "abacosamples/noop", "description": "by nonce"})
    assert plain.status_code == 200, plain.text  # the user role still works through the nonce
