"""The OpenAPI 3 document of the API: the hand-maintained operation table, request schemas generated from
the models the services validate bodies with (``inputs.MODELS``), and the component schemas.

Served at ``/actors/openapi.json`` (and under ``/v3``). An operation marked ``planned`` is listed only
once its route is registered, so the document never promises a route the app does not serve.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from chalicelib.edge.openapi import inputs, links
from chalicelib.edge.openapi.operations import OPERATIONS, Op
from chalicelib.edge.openapi.schemas import (
    MESSAGE_ENV_PARAMETERS,
    PAGING_PARAMETERS,
    SCHEMAS,
    SEARCH_PARAMETERS,
    WAIT_PARAMETERS,
    WINDOW_PARAMETERS,
)
from chalicelib.services import roles

OPENAPI_VERSION = "3.0.3"
_PARAM = re.compile(r"{([^}]+)}")
_QUERY = {"search": SEARCH_PARAMETERS, "message_env": MESSAGE_ENV_PARAMETERS, "window": WINDOW_PARAMETERS,
          "wait": WAIT_PARAMETERS, "paging": PAGING_PARAMETERS}
# Every error any operation may answer (all in the envelope); chalicelib.edge.http.STATUS_BY_ERROR makes them.
_ERRORS = {"400": "Invalid input or not authorized (Abaco reports both as 400)",
           "401": "No valid credentials (a JWT, or a nonce on actor and alias routes)",
           "404": "Unknown identifier", "405": "Method not allowed", "413": "Request body too large",
           "414": "Request line too long (answered by the HTTP front end)",
           "429": "Too many requests (see Retry-After)", "431": "Request headers too large",
           "503": "A backing service is unavailable; retry"}
_NOT_ENVELOPED = frozenset({"414"})  # the HTTP server's own page (gunicorn locally, API Gateway on AWS)
_OP_ERRORS = {"409": "A concurrent change won; read and retry",
              "502": "The execution behind a synchronous message failed",
              "504": "A synchronous message outlived the server-side wait; the execution goes on"}
_ERRORS_OF = {"sendMessage": ("409", "502", "504"), "updateActor": ("409",), "setState": ("409",),
              "updateAlias": ("409",), "updateConfig": ("409",), "addWorkers": ("409",)}
PATH_ENUMS = {"search_type": ["actors", "workers", "executions", "logs"]}
PATH_PATTERNS = {"username": roles.GRANT_USERNAME}


def served_operations(served: Mapping[str, tuple[str, ...]]) -> list[Op]:
    """The operations to document: every one not planned, and planned ones whose route exists."""
    return [op for op in OPERATIONS if not op.planned or op.method in served.get(op.path, ())]


def document(api_server: str, version: str, served: Mapping[str, tuple[str, ...]],
             scopes: Mapping[tuple[str, str], str] | None = None, pools: tuple[str, ...] = ("default",)
             ) -> dict[str, Any]:
    """``scopes`` maps (METHOD, path) to the scope its view needs (for ``security``); ``pools`` are the
    runner pools an actor's ``queue`` may name."""
    paths: dict[str, dict[str, Any]] = {}
    operations = served_operations(served)
    for op in operations:
        item = _operation(op, links.security((scopes or {}).get((op.method, op.path))))
        if links.links(op, operations):
            item["responses"]["200"]["links"] = links.links(op, operations)
        paths.setdefault(op.path, {})[op.method.lower()] = item
    bodies = inputs.request_schemas(pools)
    forms = {name + "Form": inputs.form_variant(schema) for name, schema in bodies.items()}
    schemas = {**SCHEMAS, **bodies, **forms, "MessageInputForm": inputs.MESSAGE_FORM,
               "StateInputForm": inputs.STATE_FORM}
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
        "components": {"schemas": schemas, "securitySchemes": links.SECURITY_SCHEMES, "responses": {
            code: {"description": text} if code in _NOT_ENVELOPED else
            {"description": text, "content": {"application/json": {"schema": _ref("Envelope")}}}
            for code, text in {**_ERRORS, **_OP_ERRORS}.items()}},
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _operation(op: Op, security: list[dict[str, list[str]]]) -> dict[str, Any]:
    parameters = [{"name": name, "in": "path", "required": True,
                   "schema": {"type": "string", "enum": PATH_ENUMS[name]} if name in PATH_ENUMS else
                   {"type": "string", "pattern": PATH_PATTERNS[name]} if name in PATH_PATTERNS else
                   {"type": "string", "minLength": 1}}
                  for name in _PARAM.findall(op.path)]
    for group in op.query:
        parameters.extend(_QUERY[group])
    errors = [*_ERRORS, *_ERRORS_OF.get(op.op_id, ())]
    out: dict[str, Any] = {"operationId": op.op_id, "summary": op.summary, "tags": [op.tag],
                           "security": security,
                           "responses": {"200": _success(op), **{code: {"$ref": f"#/components/responses/{code}"}
                                                                 for code in sorted(errors)}}}
    if parameters:
        out["parameters"] = parameters
    if op.body:
        out["requestBody"] = {"required": inputs.needs_body(op.body), "content": {
            "application/json": {"schema": _ref(op.body)},
            "application/x-www-form-urlencoded": {"schema": _ref(op.body + "Form")}}}
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
