"""Environment names a caller may set: the query-parameter check, the default
environment's check, and the runner laying reserved names last."""
from __future__ import annotations

import pytest

from chalicelib.domain import envnames
from chalicelib.domain.errors import BadRequest
from chalicelib.domain.models import Actor, Execution
from chalicelib.domain.queue_messages import InboxMessage
from chalicelib.services.messages import environment_from_query
from runners.pipeline import environment


@pytest.mark.parametrize("name", ["LD_PRELOAD", "LD_AUDIT", "DYLD_INSERT_LIBRARIES", "PYTHONPATH", "PYTHONSTARTUP",
                                  "PERL5LIB", "PERL5OPT", "RUBYOPT", "NODE_OPTIONS", "BASH_ENV", "ENV", "PATH",
                                  "HOME", "IFS", "GCONV_PATH", "MALLOC_PERTURB_", "JAVA_TOOL_OPTIONS",
                                  "_JAVA_OPTIONS", "PS4", "SHELLOPTS", "PROMPT_COMMAND", "TMPDIR", "BROWSER",
                                  "GLIBC_TUNABLES", "HTTPS_PROXY", "http_proxy", "SSL_CERT_FILE", "GIT_SSH_COMMAND",
                                  "AWS_SHARED_CREDENTIALS_FILE"])
def test_hooks_are_refused_in_messages_with_their_name(name: str) -> None:
    assert envnames.message_variable_problem(name) is not None
    with pytest.raises(BadRequest, match=f"'{name}'"):
        environment_from_query({"ok": "1", name: "x"})


@pytest.mark.parametrize("name", ["MSG", "_actor_configs", "_abaco_username", "_abaco_access_token",
                                  "_abaco_actor_id", "_abaco_Content_Type", "_abaco_content_type", "msg",
                                  "BASH_FUNC_ls%%", "A=B", "", "1x", "a b", "é"])
def test_reserved_and_non_plain_names_are_refused_in_messages(name: str) -> None:
    with pytest.raises(BadRequest, match="cannot become an environment variable"):
        environment_from_query({name: "x"})


def test_plain_names_and_abacos_switch_still_become_variables() -> None:
    env = environment_from_query({"greeting": "hi", "_abaco_synchronous": "true", "_abaco_sleep_iterations": "3",
                                  "x-nonce": "secret", "message": "m", "Path2": "ok"})
    assert env == {"greeting": "hi", "_abaco_synchronous": "true", "_abaco_sleep_iterations": "3", "Path2": "ok"}


def test_the_default_environment_refuses_only_reserved_and_invalid_names() -> None:
    assert envnames.default_variable_problem("LD_LIBRARY_PATH") is None  # the owner's own container
    assert envnames.default_variable_problem("my-var") is None
    for name in ("MSG", "_abaco_actor_id", "_actor_configs", "", "A=B", "a\x00b"):
        assert envnames.default_variable_problem(name) is not None


def test_the_runner_lays_reserved_names_last_and_drops_queued_hooks() -> None:
    actor = Actor(tenant="T", id="A1", image="img", owner="alice",
                  default_environment={"_abaco_actor_id": "forged", "MSG": "forged", "LD_LIBRARY_PATH": "/opt"})
    queued = InboxMessage(tenant="T", actor_id="A1", execution_id="E1", body="real", content_type="str",
                          env={"LD_PRELOAD": "/_abaco_binary_data", "PYTHONPATH": "/tmp", "_actor_configs": "{}",
                               "MSG": "forged", "plain": "kept", "_abaco_username": "bob"})
    env = environment.build(actor, Execution(tenant="T", actor_id="A1", id="E1", executor="bob"), queued, "W1",
                            configs={"c": "v"})
    assert "LD_PRELOAD" not in env and "PYTHONPATH" not in env
    assert env["LD_LIBRARY_PATH"] == "/opt" and env["plain"] == "kept"
    assert env["_abaco_actor_id"] == "A1" and env["MSG"] == "real" and env["_actor_configs"] == "{'c': 'v'}"
    assert env["_abaco_username"] == "bob"


def test_a_binary_message_gets_no_msg_from_anyone() -> None:
    actor = Actor(tenant="T", id="A1", image="img", owner="alice", default_environment={"MSG": "forged"})
    queued = InboxMessage(tenant="T", actor_id="A1", execution_id="E1", body=None,
                          content_type="application/octet-stream", env={"MSG": "forged"})
    env = environment.build(actor, Execution(tenant="T", actor_id="A1", id="E1", executor="bob"), queued, "W1")
    assert "MSG" not in env
