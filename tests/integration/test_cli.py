"""The ``abaco`` command, run as a real process against the real API, emulator and Docker."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Api, wait_for

ABACO = str(Path(sys.executable).parent / "abaco")
COMMANDS = ("actors", "send", "executions", "logs", "workers", "aliases", "nonces", "permissions", "configs",
            "state")


@pytest.fixture
def api(api: Api) -> Iterator[Api]:
    """The session API, deleting every actor the test created (each holds a worker slot until its TTL)."""
    before = {a["id"] for a in api.ok("GET", "/actors")}
    yield api
    for actor in api.ok("GET", "/actors"):
        if actor["id"] not in before:
            api.call("DELETE", f"/actors/{actor['id']}")


def cli_env(api: Api, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ABACO_")}
    env.update({"HOME": str(tmp_path), "ABACO_URL": api.base, "COLUMNS": "200", **extra})
    return env


def abaco(api: Api, tmp_path: Path, *args: str, stdin: str | None = None, timeout: float = 120,
          **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ABACO, *args], env=cli_env(api, tmp_path, **extra), input=stdin, text=True,
                          capture_output=True, timeout=timeout, check=False)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    return result.stdout


def test_help_lists_every_command_group(api: Api, tmp_path: Path) -> None:
    text = ok(abaco(api, tmp_path, "--help"))
    for command in COMMANDS:
        assert command in text, command
    # Typer detects the shell from the process tree (shellingham), which a CI runner's may not show: the
    # explicit form names it (a background run here saw "Shell  not supported" from detection).
    completion = ok(abaco(api, tmp_path, "--show-completion", "bash", _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1"))
    assert "_ABACO_COMPLETE" in completion


@pytest.mark.docker
def test_create_prints_the_id_and_send_wait_prints_the_logs(api: Api, tmp_path: Path) -> None:
    actor_id = ok(abaco(api, tmp_path, "actors", "create", "abacosamples/test", "--name", "cli", "-e",
                        "FROM_CLI=yes")).strip()
    assert api.ok("GET", f"/actors/{actor_id}")["default_environment"] == {"FROM_CLI": "yes"}
    whole = json.loads(ok(abaco(api, tmp_path, "actors", "show", actor_id, "--json")))
    assert whole["id"] == actor_id and whole["name"] == "cli" and whole["image"] == "abacosamples/test"

    result = abaco(api, tmp_path, "send", actor_id, "hello from the cli", "--wait", "-e", "_abaco_test_sleep=0")
    logs = ok(result)
    assert "Contents of MSG: hello from the cli" in logs and "FROM_CLI=yes" in logs
    assert "COMPLETE" in result.stderr  # the status summary goes to stderr, the logs alone to stdout
    executions = json.loads(ok(abaco(api, tmp_path, "executions", "list", actor_id, "--json")))
    assert executions["total_executions"] == 1
    eid = executions["executions"][0]["id"]
    shown = json.loads(ok(abaco(api, tmp_path, "executions", "show", actor_id, eid, "--json")))
    assert shown["status"] == "COMPLETE" and shown["exit_code"] == 0
    assert "hello from the cli" in ok(abaco(api, tmp_path, "logs", actor_id, eid))
    table = ok(abaco(api, tmp_path, "actors", "list"))
    assert actor_id in table and "abacosamples/test" in table


@pytest.mark.docker
def test_json_message_and_json_output(api: Api, tmp_path: Path) -> None:
    actor_id = api.create_actor(image="abacosamples/test")["id"]
    sent = json.loads(ok(abaco(api, tmp_path, "send", actor_id, "--data", '{"a": 1}', "--json")))
    assert sent["msg"] == {"a": 1}
    done = json.loads(ok(abaco(api, tmp_path, "--json", "executions", "wait", actor_id, sent["execution_id"])))
    assert done["status"] == "COMPLETE" and "MSG={'a': 1}" in done["logs"]


@pytest.mark.docker
def test_logs_follow_streams_while_the_container_runs(api: Api, tmp_path: Path) -> None:
    actor_id = api.create_actor(image="abacosamples/sleep_loop")["id"]
    eid = api.ok("POST", f"/actors/{actor_id}/messages?_abaco_sleep_iterations=4", data={"message": "x"})[
        "execution_id"]
    proc = subprocess.Popen([ABACO, "logs", actor_id, eid, "--follow"], env=cli_env(api, tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # arrives while the container still runs
        status_at_first_line = api.ok("GET", f"/actors/{actor_id}/executions/{eid}")["status"]
        rest, _ = proc.communicate(timeout=90)
    finally:
        proc.kill()
    assert first.strip() == "Iteration 1" and status_at_first_line == "RUNNING"
    assert "Iteration 4" in rest and "Done after 4 iterations" in rest and proc.returncode == 0


def test_errors_print_the_api_message_with_trustworthy_exit_codes(api: Api, tmp_path: Path) -> None:
    missing = abaco(api, tmp_path, "actors", "show", "noSuchActor")
    assert missing.returncode == 3 and "not found" in missing.stderr and missing.stdout == ""
    refused = abaco(api, tmp_path, "actors", "create", "")
    assert refused.returncode == 4 and "image" in refused.stderr.lower()
    bad_json = abaco(api, tmp_path, "send", "anything", "--data", "{not json")
    assert bad_json.returncode == 2 and "not valid JSON" in bad_json.stderr
    no_url = abaco(api, tmp_path, "actors", "list", ABACO_URL="")
    assert no_url.returncode == 2 and "ABACO_URL" in no_url.stderr
    started = time.monotonic()
    unreachable = abaco(api, tmp_path, "actors", "list", ABACO_URL="http://127.0.0.1:9")
    assert unreachable.returncode == 7 and "failed" in unreachable.stderr
    assert time.monotonic() - started < 30  # bounded retries


def test_profile_file_supplies_url_and_tenant(api: Api, tmp_path: Path) -> None:
    ok(abaco(api, tmp_path, "--url", api.base, "--tenant", "CLI-TENANT", "profile", "set", "--name", "local",
             ABACO_URL=""))
    config_file = tmp_path / ".abaco" / "config"
    assert "CLI-TENANT" in config_file.read_text() and oct(config_file.stat().st_mode & 0o777) == "0o600"
    shown = json.loads(ok(abaco(api, tmp_path, "-p", "local", "profile", "show", "--json", ABACO_URL="")))
    assert shown["url"] == api.base and shown["tenant"] == "CLI-TENANT"
    actor_id = ok(abaco(api, tmp_path, "-p", "local", "actors", "create", "abacosamples/noop", ABACO_URL="")).strip()
    in_tenant = api.ok("GET", f"/actors/{actor_id}", headers={"tenant": "CLI-TENANT"})
    assert in_tenant["id"] == actor_id
    assert api.call("GET", f"/actors/{actor_id}").status_code == 404  # not in the default tenant
    ok(abaco(api, tmp_path, "-p", "local", "actors", "delete", actor_id, ABACO_URL=""))


def test_dynamic_completion_offers_actor_ids(api: Api, tmp_path: Path) -> None:
    actor_id = api.create_actor(image="abacosamples/noop", name="complete-me")["id"]
    result = abaco(api, tmp_path, _ABACO_COMPLETE="complete_bash", COMP_WORDS="abaco actors show ",
                   COMP_CWORD="3")
    assert actor_id in ok(result).split()


def test_update_keeps_unchanged_fields(api: Api, tmp_path: Path) -> None:
    actor = api.create_actor(image="abacosamples/noop", description="before", default_environment={"K": "v"})
    ok(abaco(api, tmp_path, "actors", "update", actor["id"], "--description", "after"))
    updated = api.ok("GET", f"/actors/{actor['id']}")
    assert updated["description"] == "after" and updated["default_environment"] == {"K": "v"}
    deleted = abaco(api, tmp_path, "actors", "delete", actor["id"])
    assert ok(deleted) and api.call("GET", f"/actors/{actor['id']}").status_code == 404


@pytest.mark.docker
def test_state_and_workers(api: Api, tmp_path: Path) -> None:
    actor = api.create_actor(image="abacosamples/noop", stateless=False)
    ok(abaco(api, tmp_path, "state", "set", actor["id"], '{"count": 3}'))
    assert json.loads(ok(abaco(api, tmp_path, "state", "show", actor["id"]))) == {"count": 3}
    wait_for(lambda: api.ok("GET", f"/actors/{actor['id']}/workers"), 60, what="a worker")
    workers = json.loads(ok(abaco(api, tmp_path, "workers", "list", actor["id"], "--json")))
    assert workers and workers[0]["status"] in ("REQUESTED", "READY", "BUSY", "SPAWNER SETUP", "CREATING CONTAINER")


@pytest.mark.docker
def test_binary_file_results_and_synchronous_messages(api: Api, tmp_path: Path) -> None:
    echo = api.create_actor(image="abacosamples/test")["id"]
    payload = tmp_path / "payload.bin"
    payload.write_bytes(b"\x00\x01binary" * 1000)
    logs = ok(abaco(api, tmp_path, "send", echo, "--file", str(payload), "--wait", "-e", "_abaco_test_sleep=0"))
    assert "_abaco_Content_Type=application/octet-stream" in logs and "MSG=" not in logs

    wc = api.create_actor(image="abacosamples/wc")["id"]
    eid = ok(abaco(api, tmp_path, "send", wc, "one two three")).strip()
    ok(abaco(api, tmp_path, "executions", "wait", wc, eid))
    ok(abaco(api, tmp_path, "executions", "result", wc, eid, "--output", str(tmp_path / "count")))
    assert (tmp_path / "count").read_bytes() == b"3"
    assert ok(abaco(api, tmp_path, "executions", "result", wc, eid)) == ""  # each result is popped once
    assert ok(abaco(api, tmp_path, "send", wc, "a b c d", "--sync")) == "4"


def test_aliases_nonces_permissions_configs_and_search(api: Api, tmp_path: Path) -> None:
    actor_id = api.create_actor(image="abacosamples/noop", name="shared-by-cli")["id"]
    alias = f"cli-alias-{actor_id.lower()}"
    ok(abaco(api, tmp_path, "aliases", "create", alias, actor_id))
    assert json.loads(ok(abaco(api, tmp_path, "aliases", "show", alias, "--json")))["actor_id"] == actor_id
    assert json.loads(ok(abaco(api, tmp_path, "actors", "show", alias, "--json")))["id"] == actor_id

    nonce = ok(abaco(api, tmp_path, "nonces", "create", actor_id, "--level", "READ", "--max-uses", "3")).strip()
    assert nonce.startswith("DEV-DEVELOP_") and len(nonce) > 40  # the key itself, printed once
    listed = json.loads(ok(abaco(api, tmp_path, "nonces", "list", actor_id, "--json")))
    assert len(listed) == 1 and listed[0]["level"] == "READ"
    assert listed[0]["id"] == nonce  # listed with its key to those who manage the actor, as Abaco clients expect

    perms = json.loads(ok(abaco(api, tmp_path, "permissions", "grant", actor_id, "alice", "EXECUTE", "--json")))
    assert perms["alice"] == "EXECUTE"
    assert "alice" in ok(abaco(api, tmp_path, "permissions", "show", actor_id))

    config = f"cli-config-{actor_id.lower()}"
    ok(abaco(api, tmp_path, "configs", "create", config, "v1", "--actors", alias, "--secret"))
    shown = json.loads(ok(abaco(api, tmp_path, "configs", "show", config, "--json")))
    assert shown["is_secret"] is True and shown["value"] != "v1"  # a secret is never shown in clear
    ok(abaco(api, tmp_path, "configs", "delete", config))

    found = json.loads(ok(abaco(api, tmp_path, "search", "actors", "name=shared-by-cli", "--json")))
    assert [a["id"] for a in found] == [actor_id]
    refused = abaco(api, tmp_path, "search", "nothing")
    assert refused.returncode == 2
    ok(abaco(api, tmp_path, "aliases", "delete", alias))
    assert abaco(api, tmp_path, "aliases", "show", alias).returncode == 3
