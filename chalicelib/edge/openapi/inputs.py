"""Request-body schemas of the OpenAPI document, generated from the models the services validate with.

Each body is a pydantic model (``chalicelib.domain.bodies.Body``) whose field types carry their rule and
their JSON Schema side by side, so the document says exactly what the API accepts. Schemathesis
(tests/integration/test_schemathesis.py) generates requests from these: a value inside the schema that
the API refuses is a failure, and so is a value outside it that the API accepts. What is left here is
what belongs to the document rather than to a body: regex spelling for other engines, OpenAPI 3.0's
dialect, the deployment's pools, and the form variants.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

from chalicelib.edge.openapi.models import openapi_schema
from chalicelib.services import (
    actor_fields,
    actors,
    aliases,
    configs,
    executions,
    messages,
    nonces,
    permissions,
    roles,
    uploads,
    workers,
)

# What str.isspace() (and so the services' strip()) calls a space, spelled out: Python's ``\s`` agrees,
# other regex engines (ECMA, Rust) differ on \x1c-\x1f, \x85 and \ufeff. Patterns of the models are written
# with \s and \S and spelled with this class by ``spell_spaces`` (a unit test checks the list).
SPACES = r"\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# The operation table's body names (chalicelib/edge/openapi/operations.py) and the models they document.
MODELS: dict[str, type[BaseModel]] = {
    "ActorInput": actor_fields.ActorInput, "ActorUpdate": actor_fields.ActorUpdate,
    "AliasInput": aliases.AliasInput, "AliasUpdate": aliases.AliasUpdate,
    "ConfigInput": configs.ConfigInput, "ConfigUpdate": configs.ConfigUpdate,
    "PermissionInput": permissions.PermissionInput,
    "NonceInput": nonces.NonceInput, "AliasNonceInput": nonces.AliasNonceInput,
    "RolesInput": roles.RolesInput, "WorkersInput": workers.WorkersInput, "ExecutionInput": executions.ExecutionInput,
    "MessageUploadInput": uploads.MessageUploadInput, "MessageInput": messages.MessageInput,
    "StateInput": actors.StateInput,
}
_POOLED = ("ActorInput", "ActorUpdate")  # an actor's queue names one of the deployment's runner pools


def needs_body(name: str) -> bool:
    """Whether the body must be sent: a model with a required field (an empty body takes every default)."""
    return any(field.is_required() for field in MODELS[name].model_fields.values())


def request_schemas(pools: Iterable[str], models: Mapping[str, type[BaseModel]] = MODELS) -> dict[str, Any]:
    """Every body's schema, in OpenAPI 3.0's dialect, with its patterns spelled for any regex engine."""
    schemas = {name: spell_spaces(openapi_schema(model.model_json_schema())) for name, model in models.items()}
    for name in _POOLED:
        schemas[name]["properties"]["queue"]["enum"] = ["", *pools]
    return schemas


def spell_spaces(schema: Any) -> Any:
    """``schema`` with every pattern's \\s and \\S replaced by ``SPACES`` (inside a class: its members)."""
    if isinstance(schema, list):
        return [spell_spaces(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: spell_spaces(value) for key, value in schema.items()}
    if isinstance(out.get("pattern"), str):
        out["pattern"] = _spelled(out["pattern"])
    return out


def _spelled(pattern: str) -> str:
    out, in_class, i = [], False, 0
    while i < len(pattern):
        pair = pattern[i:i + 2]
        if pair in ("\\s", "\\S"):
            out.append(SPACES if in_class else ("[" if pair == "\\s" else "[^") + SPACES + "]")
            assert not (in_class and pair == "\\S"), "\\S inside a class has no spelling"
            i += 2
            continue
        if pattern[i] == "\\":
            out.append(pair)
            i += 2
            continue
        in_class = (in_class and pattern[i] != "]") or (not in_class and pattern[i] == "[")
        out.append(pattern[i])
        i += 1
    return "".join(out)


def form_variant(schema: Any) -> Any:
    """The same input as form fields: no nulls (a form cannot send one) and no nested objects (a form
    field is text): ``state`` goes as any text (JSON if it parses), and an object field such as
    ``default_environment`` as JSON text, which no schema can describe, so the form variant leaves it out."""
    if isinstance(schema, list):
        return [form_variant(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: form_variant(value) for key, value in schema.items() if key != "nullable"}
    if "oneOf" in out:
        out["oneOf"] = [v for v in out["oneOf"] if v.get("type") not in ("object", "array", "boolean")
                        or (v.get("type") == "array" and v.get("items") and "object" not in str(v["items"]))]
        if len(out["oneOf"]) == 1:
            out.update(out.pop("oneOf")[0])
    if out.get("type") == "object" and "properties" in out:
        out["properties"] = {name: {"type": "string"} if value == {} else value
                             for name, value in out["properties"].items() if value.get("type") != "object"}
    return out


MESSAGE_FORM = {"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]}
# A state sent as a form is the object of its fields (at least one): a form body has no other shape.
STATE_FORM = {"type": "object", "minProperties": 1, "additionalProperties": {"type": "string"}}
