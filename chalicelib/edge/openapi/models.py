"""OpenAPI 3.0 schemas generated from the pydantic response models (``chalicelib.domain.responses``), so
what the API shows and what its document says are one description.

Pydantic writes JSON Schema 2020-12; OpenAPI 3.0 wants ``nullable`` instead of a ``null`` type, no
``$defs`` (nested models are inlined here) and no ``title`` on every field.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.fields import FieldInfo

_NULL = {"type": "null"}
_DROPPED = frozenset({"title", "default"})


def object_schema(model: type[BaseModel], required: tuple[str, ...] = (),
                  extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The object schema of ``model``'s fields (plus ``extra`` properties, such as ``_links``)."""
    properties = {name: field_schema(field) for name, field in model.model_fields.items()}
    schema: dict[str, Any] = {"type": "object", "properties": {**properties, **(extra or {})}}
    if required:
        schema["required"] = list(required)
    return schema


def openapi_schema(raw: dict[str, Any]) -> dict[str, Any]:
    """A whole model's JSON Schema (``model_json_schema``) in OpenAPI 3.0's dialect."""
    raw = dict(raw)
    return _openapi(raw, raw.pop("$defs", {}))  # type: ignore[no-any-return]


def field_schema(field: FieldInfo) -> dict[str, Any]:
    raw = TypeAdapter(field.annotation).json_schema()
    schema = _openapi(raw, raw.pop("$defs", {}))
    if isinstance(field.json_schema_extra, dict):
        schema.update(field.json_schema_extra)
    if field.description:
        schema["description"] = field.description
    return schema


def _openapi(node: Any, defs: Mapping[str, Any]) -> Any:
    if isinstance(node, list):
        return [_openapi(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _openapi(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key == "properties":  # names of properties, not keywords: keep every one
            out[key] = {name: _openapi(sub, defs) for name, sub in value.items()}
        else:
            out[key] = _openapi(value, defs)
    options = out.get("anyOf")
    if isinstance(options, list) and _NULL in options:
        rest = [option for option in options if option != _NULL]
        del out["anyOf"]
        out = {**(rest[0] if len(rest) == 1 else {"anyOf": rest}), **out, "nullable": True}
    return out
