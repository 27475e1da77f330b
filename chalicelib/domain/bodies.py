"""Request bodies as pydantic models: each field's rule and its JSON Schema written once, side by side.

A field type is ``checked(kind, rule, schema)``: ``rule`` turns what was sent (form text or a JSON value)
into ``kind`` or raises ``BadRequest`` with Abaco's message, and ``schema`` says exactly what the rule
accepts. The services validate every body through its model (``Body.of``), and the OpenAPI document's
request schemas are generated from the same models (``model_json_schema``, in
chalicelib/edge/openapi/inputs.py), so a field added to a model reaches the document.

Pydantic lets any exception but ValueError and AssertionError through a validator unchanged, so the
first invalid field, in the order the model declares its fields, answers with its own message, as the
hand-written parsers did. Schemathesis (tests/integration/test_schemathesis.py) fails on any value the
schema and the rule disagree on, so the schemas below spell every syntactic rule of
``chalicelib.domain.inputs`` with the constant it comes from; rules that depend on stored data (a link
to an existing actor, a cron start not in the past) are said in descriptions.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from chalicelib.domain import inputs
from chalicelib.domain.access import Level
from chalicelib.domain.errors import BadRequest

Rule = Callable[[Any, ValidationInfo], Any]


def checked(kind: Any, rule: Rule, schema: dict[str, Any] | None) -> Any:
    """A field type: ``rule`` makes a ``kind`` of what was sent; ``schema`` None keeps it out of the document
    (a rule JSON Schema cannot say, such as the names of an object's properties)."""
    return Annotated[kind, BeforeValidator(rule), SkipJsonSchema() if schema is None else WithJsonSchema(schema)]


def prefix(info: ValidationInfo) -> str:
    """The model's ``PREFIX``, which ``Body.of`` passes in the validation context."""
    return str((info.context or {}).get("prefix", "Invalid request"))


def context(info: ValidationInfo, name: str) -> Any:
    return (info.context or {}).get(name)


class Body(BaseModel):
    """A request body. Unknown fields are ignored (Abaco's parsers read only what they know); a required
    field that is absent reaches its rule as None, so its message is Abaco's and comes in field order."""

    model_config = ConfigDict(extra="ignore")
    PREFIX: ClassVar[str] = "Invalid request"

    @model_validator(mode="before")
    @classmethod
    def _absent_is_none(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        return {**{name: None for name, field in cls.model_fields.items() if field.is_required()}, **data}

    @classmethod
    def of(cls, body: Mapping[str, Any], **given: Any) -> Self:
        """The validated body; ``given`` is what rules may need besides the body (settings, the time, ...)."""
        try:
            return cls.model_validate(body, context={"prefix": cls.PREFIX, **given})
        except ValidationError as exc:  # a value a rule passed but its kind refused: still the caller's 400
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise BadRequest(f"{cls.PREFIX}: {where}: {first['msg']}.") from exc


# --- the spellings chalicelib.domain.inputs accepts, as JSON Schema ---------------------------------

def case_free(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word)


# inputs.as_bool: a JSON boolean, 0 or 1, or one of these words (any case, spaces around).
_BOOL_WORDS = "|".join(case_free(w) for w in ("true", "false", "1", "0", "yes", "no", "on", "off"))
_FALSE_WORDS = "|".join(case_free(w) for w in ("false", "0", "no", "off"))
# A JSON null is "absent" only where the field's default is None (token); elsewhere it is refused.
BOOLISH: dict[str, Any] = {"oneOf": [
    {"type": "boolean"}, {"type": "number", "enum": [0, 1]},
    {"type": "string", "pattern": rf"^\s*({_BOOL_WORDS})\s*$"}]}
FALSE_ONLY: dict[str, Any] = {"description": "not supported here: only false is accepted",
                              "oneOf": [{"type": "boolean", "enum": [False]}, {"type": "number", "enum": [0]},
                                        {"type": "string", "pattern": rf"^\s*({_FALSE_WORDS})\s*$"}]}


def int_text(minimum: int | None) -> str:
    """inputs.as_int's decimal texts of integers >= ``minimum`` (None, 0 or a power of ten)."""
    if minimum is None:
        return r"^\s*[+-]?[0-9]+\s*$"
    if minimum == 0:
        return r"^\s*(\+?[0-9]+|-0+)\s*$"
    digits = len(str(minimum)) - 1
    assert minimum == 10 ** digits, "only powers of ten have a simple pattern"
    return rf"^\s*\+?0*[1-9][0-9]{{{digits},}}\s*$"


def integer_schema(minimum: int | None = None, description: str = "", optional: bool = True) -> dict[str, Any]:
    """An integer, or its decimal text; optional ones take null or "" as absent."""
    number: dict[str, Any] = {"type": "integer"}
    if minimum is not None:
        number["minimum"] = minimum
    variants = [number, {"type": "string", "pattern": int_text(minimum)}]
    schema: dict[str, Any] = {"oneOf": [*variants, {"type": "string", "enum": [""]}] if optional else variants}
    if optional:
        schema["nullable"] = True
    if description:
        schema["description"] = description
    return schema


def text_schema(max_length: int, **extra: Any) -> dict[str, Any]:
    """inputs.as_str: a string (or a number, shown as text); null means absent."""
    return {"nullable": True, "oneOf": [{"type": "string", "maxLength": max_length, **extra}, {"type": "number"}]}


def at_least(n: int, max_digits: int | None = None) -> str:
    """A regular expression of the decimal numbers >= n (no sign, no leading zeros), of at most
    ``max_digits`` digits when given."""
    digits = str(n)
    upper = "" if max_digits is None else str(max_digits - 1)
    options = [rf"[1-9][0-9]{{{len(digits)},{upper}}}"]  # more digits
    for i, d in enumerate(digits):  # same length: equal up to i, then a bigger digit at i
        if d != "9":
            low = "1" if i == 0 and d == "0" else str(int(d) + 1)
            options.append(digits[:i] + f"[{low}-9]" + f"[0-9]{{{len(digits) - i - 1}}}")
    options.append(digits)
    return "|".join(options)


def level_schema(*levels: Level) -> dict[str, Any]:
    """Level.parse: a name in any case or a number, one of ``levels``."""
    words = "|".join([case_free(lvl.name) for lvl in levels] + [f"0*{int(lvl)}" for lvl in levels])
    return {"oneOf": [{"type": "string", "pattern": rf"^\s*({words})\s*$"},
                      {"type": "integer", "enum": [int(lvl) for lvl in levels]}]}


# --- field types shared by several bodies -----------------------------------------------------------

def bool_rule(value: Any, info: ValidationInfo) -> bool:
    return inputs.as_bool(value, str(info.field_name), prefix(info))


Boolish = checked(bool, bool_rule, BOOLISH)


def optional_int(minimum: int | None = None, description: str = "") -> Any:
    """An optional integer (null or "" mean absent) of at least ``minimum``."""
    def rule(value: Any, info: ValidationInfo) -> int | None:
        return inputs.as_int(value, str(info.field_name), prefix(info), minimum=minimum)
    return checked(int | None, rule, integer_schema(minimum, description))


def name_schema(chars: tuple[str, ...], max_length: int, reserved: tuple[str, ...]) -> dict[str, Any]:
    """A name as the services check it after strip(): printable, without ``chars``, not reserved."""
    banned = "".join("\\" + c if c in "\\]^-[" else c for c in chars)
    inner, edge = rf"[^{banned}\x00-\x1f\x7f]", rf"[^{banned}\s\x00-\x1f\x7f]"
    words = "|".join(re.escape(word) for word in reserved)
    return {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": rf"^\s*{edge}({inner}*{edge})?\s*$",
            "not": {"pattern": rf"^\s*({words})\s*$"}, "description": f"not one of {', '.join(reserved)}"}


# An actor named in a body (an alias's target, a config's recipients): syntax only, existence is the service's.
ACTOR_REF: dict[str, Any] = {"type": "string", "pattern": r"\S", "description": "an actor id or alias"}
