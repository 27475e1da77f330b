"""The OpenAPI 3 document of the API, built from the hand-maintained operation table and schemas.

Served at ``/actors/openapi.json`` (and under ``/v3``). An operation marked ``planned`` is listed only
once its route is registered, so the document never promises a route the app does not serve.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from chalicelib.openapi.operations import OPERATIONS, Op
from chalicelib.openapi.schemas import MESSAGE_ENV_PARAMETERS, SCHEMAS, SEARCH_PARAMETERS

OPENAPI_VERSION = "3.0.3"
_PARAM = re.compile(r"{([^}]+)}")
_QUERY = {"search": SEARCH_PARAMETERS, "message_env": MESSAGE_ENV_PARAMETERS}
_ERRORS = {"400": "Invalid input or not authorized (Abaco reports both as 400)", "404": "Unknown identifier",
           "405": "Method not allowed"}


def served_operations(served: Mapping[str, tuple[str, ...]]) -> list[Op]:
    """The operations to document: every one not planned, and planned ones whose route exists."""
    return [op for op in OPERATIONS if not op.planned or op.method in served.get(op.path, ())]


def document(api_server: str, version: str, served: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in served_operations(served):
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    base = api_server.rstrip("/")
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "Abaco on AWS", "version": version.lstrip(":") or "dev",
                 "description": "TACC Abaco's v2 actors API: functions-as-a-service with the actor model. "
                                "Every response is the envelope {message, result, status, version}; field "
                                "names follow the server's ABACO_CASE (snake or camel)."},
        "servers": [{"url": base, "description": "Abaco v2 paths"},
                    {"url": f"{base}/v3", "description": "the same routes under /v3 (Tapis style)"}],
        "tags": [{"name": t} for t in dict.fromkeys(op.tag for op in OPERATIONS)],
        "paths": paths,
        "components": {"schemas": SCHEMAS, "responses": {
            code: {"description": text, "content": {"application/json": {"schema": _ref("Envelope")}}}
            for code, text in _ERRORS.items()}},
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _operation(op: Op) -> dict[str, Any]:
    parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in _PARAM.findall(op.path)]
    for group in op.query:
        parameters.extend(_QUERY[group])
    out: dict[str, Any] = {"operationId": op.op_id, "summary": op.summary, "tags": [op.tag],
                           "responses": {"200": _success(op), **{code: {"$ref": f"#/components/responses/{code}"}
                                                                 for code in _ERRORS}}}
    if parameters:
        out["parameters"] = parameters
    if op.body:
        schema = _ref(op.body)
        out["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": schema}, "application/x-www-form-urlencoded": {"schema": schema}}}
        if op.op_id == "sendMessage":
            out["requestBody"]["content"]["application/octet-stream"] = {
                "schema": {"type": "string", "format": "binary"}}
    return out


def _success(op: Op) -> dict[str, Any]:
    if op.raw:
        schema = {"type": "object"} if op.raw == "application/json" else {"type": "string", "format": "binary"}
        return {"description": "OK", "content": {op.raw: {"schema": schema}}}
    result: dict[str, Any] = {"nullable": True}
    if op.result:
        names = op.result.split("|")  # a collection with query parameters answers a search instead
        result = _ref(names[0]) if len(names) == 1 else {"anyOf": [_ref(n) for n in names]}
    envelope = {"allOf": [_ref("Envelope"), {"type": "object", "properties": {"result": result}}]}
    return {"description": "OK", "content": {"application/json": {"schema": envelope}}}
