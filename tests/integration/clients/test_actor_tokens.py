"""Actors that call the API (reference §3.5): actor A, a Python image with the in-container library
(containerlib's ``agavepy.actors.get_client``), has ``token: true`` and messages actor B by alias with its
injected ``_abaco_access_token``; B's execution names A's owner as its executor. An actor without ``token``
gets "" and is refused; the token dies with A's execution and never shows in A's logs.
"""
from __future__ import annotations

import base64
import io
import tarfile
from collections.abc import Iterator
from typing import Any

import docker
import pytest
import requests

from local.launcher import Stack
from tests.conftest import wait_for
from tests.integration.clients.v3_jwt_stack import tapis_headers, v3_stack  # noqa: F401 (a fixture)

CALLER_IMAGE = "abaco-test/token-caller:identity"
CALLER = """\
import os
from agavepy.actors import AbacoError, get_client, send_bytes_result

token = os.environ.get("_abaco_access_token", "")
print("token length", len(token))
print("the token itself:", token)
if token:
    send_bytes_result(token.encode())  # handed back so the test can try it once this execution is over
try:
    reply = get_client().send_message(os.environ["TARGET"], "hello from A")
    print("SENT", reply["execution_id"])
except AbacoError as exc:
    print("FAILED", exc)
"""


@pytest.fixture(scope="module")
def caller_image() -> Iterator[str]:
    """abacosamples/py3_base (Python and the in-container library) with the script above as its command."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, text in {"Dockerfile": 'FROM abacosamples/py3_base\nCOPY caller.py /caller.py\n'
                                         'CMD ["python3", "/caller.py"]\n', "caller.py": CALLER}.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    client = docker.from_env()
    client.images.build(fileobj=context, custom_context=True, tag=CALLER_IMAGE, rm=True, pull=False)
    yield CALLER_IMAGE
    client.close()


def call(stack: Stack, user: str, method: str, path: str, **kwargs: Any) -> Any:
    response = requests.request(method, stack.api_url + path, headers=tapis_headers(user), timeout=30, **kwargs)
    assert response.status_code == 200, f"{user}: {method} {path}: {response.status_code} {response.text}"
    return response.json()["result"]


def finished(stack: Stack, user: str, actor_id: str, execution_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        execution = call(stack, user, "GET", f"/actors/{actor_id}/executions/{execution_id}")
        return execution if execution["status"] in ("COMPLETE", "ERROR") else None

    return wait_for(done, 120, what=f"execution {execution_id}")


def run_caller(stack: Stack, image: str, token: bool, target: str) -> tuple[str, str, dict[str, Any]]:
    actor = call(stack, "alice", "POST", "/actors", json={"image": image, "token": token,
                                                          "default_environment": {"TARGET": target}})
    sent = call(stack, "alice", "POST", f"/actors/{actor['id']}/messages", json={"message": "go"})
    execution = finished(stack, "alice", actor["id"], sent["execution_id"])
    logs = call(stack, "alice", "GET", f"/actors/{actor['id']}/executions/{sent['execution_id']}/logs")["logs"]
    return actor["id"], sent["execution_id"], {**execution, "logs": logs}


def test_actor_a_messages_actor_b_by_alias_with_its_owners_token(v3_stack: Stack,  # noqa: F811
                                                                  caller_image: str) -> None:
    target = call(v3_stack, "bob", "POST", "/actors", json={"image": "abacosamples/noop"})
    call(v3_stack, "bob", "POST", "/actors/aliases", json={"alias": "token-target", "actor_id": target["id"]})
    call(v3_stack, "bob", "POST", f"/actors/{target['id']}/permissions", json={"user": "alice", "level": "EXECUTE"})
    call(v3_stack, "bob", "POST", "/actors/aliases/token-target/permissions",
         json={"user": "alice", "level": "EXECUTE"})

    a_id, a_execution, a_run = run_caller(v3_stack, caller_image, True, "token-target")
    assert a_run["status"] == "COMPLETE", a_run
    sent = [line for line in a_run["logs"].splitlines() if line.startswith(("SENT", "FAILED"))]
    assert sent and sent[0].startswith("SENT "), a_run["logs"]
    assert "the token itself: [REDACTED]" in a_run["logs"] and "eyJ" not in a_run["logs"]
    b_execution = finished(v3_stack, "bob", target["id"], sent[0].split()[1])
    assert b_execution["executor"] == "alice" and b_execution["status"] == "COMPLETE"

    # the token was alice's, in her tenant, and died with A's execution
    token = requests.get(f"{v3_stack.api_url}/actors/{a_id}/executions/{a_execution}/results",
                         headers=tapis_headers("alice"), timeout=30)
    assert token.status_code == 200 and token.content.startswith(b"eyJ"), token.text
    late = requests.get(f"{v3_stack.api_url}/actors", headers={"X-Tapis-Token": token.content.decode()}, timeout=30)
    assert late.status_code == 401

    _, _, plain = run_caller(v3_stack, caller_image, False, "token-target")
    assert "token length 0" in plain["logs"] and "FAILED" in plain["logs"] and "401" in plain["logs"]


def test_the_kms_signer_mints_tokens_the_api_verifies(v3_stack: Stack) -> None:  # noqa: F811
    """The AWS path: a KMS asymmetric key (the emulator's KMS over HTTP) signs; the public key verifies."""
    import boto3

    from chalicelib.identity import auth, platform_tokens
    from chalicelib.wiring.settings import Settings

    endpoint = v3_stack.env["AWS_ENDPOINT_URL"]
    kms = boto3.client("kms", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    key_id = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    settings = Settings(access_control="jwt", platform_signer="kms", platform_kms_key_id=key_id,
                        aws_endpoint_url=endpoint, jwt_public_key=None, jwt_tenant_keys_file=None)
    token = platform_tokens.for_execution(settings, "dev", "alice", True, 60, "dev_A1", "E1")
    assert token.count(".") == 2
    kid = platform_tokens.tokens.unverified_header(token, "kid")
    assert isinstance(kid, str) and kid.startswith(platform_tokens.KID_PREFIX)
    caller = auth.identify({"X-Tapis-Token": token}, settings)
    assert caller is not None and (caller.username, caller.tenant, caller.execution) == ("alice", "dev",
                                                                                         ("dev_A1", "E1"))
    signing_input, signature = token.rsplit(".", 1)
    verified = kms.verify(KeyId=key_id, Message=signing_input.encode(), MessageType="RAW",
                          Signature=base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)),
                          SigningAlgorithm="RSASSA_PKCS1_V1_5_SHA_256")
    assert verified["SignatureValid"]
