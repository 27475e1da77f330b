"""The OpenAPI document stays true: its operations are exactly the routes the app serves.

When you add a route: add (or un-plan) its ``Op`` in ``chalicelib/edge/openapi/operations.py``.
"""
from __future__ import annotations

import re

from openapi_spec_validator import validate

from app import app
from chalicelib.edge import http, openapi, paths
from chalicelib.edge.openapi.operations import OPERATIONS

_PARAM = re.compile(r"{[^}]+}")


def _shape(path: str) -> str:
    """Parameter names may differ between the table and a view; the route's shape may not."""
    return _PARAM.sub("{}", path)


def _served() -> set[tuple[str, str]]:
    return {(method, _shape(path)) for path, methods in http.SERVED.items() for method in methods}


def _documented() -> set[tuple[str, str]]:
    doc = openapi.document("http://127.0.0.1:8000", ":dev", http.SERVED)
    return {(method.upper(), _shape(path)) for path, item in doc["paths"].items() for method in item}


def test_every_served_route_is_documented_and_nothing_else() -> None:
    served, documented = _served(), _documented()
    assert served - documented == set(), "routes missing from chalicelib/edge/openapi/operations.py"
    assert documented - served == set(), "documented operations the app does not serve"


def test_every_route_is_registered_through_route_for_every_prefix() -> None:
    """Every Chalice path comes from ``http.route`` (so it has its 405s, CORS, /v3 and /actors/v2 twins),
    besides the gateway's catch-all."""
    expected = {spelled for path in http.SERVED for spelled in paths.variants(path)} | {paths.CATCH_ALL}
    assert set(app.routes) == expected


def test_planned_operations_are_the_only_ones_allowed_to_be_missing() -> None:
    served = _served()
    missing = {(op.method, _shape(op.path)) for op in OPERATIONS if (op.method, _shape(op.path)) not in served}
    assert missing == {(op.method, _shape(op.path)) for op in OPERATIONS
                       if op.planned and (op.method, _shape(op.path)) not in served}


def test_operation_ids_are_unique_and_the_document_is_valid_openapi_3() -> None:
    ids = [op.op_id for op in OPERATIONS]
    assert len(ids) == len(set(ids))
    validate(openapi.document("http://127.0.0.1:8000", ":dev", http.SERVED))
    everything = {path: tuple(m for m in ("GET", "POST", "PUT", "DELETE")) for path in
                  {op.path for op in OPERATIONS}}
    validate(openapi.document("http://127.0.0.1:8000", ":dev", everything))  # the planned ones too
