"""Run the API as Lambda does: import ``app`` in a fresh process and call the Chalice app object with API
Gateway proxy events (one JSON list on stdin); print the responses as one JSON list on stdout. The process's
stderr carries its logs, as CloudWatch would."""
from __future__ import annotations

import json
import sys
from typing import Any


def proxy_event(method: str, path: str, resource: str | None = None, body: Any = None,
                headers: dict[str, str] | None = None, domain: str = "abc123def4.execute-api.us-east-1.amazonaws.com",
                stage: str = "api", params: dict[str, str] | None = None) -> dict[str, Any]:
    """An API Gateway REST proxy event for ``path`` (``resource`` is the route template, default the path)."""
    resource = resource or path
    return {
        "resource": resource, "path": path, "httpMethod": method,
        "headers": {"Host": domain, "Content-Type": "application/json", **(headers or {})},
        "multiValueHeaders": {}, "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": params, "stageVariables": None,
        "requestContext": {"resourcePath": resource, "httpMethod": method, "path": f"/{stage}{path}",
                           "stage": stage, "domainName": domain, "requestId": "test-request",
                           "identity": {"sourceIp": "198.51.100.7"}},
        "body": json.dumps(body) if body is not None else None, "isBase64Encoded": False,
    }


class Context:
    function_name = "abaco-test-APIHandler"
    aws_request_id = "test-request"
    memory_limit_in_mb = 512

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


def main() -> int:
    events = json.load(sys.stdin)
    from app import app  # imported as Lambda's runtime does: the handler is app.app

    responses = [app(event, Context()) for event in events]
    json.dump(responses, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
