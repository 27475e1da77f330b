"""Message query parameters cannot set loader, interpreter or shell hooks, nor names Abaco sets
(docs/security.md §2.1), over HTTP against the real stack; the container still gets plain variables, and
the reserved names it sees are the platform's own."""
from __future__ import annotations

import urllib.parse

import pytest

from tests.conftest import Api
from tests.integration.conftest import error

HOOKS = ["LD_PRELOAD", "LD_LIBRARY_PATH", "PYTHONPATH", "PYTHONWARNINGS", "BROWSER", "PERL5OPT", "RUBYOPT",
         "NODE_OPTIONS", "BASH_ENV", "ENV", "BASH_FUNC_x%%", "PATH", "HOME", "IFS", "GCONV_PATH",
         "MALLOC_CHECK_", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "PS4", "SHELLOPTS", "PROMPT_COMMAND", "TMPDIR",
         "https_proxy", "AWS_CONFIG_FILE"]
RESERVED = ["MSG", "_actor_configs", "_abaco_username", "_abaco_actor_id", "_abaco_access_token",
            "_abaco_execution_id", "_abaco_Content_Type", "_ABACO_USERNAME", "Time_msg_queued"]
NOT_PLAIN = ["a-b", "1abc", "x y", "name.dot"]


def _executions(api: Api, actor: str) -> int:
    return len(api.ok("GET", f"/actors/{actor}/executions")["executions"])


@pytest.mark.parametrize("name", HOOKS + RESERVED + NOT_PLAIN)
def test_a_hook_or_reserved_query_parameter_is_refused_and_nothing_recorded(api_only: Api, name: str) -> None:
    actor = api_only.create_actor(image="abacosamples/test")["id"]
    query = urllib.parse.urlencode({name: "/_abaco_binary_data", "_abaco_synchronous": "true"})
    response = api_only.call("POST", f"/actors/{actor}/messages?{query}", data=b"\x7fELF",
                             headers={"Content-Type": "application/octet-stream"})
    message = error(response, 400)
    assert f"'{name}'" in message
    assert _executions(api_only, actor) == 0
    assert api_only.ok("GET", f"/actors/{actor}/messages")["messages"] == 0


def test_the_owner_default_environment_may_set_hooks_but_not_reserved_names(api_only: Api) -> None:
    ok = api_only.create_actor(image="abacosamples/test", default_environment={"LD_LIBRARY_PATH": "/opt/lib"})
    assert ok["default_environment"] == {"LD_LIBRARY_PATH": "/opt/lib"}
    for name in ("MSG", "_abaco_actor_id", "_actor_configs"):
        response = api_only.call("POST", "/actors", json={"image": "abacosamples/test",
                                                           "default_environment": {name: "x"}})
        assert f"'{name}'" in error(response, 400)


@pytest.mark.docker
def test_plain_variables_reach_the_container_and_reserved_names_are_the_platforms(api: Api) -> None:
    actor = api.create_actor(image="abacosamples/test", default_environment={"GREETING": "default"})["id"]
    sent = api.ok("POST", f"/actors/{actor}/messages?GREETING=hello&_abaco_test_sleep=0",
                  data={"message": "env-check"})
    assert api.wait_execution(actor, sent["execution_id"])["status"] == "COMPLETE"
    lines = api.logs(actor, sent["execution_id"]).splitlines()
    assert "GREETING=hello" in lines
    assert f"_abaco_actor_id={actor}" in lines
    assert f"_abaco_execution_id={sent['execution_id']}" in lines
    assert "MSG=env-check" in lines
