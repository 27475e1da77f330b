"""The OpenAPI document's request bodies are generated from the models the services validate with.

Every operation that takes a body names a model (chalicelib/edge/openapi/inputs.py ``MODELS``), and the
document's schema of that body is the model's own, so a field added to a model reaches the document and
no hand-written request schema can drift from the rules (chalicelib/domain/bodies.py).
"""
from __future__ import annotations

from typing import Any, ClassVar

import pytest
from pydantic.json_schema import SkipJsonSchema

from chalicelib.domain import bodies
from chalicelib.domain.errors import BadRequest
from chalicelib.edge import http, openapi
from chalicelib.edge.openapi import inputs
from chalicelib.edge.openapi.operations import OPERATIONS
from chalicelib.services import actor_fields, configs, permissions
from chalicelib.wiring.settings import Settings

POOLS = ("default", "gpu")
BODIES = sorted({op.body for op in OPERATIONS if op.body})


def _document_schemas() -> dict[str, Any]:
    import app  # noqa: F401  registers every route in http.SERVED

    return openapi.document("http://x", ":dev", http.SERVED, pools=POOLS)["components"]["schemas"]


def _documented_fields(model: Any) -> set[str]:
    return {name for name, field in model.model_fields.items()
            if not any(isinstance(meta, SkipJsonSchema) for meta in field.metadata)}


@pytest.mark.parametrize("body", BODIES)
def test_every_body_in_the_document_is_its_models_schema(body: str) -> None:
    assert body in inputs.MODELS, f"{body}: an operation's body without a request model"
    model = inputs.MODELS[body]
    documented = _document_schemas()[body]
    assert documented == inputs.request_schemas(POOLS)[body]
    if documented.get("type") == "object":
        assert set(documented["properties"]) == _documented_fields(model)
        required = [name for name, field in model.model_fields.items() if field.is_required()]
        assert documented.get("required", []) == required


def test_a_field_added_to_a_model_reaches_the_document() -> None:
    class Extended(actor_fields.ActorInput):
        shiny: bodies.Boolish = False

    schemas = inputs.request_schemas(POOLS, {**inputs.MODELS, "ActorInput": Extended})
    assert schemas["ActorInput"]["properties"]["shiny"] == inputs.spell_spaces(bodies.BOOLISH)
    assert "shiny" not in inputs.request_schemas(POOLS)["ActorInput"]["properties"]


def test_the_pools_of_the_deployment_are_the_queue_enum() -> None:
    queue = _document_schemas()["ActorUpdate"]["properties"]["queue"]
    assert queue["enum"] == ["", *POOLS]


def test_the_first_invalid_field_in_declaration_order_answers() -> None:
    with pytest.raises(BadRequest, match=r"^Invalid actor description: image: Missing required parameter"):
        actor_fields.ActorInput.of({"stateless": "maybe"}, settings=Settings())
    with pytest.raises(BadRequest, match=r"^Invalid actor description: stateless: 'maybe' is not a valid boolean"):
        actor_fields.ActorInput.of({"image": "img", "stateless": "maybe", "log_ex": "x"}, settings=Settings())
    with pytest.raises(BadRequest, match=r"Missing required field: is_secret"):  # Abaco checks is_secret first
        configs.ConfigUpdate.of({"actors": ""})


def test_a_permission_checks_the_level_before_the_user_name() -> None:
    with pytest.raises(BadRequest, match="level: 'HIGH' is not one of"):
        permissions.PermissionInput.of({"user": "bad#name", "level": "HIGH"})
    with pytest.raises(BadRequest, match="user: invalid user name"):
        permissions.PermissionInput.of({"user": "bad#name", "level": "READ"})
    assert permissions.parse_grant({"user": "  ann ", "level": "read"}) == ("ann", permissions.Level.READ)


def test_a_value_a_rule_passed_but_its_kind_refused_is_still_a_400() -> None:
    class Odd(bodies.Body):
        PREFIX: ClassVar[str] = "Invalid odd description"
        count: bodies.checked(int, lambda v, _i: v, {"type": "integer"})  # type: ignore[valid-type]

    with pytest.raises(BadRequest, match=r"^Invalid odd description: count: "):
        Odd.of({"count": "many"})
    assert Odd.of({"count": "3"}).count == 3
