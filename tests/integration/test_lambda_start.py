"""The API through its real Lambda entry (issues 14 and 15): ``app.app`` imported in a fresh process, as
Lambda's Python runtime does, and called with API Gateway proxy events.

* ``ABACO_PRODUCTION=true`` with a bad configuration refuses every request with a 500 in Abaco's envelope,
  and the log says why in one line (at load and per request); a good one serves.
* With ``ABACO_API_SERVER`` unset, ``_links`` and ``_abaco_api_server`` come from the request's domain and
  stage, never 127.0.0.1.
* Logging is configured at import: JSON lines, INFO, with the redaction filter.
"""
from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.launcher import ROOT, Stack
from tests import jwt_keys
from tests.conftest import start_stack
from tests.lambda_invoke import proxy_event

DOMAIN = "abc123def4.execute-api.us-east-1.amazonaws.com"


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = start_stack(tmp_path_factory.mktemp("lambda"), runners=0)
    yield stack
    stack.stop()


def invoke(stack: Stack, events: list[dict[str, Any]], **settings: str) -> tuple[list[dict[str, Any]], str]:
    """The responses and the log (stderr) of one Lambda instance serving ``events`` in order."""
    env = {k: v for k, v in stack.env.items() if k != "ABACO_API_SERVER" and not k.startswith("ABACO_ACCESS")}
    env.update({"AWS_LAMBDA_FUNCTION_NAME": "abaco-test-APIHandler", **settings})
    done = subprocess.run([sys.executable, "-m", "tests.lambda_invoke"], cwd=ROOT, env=env, check=False,
                          input=json.dumps(events), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


def log_lines(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def stored_api_server(stack: Stack, actor_id: str) -> str:
    ddb = boto3.client("dynamodb", endpoint_url=stack.env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    items = ddb.scan(TableName=f"{stack.env['ABACO_RESOURCE_PREFIX']}-actors")["Items"]
    (item,) = [i for i in items if json.dumps(i).count(f'"{actor_id}"')]
    return str(item["api_server"]["S"])


BAD_PRODUCTION = [
    ({"ABACO_ACCESS_CONTROL": "none"}, "ABACO_ACCESS_CONTROL=none"),
    ({"ABACO_ACCESS_CONTROL": "jwt"}, "ABACO_JWT_PUBLIC_KEY"),  # no key at all
    ({"ABACO_ACCESS_CONTROL": "jwt", "ABACO_JWT_PUBLIC_KEY": jwt_keys.key_pair()[1], "ABACO_JWT_ISSUER": "i"},
     "ABACO_JWT_AUDIENCE"),  # a key, but tokens not bound to this API
]


@pytest.mark.parametrize(("settings", "named"), BAD_PRODUCTION)
def test_production_with_a_bad_configuration_refuses_every_request(tables: Stack, settings: dict[str, str],
                                                                    named: str) -> None:
    events = [proxy_event("GET", "/actors"), proxy_event("POST", "/actors", body={"image": "abacosamples/test"})]
    responses, stderr = invoke(tables, events, ABACO_PRODUCTION="true", **settings)
    for response in responses:
        assert response["statusCode"] == 500
        body = json.loads(response["body"])
        assert body["status"] == "error" and body["result"] is None and "version" in body
        assert "ABACO_" not in body["message"]  # the caller learns nothing of the settings
    lines = log_lines(stderr)
    refused = [line for line in lines if "start-up check failed" in line["message"]]
    assert len(refused) == 1 + len(events), stderr  # once at load, once per request
    assert all(named in line["message"] and line["level"] == "ERROR" for line in refused), refused


def test_production_with_key_issuer_and_audience_serves(tables: Stack) -> None:
    _, public = jwt_keys.key_pair()
    responses, stderr = invoke(tables, [proxy_event("GET", "/actors")], ABACO_PRODUCTION="true",
                               ABACO_ACCESS_CONTROL="jwt", ABACO_JWT_PUBLIC_KEY=public,
                               ABACO_JWT_ISSUER=jwt_keys.ISSUER, ABACO_JWT_AUDIENCE="abaco")
    assert responses[0]["statusCode"] == 401, responses  # no token: refused by the guard, not the start-up check
    assert "start-up check failed" not in stderr


def test_base_url_comes_from_the_request_when_api_server_is_unset(tables: Stack) -> None:
    events = [proxy_event("POST", "/actors", body={"image": "abacosamples/test"}, domain=DOMAIN, stage="api")]
    responses, stderr = invoke(tables, events, ABACO_ACCESS_CONTROL="none")
    assert responses[0]["statusCode"] == 200, responses
    actor = json.loads(responses[0]["body"])["result"]
    base = f"https://{DOMAIN}/api"
    assert actor["_links"]["self"].startswith(f"{base}/actors/"), actor["_links"]
    assert stored_api_server(tables, actor["id"]) == base  # what the runner puts in _abaco_api_server
    assert "127.0.0.1" not in responses[0]["body"]
    sent = invoke(tables, [proxy_event("POST", f"/actors/{actor['id']}/messages", "/actors/{actor_id}/messages",
                                        body={"message": "hi"}, domain=DOMAIN,
                                        params={"actor_id": actor["id"]})], ABACO_ACCESS_CONTROL="none")[0]
    assert sent[0]["statusCode"] == 200, sent
    assert json.loads(sent[0]["body"])["result"]["_links"]["self"].startswith(base)
    assert any(line["message"].startswith("API base URL from the request") for line in log_lines(stderr))


def test_logging_is_json_with_redaction_at_import(tables: Stack) -> None:
    script = ("import logging, app; "
              "logging.getLogger('abaco.api').info('token Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'); "
              "logging.getLogger('abaco.api').debug('not shown')")
    env = {**tables.env, "AWS_LAMBDA_FUNCTION_NAME": "abaco-test-APIHandler", "ABACO_ACCESS_CONTROL": "none"}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, capture_output=True,
                          text=True)
    (line,) = log_lines(done.stderr)
    assert line["level"] == "INFO" and line["component"] == "api"
    assert "eyJhbGciOiJSUzI1NiJ9" not in line["message"], line  # the redaction filter masked the token
    assert Path(ROOT / "app.py").exists()
