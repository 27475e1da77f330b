"""The Lambda entry itself (``app(event, context)``, what API Gateway invokes) on API Gateway proxy events.

API Gateway does not merge repeated slashes, so tapipy's ``POST /v3/actors/{id}//messages`` matches only
the catch-all route ``/{proxy+}``; the entry (``chalicelib/edge/gateway.py``) merges the slashes and runs
the right view. A request without ``Accept`` gets a result's bytes (base64 in the event's answer, which API
Gateway decodes for ``application/octet-stream``). Each event is handled in a child process with the session
stack's settings (its emulator, tables and queues), so the view really stores and queues; the execution is
then followed over the stack's HTTP API and its runner.
"""
from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from typing import Any

from local.launcher import ROOT, Stack
from tests.conftest import Api
from tests.integration.probe import probe_image, report  # noqa: F401 (the probe image fixture)

INVOKE = r'''
import json, sys
from app import app

class Context:
    function_name, aws_request_id = "abaco-api", "test-request"

for event in json.load(sys.stdin):
    answer = app(event, Context())
    print(json.dumps(answer))
'''


def proxy_event(method: str, path: str, resource: str = "/{proxy+}", headers: dict[str, str] | None = None,
                body: bytes | None = None, parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """A REST API proxy-integration event as API Gateway sends it (stage ``api``)."""
    headers = headers or {}
    if resource == "/{proxy+}":
        parameters = {"proxy": path.lstrip("/")}
    return {"resource": resource, "path": path, "httpMethod": method, "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()}, "queryStringParameters": None,
            "multiValueQueryStringParameters": None, "pathParameters": parameters, "stageVariables": None,
            "requestContext": {"resourcePath": resource, "httpMethod": method, "path": "/api" + path, "stage": "api",
                               "identity": {"sourceIp": "127.0.0.1"}, "requestId": "test-request"},
            "body": base64.b64encode(body).decode() if body is not None else None,
            "isBase64Encoded": body is not None}


def invoke(stack: Stack, *events: dict[str, Any]) -> list[dict[str, Any]]:
    result = subprocess.run([sys.executable, "-c", INVOKE], input=json.dumps(events), env=stack.env, cwd=ROOT,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def body_of(answer: dict[str, Any]) -> bytes:
    body = answer.get("body") or ""
    return base64.b64decode(body) if answer.get("isBase64Encoded") else body.encode()


def test_repeated_slashes_and_results_without_accept_through_the_lambda_entry(stack: Stack, api: Api,
                                                                               probe_image: str) -> None:  # noqa: F811
    actor = api.create_actor(image=probe_image, default_environment={"PROBE_RESULTS": '["lambda result"]'})
    payload = bytes(range(256)) * 8
    binary = {"content-type": "application/octet-stream", "content-length": str(len(payload))}
    sent, spelled = invoke(stack, proxy_event("POST", f"/v3/actors/{actor['id']}//messages", headers=binary,
                                              body=payload),
                           proxy_event("GET", f"/actors/v2/{actor['id']}", resource="/actors/v2/{actor_id}",
                                       parameters={"actor_id": actor["id"]}))
    assert sent["statusCode"] == 200, sent
    execution_id = json.loads(body_of(sent))["result"]["execution_id"]
    assert json.loads(body_of(spelled))["result"]["id"] == actor["id"]
    assert api.wait_execution(actor["id"], execution_id)["status"] == "COMPLETE"
    seen = report(api.logs(actor["id"], execution_id))
    assert seen["binary"]["sha256"] == hashlib.sha256(payload).hexdigest()

    results_path = f"/v3/actors/{actor['id']}/executions/{execution_id}/results"
    (result,) = invoke(stack, proxy_event("GET", results_path,
                                          resource="/v3/actors/{actor_id}/executions/{execution_id}/results",
                                          parameters={"actor_id": actor["id"], "execution_id": execution_id}))
    assert result["statusCode"] == 200 and result["isBase64Encoded"] is True
    assert result["headers"]["Content-Type"] == "application/octet-stream"
    assert body_of(result) == b"lambda result"
    api.call("DELETE", f"/actors/{actor['id']}")


def test_what_no_route_names_is_abacos_404_through_the_catch_all(stack: Stack) -> None:
    missing, doubled = invoke(stack, proxy_event("GET", "/actors//x/y/z/w"), proxy_event("DELETE", "/nothing//here"))
    for answer in (missing, doubled):
        assert answer["statusCode"] == 404
        body = json.loads(body_of(answer))
        assert body["status"] == "error" and body["message"] == "The requested URL was not found on the server."
        assert answer["headers"]["Access-Control-Allow-Origin"] == "*"


def http_api_event(method: str, path: str, headers: dict[str, str] | None = None,
                   body: bytes | None = None) -> dict[str, Any]:
    """An HTTP API (API Gateway v2) event in payload format 1.0 from its one ``$default`` route and stage, as
    the CDK app's ``http`` flavour sends it (infrastructure/abaco_infra/api.py)."""
    event = proxy_event(method, path, resource="$default", headers=headers, body=body)
    event.update({"version": "1.0", "pathParameters": None})
    event["requestContext"] = {**event["requestContext"], "resourcePath": "$default", "resourceId": "$default",
                               "path": path, "stage": "$default",
                               "domainName": "abc123.execute-api.us-east-1.amazonaws.com", "apiId": "abc123"}
    return event


def test_an_http_api_default_route_event_reaches_the_view_its_path_names(stack: Stack, api: Api) -> None:
    actor = api.create_actor(image="abacosamples/noop")
    text = {"content-type": "application/json"}
    sent, got, missing = invoke(
        stack, http_api_event("POST", f"/v3/actors/{actor['id']}//messages", headers=text,
                              body=json.dumps({"message": "via the HTTP API"}).encode()),
        http_api_event("GET", f"/actors/v2/{actor['id']}"), http_api_event("GET", "/nothing/here"))
    assert sent["statusCode"] == 200, sent
    execution_id = json.loads(body_of(sent))["result"]["execution_id"]
    assert json.loads(body_of(got))["result"]["id"] == actor["id"]
    assert missing["statusCode"] == 404 and json.loads(body_of(missing))["status"] == "error"
    assert api.wait_execution(actor["id"], execution_id)["status"] == "COMPLETE"
    api.call("DELETE", f"/actors/{actor['id']}")
