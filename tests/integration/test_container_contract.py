"""The container contract (reference §3), run against a cold and a warm runner: an actor cannot tell a
pre-started container from a fresh one. Real emulator, API, runner and Docker."""
from __future__ import annotations

import hashlib
import json
import os
import urllib.parse

import pytest

from chalicelib.domain.models import parse_time
from tests.integration.probe import probe_image, report  # noqa: F401  (fixture)
from tests.integration.warm import (  # noqa: F401  (fixtures)
    Mode,
    mode_fixture,
    shape_image_fixture,
    shape_report,
    warm_api_fixture,
    warm_stack_fixture,
    was_warm,
)

TENANT = "DEV-DEVELOP"  # the default tenant of access_control=none
# What Docker and the image give every probe container besides Abaco's variables.
IMAGE_VARS = {"PATH", "HOSTNAME", "HOME", "LANG", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "SSL_CERT_FILE"}
ABACO_VARS = {"_abaco_access_token", "_abaco_actor_dbid", "_abaco_actor_id", "_abaco_worker_id",
              "_abaco_container_repo", "_abaco_actor_state", "_abaco_actor_name", "_abaco_actor_revision",
              "_abaco_execution_id", "_abaco_execution_attempt", "_abaco_Content_Type", "_abaco_username",
              "_abaco_api_server", "_actor_configs", "MSG"}
AWKWARD = {
    "NEWLINES": "line one\nline two\n\nlast\n",
    "QUOTES": "single ' double \" back ` dollar $HOME $(id) ${X} \\n \\ end\\",
    "UNICODE": "é ā ü 中文 🚀 \u0081\u0085\u00a0 \u2028",
    "CONTROL": "".join(chr(c) for c in range(1, 32)) + "\x7f",
    "EMPTY": "",
    "SPACES": "  leading and trailing  ",
    "EQUALS": "a=b=c",
}


def _send(mode: Mode, actor_id: str, message: str = "m", **env: str):
    query = urllib.parse.urlencode(env)
    return lambda: mode.api.ok("POST", f"/actors/{actor_id}/messages?{query}",
                               data={"message": message})["execution_id"]


@pytest.fixture(scope="module")
def probe(mode: Mode, probe_image: str) -> str:  # noqa: F811
    return mode.actor(image=probe_image, max_workers=1,
                      default_environment={"FROM_DEFAULT": "d", "OVERRIDDEN": "by default", **AWKWARD})["id"]


def test_the_environment_is_exactly_abacos(mode: Mode, probe: str) -> None:
    execution = mode.run(probe, _send(mode, probe, "hello there", OVERRIDDEN="by query", extra="q"))
    env = report(mode.api.logs(probe, execution["id"]))["env"]
    assert set(env) == IMAGE_VARS | ABACO_VARS | set(AWKWARD) | {"FROM_DEFAULT", "OVERRIDDEN", "extra"}
    assert env["MSG"] == "hello there" and env["_abaco_Content_Type"] == "str"
    assert env["_abaco_execution_id"] == execution["id"] and env["_abaco_actor_id"] == probe
    assert (env["FROM_DEFAULT"], env["OVERRIDDEN"], env["extra"]) == ("d", "by query", "q")
    assert env["_actor_configs"] == "{}" and env["_abaco_actor_state"] == "{}"
    assert env["LANG"] == "C.UTF-8" and env["PATH"].startswith("/usr/local/sbin")
    assert len(env["HOSTNAME"]) == 12


def test_any_character_reaches_the_environment_unchanged(mode: Mode, probe: str) -> None:
    execution = mode.run(probe, _send(mode, probe, "it's a \"quoted\"\nmulti-line $MSG"))
    env = report(mode.api.logs(probe, execution["id"]))["env"]
    assert {k: env[k] for k in AWKWARD} == AWKWARD
    assert env["MSG"] == "it's a \"quoted\"\nmulti-line $MSG"


def test_a_json_message_is_its_python_repr(mode: Mode, probe: str) -> None:
    def send() -> str:
        return mode.api.ok("POST", f"/actors/{probe}/messages", json={"k": [1, None, "x'y"]})["execution_id"]

    env = report(mode.api.logs(probe, mode.run(probe, send)["id"]))["env"]
    assert env["MSG"] == "{'k': [1, None, \"x'y\"]}" and env["_abaco_Content_Type"] == "application/json"


def test_results_socket_user_and_logs_without_anything_else(mode: Mode, probe: str) -> None:
    execution = mode.run(probe, _send(mode, probe, PROBE_RESULTS=json.dumps(["r1", "r2"]), PROBE_STDERR="to stderr"))
    logs = mode.api.logs(probe, execution["id"])
    seen = report(logs)
    assert (seen["uid"], seen["gid"]) == (10000, 10000)  # ABACO_CONTAINER_USER's default
    assert seen["results"] == {"exists": True, "kind": "socket", "mode": "0o777"}
    assert seen["binary"] == {"exists": False} and seen["message"] == {"exists": False}
    assert sorted(logs.splitlines()) == sorted(["to stderr", "PROBE " + json.dumps(seen)])  # no shim output
    popped = [mode.api.call("GET", f"/actors/{probe}/executions/{execution['id']}/results").content
              for _ in range(3)]
    assert popped == [b"r1", b"r2", b""]


def test_the_root_filesystem_is_read_only_with_a_writable_tmp(mode: Mode, probe: str) -> None:
    """ABACO_CONTAINER_READ_ONLY's default: "/" refuses writes with EROFS (not merely EACCES for the
    non-root uid), /tmp is a writable tmpfs, and the results socket still works. The process has no
    capability, no-new-privileges and the default seccomp filter (plan T12), cold and warm alike."""
    execution = mode.run(probe, _send(mode, probe, PROBE_RESULTS=json.dumps(["ro"])))
    seen = report(mode.api.logs(probe, execution["id"]))
    assert seen["writes"] == {"root": "EROFS", "tmp": True}
    no_caps = "0000000000000000"
    assert seen["status"] == {"CapPrm": no_caps, "CapEff": no_caps, "CapBnd": no_caps, "NoNewPrivs": "1",
                              "Seccomp": "2"}
    assert seen["sent"] == ["ro"] and execution["status"] == "COMPLETE"
    popped = mode.api.call("GET", f"/actors/{probe}/executions/{execution['id']}/results").content
    assert popped == b"ro"


def test_exit_code_is_recorded(mode: Mode, probe: str) -> None:
    execution = mode.run(probe, _send(mode, probe, PROBE_EXIT="3"))
    assert (execution["status"], execution["exit_code"]) == ("COMPLETE", 3)
    assert execution["final_state"]["ExitCode"] == 3


@pytest.fixture(scope="module")
def shaped(mode: Mode, shape_image: str) -> str:
    return mode.actor(image=shape_image, use_container_uid=True)["id"]  # the image's own USER


def test_the_images_entrypoint_command_workdir_and_user(mode: Mode, shaped: str) -> None:
    actor = shaped
    execution = mode.run(actor, _send(mode, actor, SHAPE_EXIT="5"))
    seen = shape_report(mode.api.logs(actor, execution["id"]))
    assert seen == {"pid": "1", "cwd": "/work/dir", "uid": "4321", "gid": "4322", "argv": "first,second,third"}
    assert execution["exit_code"] == 5


def test_timing_fields_count_from_the_message(mode: Mode, probe: str) -> None:
    execution = mode.run(probe, _send(mode, probe, PROBE_SLEEP="1.2"))
    phases = execution["phases"]
    started_at = parse_time(execution["final_state"]["StartedAt"])
    assert started_at is not None and started_at.timestamp() >= phases["claimed"]
    assert phases["claimed"] <= phases["created"] <= phases["started"] <= phases["exited"]
    assert execution["runtime"] in (1, 2)
    assert 0 < execution["cpu"] < 2_000_000_000  # a python start-up, not the seconds the shim waited


def test_binary_messages_start_cold_with_their_file(mode: Mode, probe: str) -> None:
    payload = bytes(range(256)) * 10

    def send() -> str:
        return mode.api.ok("POST", f"/actors/{probe}/messages", data=payload,
                           headers={"Content-Type": "application/octet-stream"})["execution_id"]

    if mode.name == "warm":
        mode.run(probe, _send(mode, probe))  # a pre-started container is now waiting
    execution = mode.api.wait_execution(probe, send())
    seen = report(mode.api.logs(probe, execution["id"]))
    assert seen["binary"]["kind"] == "file" and seen["binary"]["size"] == len(payload)
    assert "MSG" not in seen["env"]
    assert not was_warm(execution)  # a per-execution bind mount: the pool cannot serve it


# --- every value, state, configs, message files ---------------------------------------

def test_every_abaco_variable_has_its_value(mode: Mode, probe: str, probe_image: str) -> None:  # noqa: F811
    execution = mode.run(probe, _send(mode, probe, "values"))
    env = report(mode.api.logs(probe, execution["id"]))["env"]
    actor = mode.api.ok("GET", f"/actors/{probe}")
    expected = {
        "_abaco_execution_id": execution["id"], "_abaco_execution_attempt": str(execution["attempt"]),
        "_abaco_Content_Type": "str", "_abaco_actor_revision": str(actor["revision"]),
        "_abaco_username": "anonymous", "_abaco_api_server": actor["_links"]["self"].split("/actors/")[0],
        "_abaco_access_token": "",  # the actor has no token
        "_abaco_actor_dbid": f"{TENANT}_{probe}", "_abaco_actor_id": probe,
        "_abaco_worker_id": execution["worker_id"], "_abaco_container_repo": probe_image,
        "_abaco_actor_name": "None",  # Abaco's spelling for an unnamed actor
    }
    assert {k: env[k] for k in expected} == expected
    assert "_abaco_jwt_header_name" not in env  # set only when a JWT authenticated the sender


def test_state_and_configs_are_python_reprs_with_secrets_decrypted(mode: Mode, probe_image: str) -> None:  # noqa: F811
    actor = mode.actor(image=probe_image, stateless=False, name="stateful-probe")["id"]
    mode.api.ok("POST", f"/actors/{actor}/state", json={"count": 1, "tags": ["a"], "ok": True})
    names = [f"contract{mode.name}{os.getpid()}{kind}" for kind in ("plain", "secret")]
    for name, secret in zip(names, (False, True), strict=True):
        mode.api.ok("POST", "/actors/configs", json={"name": name, "value": f"value-of-{name}",
                                                     "is_secret": secret, "actors": actor})
    try:
        env = report(mode.api.logs(actor, mode.run(actor, _send(mode, actor))["id"]))["env"]
    finally:
        for name in names:
            mode.api.call("DELETE", f"/actors/configs/{name}")
    assert env["_abaco_actor_state"] == "{'count': 1, 'tags': ['a'], 'ok': True}"
    assert env["_actor_configs"] == repr({n: f"value-of-{n}" for n in names})
    assert env["_abaco_actor_name"] == "stateful-probe"


def test_a_message_too_large_for_msg_is_a_read_only_file(mode: Mode, probe: str) -> None:
    text = "z" * 200_000  # over the kernel's 128 KiB limit for one environment string

    def send() -> str:
        return mode.api.ok("POST", f"/actors/{probe}/messages", data={"message": text})["execution_id"]

    execution = mode.api.wait_execution(probe, send())  # a per-execution bind mount: may start cold
    assert execution["status"] == "COMPLETE"
    seen = report(mode.api.logs(probe, execution["id"]))
    assert "MSG" not in seen["env"] and seen["env"]["_abaco_message_file"] == "/_abaco_message"
    assert (seen["message"]["kind"], seen["message"]["writable"]) == ("file", False)
    digest = hashlib.sha256(text.encode()).hexdigest()
    assert (seen["message"]["size"], seen["message"]["sha256"]) == (len(text), digest)
    assert seen["context"]["message_kind"] == "str" and seen["binary"] == {"exists": False}


def test_binary_file_content_and_read_only(mode: Mode, probe: str) -> None:
    payload = os.urandom(70_000) + b"\x00\xff"

    def send() -> str:
        return mode.api.ok("POST", f"/actors/{probe}/messages", data=payload,
                           headers={"Content-Type": "application/octet-stream"})["execution_id"]

    execution = mode.api.wait_execution(probe, send())
    seen = report(mode.api.logs(probe, execution["id"]))
    assert seen["env"]["_abaco_Content_Type"] == "application/octet-stream"
    assert (seen["binary"]["kind"], seen["binary"]["writable"]) == ("file", False)  # never a FIFO
    assert (seen["binary"]["size"], seen["binary"]["sha256"]) == (len(payload), hashlib.sha256(payload).hexdigest())
