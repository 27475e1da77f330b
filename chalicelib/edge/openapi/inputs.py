"""Request-body schemas of the OpenAPI document, as exact as JSON Schema can say what the API accepts.

Schemathesis (tests/integration/test_schemathesis.py) generates requests from these: a value inside the
schema that the API refuses is a failure, and so is a value outside it that the API accepts. So every
syntactic rule of ``chalicelib.services`` (lengths, forbidden characters, ranges, the spellings of a
boolean, ``null`` meaning "absent") is written down here with the constant it comes from. Rules that
depend on stored data (a ``link`` to an existing actor, a cron start that is not in the past, the
caller's role) cannot be schemas; the document's descriptions say them.
"""
from __future__ import annotations

import re
from typing import Any

from chalicelib.domain import cron, images
from chalicelib.domain.access import Level
from chalicelib.services import actor_fields, aliases, configs, nonces, permissions
from chalicelib.wiring.settings import DEFAULT_MAX_CONTENT_LENGTH, GRANTABLE_ROLES

STR = {"type": "string"}
# What str.isspace() (and so the services' strip()) calls a space, spelled out: Python's ``\s`` agrees,
# other regex engines (ECMA, Rust) differ on \x1c-\x1f, \x85 and \ufeff. Patterns below are written
# with \s and \S and spelled with this class by ``spell_spaces`` (a unit test checks the list).
SPACES = r"\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


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


def _case_free(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word)


# chalicelib.domain.inputs.as_bool: a JSON boolean, 0 or 1, or one of these words (any case, spaces around).
_BOOL_WORDS = "|".join(_case_free(w) for w in ("true", "false", "1", "0", "yes", "no", "on", "off"))
_FALSE_WORDS = "|".join(_case_free(w) for w in ("false", "0", "no", "off"))
# A JSON null is "absent" only where the field's default is None (token); elsewhere it is refused.
BOOLISH: dict[str, Any] = {"oneOf": [
    {"type": "boolean"}, {"type": "number", "enum": [0, 1]},
    {"type": "string", "pattern": rf"^\s*({_BOOL_WORDS})\s*$"}]}
FALSE_ONLY: dict[str, Any] = {"description": "not supported here: only false is accepted",
                              "oneOf": [{"type": "boolean", "enum": [False]}, {"type": "number", "enum": [0]},
                                        {"type": "string", "pattern": rf"^\s*({_FALSE_WORDS})\s*$"}]}
# chalicelib.domain.inputs.as_int: an integer, or its decimal text (form bodies); null or "" mean absent.


def _int_text(minimum: int | None) -> str:
    """The decimal texts of integers >= ``minimum`` (None, 0 or a power of ten)."""
    if minimum is None:
        return r"^\s*[+-]?[0-9]+\s*$"
    if minimum == 0:
        return r"^\s*(\+?[0-9]+|-0+)\s*$"
    digits = len(str(minimum)) - 1
    assert minimum == 10 ** digits, "only powers of ten have a simple pattern"
    return rf"^\s*\+?0*[1-9][0-9]{{{digits},}}\s*$"


# A large message's size: 1 to the default ABACO_MAX_CONTENT_LENGTH (a deployment may set it lower).
assert DEFAULT_MAX_CONTENT_LENGTH == 500_000_000, "the pattern below spells the limit"
UPLOAD_SIZE = {"description": "bytes, 1 to ABACO_MAX_CONTENT_LENGTH (default 500,000,000)", "oneOf": [
    {"type": "integer", "minimum": 1, "maximum": DEFAULT_MAX_CONTENT_LENGTH},
    {"type": "string", "pattern": r"^\s*\+?0*([1-9][0-9]{0,7}|[1-4][0-9]{8}|500000000)\s*$"}]}

_UNITS = "|".join(cron.UNITS)
CRON = (r"^\s*(" + _case_free("now") + r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}[ T][0-9]{1,2})\s*\+\s*"
        rf"\+?0*([1-9][0-9]{{0,3}}|10000)\s+({_UNITS})\s*$")


def integer(minimum: int | None = None, description: str = "", optional: bool = True) -> dict[str, Any]:
    """An integer, or its decimal text; optional ones take null or "" as absent."""
    number: dict[str, Any] = {"type": "integer"}
    if minimum is not None:
        number["minimum"] = minimum
    variants = [number, {"type": "string", "pattern": _int_text(minimum)}]
    schema: dict[str, Any] = {"oneOf": [*variants, {"type": "string", "enum": [""]}] if optional else variants}
    if optional:
        schema["nullable"] = True
    if description:
        schema["description"] = description
    return schema


def text(max_length: int = actor_fields.MAX_TEXT, **extra: Any) -> dict[str, Any]:
    """chalicelib.domain.inputs.as_str: a string (or a number, shown as text); null means absent."""
    return {"nullable": True, "oneOf": [{"type": "string", "maxLength": max_length, **extra},
                                        {"type": "number"}]}


def at_least(n: int) -> str:
    """A regular expression of the decimal numbers >= n (no sign, no leading zeros)."""
    digits = str(n)
    options = [rf"[1-9][0-9]{{{len(digits)},}}"]  # more digits
    for i, d in enumerate(digits):  # same length: equal up to i, then a bigger digit at i
        if d != "9":
            low = "1" if i == 0 and d == "0" else str(int(d) + 1)
            options.append(digits[:i] + f"[{low}-9]" + f"[0-9]{{{len(digits) - i - 1}}}")
    options.append(digits)
    return "|".join(options)


def _obj(props: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = list(required)
    return schema


def _name(chars: tuple[str, ...], max_length: int, reserved: tuple[str, ...]) -> dict[str, Any]:
    """A name as the services check it after strip(): printable, without ``chars``, not reserved."""
    banned = "".join("\\" + c if c in "\\]^-[" else c for c in chars)
    inner, edge = rf"[^{banned}\x00-\x1f\x7f]", rf"[^{banned}\s\x00-\x1f\x7f]"
    words = "|".join(re.escape(word) for word in reserved)
    return {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": rf"^\s*{edge}({inner}*{edge})?\s*$",
            "not": {"pattern": rf"^\s*({words})\s*$"}, "description": f"not one of {', '.join(reserved)}"}


_ENV_NAME = r"^[^=\x00]+$"
_HINT = {"type": "string", "maxLength": actor_fields.MAX_TEXT,
         "pattern": "^[^" + actor_fields.HINT_FORBIDDEN.replace("[", "\\[").replace("]", "\\]") + "]*$"}
_MIB = actor_fields.MIN_MEMORY_BYTES // 1024 ** 2
MEMORY = {"type": "string", "pattern": "|".join(
    rf"^\s*0*({at_least(-(-actor_fields.MIN_MEMORY_BYTES // factor))}){unit}\s*$"
    for factor, unit in ((1, "[bB]?"), (1024, "[kK]"), (1024 ** 2, "[mM]"), (1024 ** 3, "[gG]"))),
    "description": f"bytes, or k, m or g; at least {_MIB}m (Docker's minimum)"}


_OPTIONAL_MEMORY = {**MEMORY, "pattern": MEMORY["pattern"] + r"|^\s*$", "nullable": True}  # blank: no limit


def actor_input(pools: list[str], update: bool = False) -> dict[str, Any]:
    props: dict[str, Any] = {
        "image": {"type": "string", "minLength": 1, "maxLength": images.MAX_REFERENCE_CHARS, "pattern": r"^\s*\S+\s*$",
                  "description": "Docker image (required)"},
        "description": text(), "stateless": BOOLISH, "privileged": BOOLISH,
        "type": {"nullable": True, "type": "string", "enum": ["", *actor_fields.ACTOR_TYPES]},
        "link": text(description="an actor id or alias of the tenant on which the caller has EXECUTE"),
        "webhook": {"nullable": True, "type": "string", "maxLength": actor_fields.MAX_URL,
                    "pattern": r"^\s*(https?://[A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]{1,5})?(/[!-~]*)?)?\s*$",
                    "description": "an http(s) URL; never a private or link-local address"},
        "token": {**BOOLISH, "nullable": True, "description": "null: the instance default"},
        "hints": {"oneOf": [{"type": "array", "maxItems": actor_fields.MAX_HINTS,
                                               "items": {"oneOf": [_HINT, {"type": "number"}]}},
                                              {"type": "string", "pattern": r"^[^\[\]\"'{}]*$"}],
                  "description": "tags; `sync` keeps a worker warm, `execution_started_events` also sends "
                                 "EXECUTION_STARTED events to the link and webhook"},
        "max_workers": integer(1, "stateless actors only"), "mem_limit": _OPTIONAL_MEMORY,
        "max_cpus": {**integer(actor_fields.MIN_NANO_CPUS), "description": "nanoCPUs, at least 0.01 CPU"},
        "use_container_uid": BOOLISH, "run_as_executor": FALSE_ONLY,
        "queue": {"nullable": True, "type": "string", "enum": ["", *pools]},
        "log_ex": integer(1, "seconds"), "max_attempts": integer(1, "runs of one message after runner losses"),
        "max_run_time": integer(1, "seconds before the container is stopped"),
        "cron_schedule": {"nullable": True, "type": "string", "pattern": CRON,
                          "example": "2030-01-01 05 + 1 day", "description": "UTC; the start may not be past"},
        "cron_on": {**BOOLISH, "description": "needs a cron_schedule"}, "state": {},
    }
    if update:
        props["force"] = BOOLISH
    else:
        props["name"] = text()
    schema = _obj(props, ("image",))
    schema["description"] = ("Also default_environment: an object (or its JSON text) of variables, names not empty, "
                             "without '=' or NUL and not a name Abaco sets (MSG, _actor_configs, _abaco_actor_id, "
                             "...); OpenAPI 3.0 cannot constrain property names.")
    return schema


ALIAS_NAME = _name(aliases.FORBIDDEN_CHARS, aliases.MAX_ALIAS_LENGTH, aliases.RESERVED_WORDS)
ALIAS_NAME["description"] += "; not an Abaco id (a hashid)"
CONFIG_NAME = _name(configs.FORBIDDEN_CHARS, configs.MAX_NAME_LENGTH, configs.RESERVED_WORDS)
_ACTOR_REF = {"type": "string", "pattern": r"\S", "description": "an actor id or alias"}
_CONFIG_VALUE = {"oneOf": [{"type": "string", "maxLength": configs.MAX_VALUE_CHARS, "pattern": r"^[^\x00]*$"},
                           {"type": "number"}, {"type": "boolean"}, {"type": "object"}, {"type": "array"}]}
_CONFIG_ACTORS = {"description": "comma-separated actor ids and/or aliases, each existing and yours to UPDATE",
                  "oneOf": [{"type": "string", "pattern": r"[^,\s]"},
                            {"type": "array", "minItems": 1, "maxItems": configs.MAX_ACTORS, "items": _ACTOR_REF}]}
_USER = {"type": "string", "maxLength": permissions.MAX_USER_LENGTH,
         "pattern": r"^\s*[^#\s\x00-\x1f]([^#\x00-\x1f]*[^#\s\x00-\x1f])?\s*$"}


def level(*levels: Level) -> dict[str, Any]:
    """chalicelib.domain.access.Level.parse: a name in any case or a number, one of ``levels``."""
    words = "|".join([_case_free(lvl.name) for lvl in levels] + [f"0*{int(lvl)}" for lvl in levels])
    return {"oneOf": [{"type": "string", "pattern": rf"^\s*({words})\s*$"},
                      {"type": "integer", "enum": [int(lvl) for lvl in levels]}]}


_LEVEL = level(*Level)



def _nonce(levels: tuple[Level, ...]) -> dict[str, Any]:
    assert nonces.MAX_USES == 10 ** 9, "the pattern below spells the limit"
    uses = {"description": f"-1: unlimited; at most {nonces.MAX_USES}", "nullable": True, "oneOf": [
        {"type": "integer", "minimum": -1, "maximum": nonces.MAX_USES, "not": {"enum": [0]}},
        {"type": "string", "pattern": r"^\s*(-0*1|\+?0*([1-9][0-9]{0,8}|1000000000))\s*$"},
        {"type": "string", "enum": [""]}]}
    assert nonces.MAX_TTL == 10 ** 9 - 1, "the pattern below spells the limit"
    ttl = {"description": f"seconds the nonce stays usable, 1 to {nonces.MAX_TTL}; absent: no expiry",
           "nullable": True, "oneOf": [
               {"type": "integer", "minimum": 1, "maximum": nonces.MAX_TTL},
               {"type": "string", "pattern": r"^\s*\+?0*[1-9][0-9]{0,8}\s*$"},
               {"type": "string", "enum": [""]}]}
    return _obj({"level": level(*levels), "max_uses": uses, "ttl": ttl,
                 "description": text(nonces.MAX_DESCRIPTION)})


INPUTS: dict[str, Any] = {
    "AliasInput": _obj({"alias": ALIAS_NAME, "actor_id": _ACTOR_REF}, ("alias", "actor_id")),
    "AliasUpdate": _obj({"actor_id": _ACTOR_REF}, ("actor_id",)),
    "ConfigInput": _obj({"name": CONFIG_NAME, "value": _CONFIG_VALUE, "is_secret": BOOLISH,
                         "actors": _CONFIG_ACTORS}, ("name", "value", "is_secret", "actors")),
    "ConfigUpdate": _obj({"value": _CONFIG_VALUE, "is_secret": BOOLISH,
                          "actors": _CONFIG_ACTORS}, ("value", "is_secret", "actors")),
    "PermissionInput": _obj({"user": _USER, "level": _LEVEL}, ("user", "level")),
    "NonceInput": _nonce(nonces.ACTOR_LEVELS),
    "AliasNonceInput": _nonce(nonces.ALIAS_LEVELS),
    "RolesInput": _obj({"roles": {"type": "array", "minItems": 1,
                                  "items": {"type": "string", "enum": list(GRANTABLE_ROLES)}}}, ("roles",)),
    "WorkersInput": _obj({"num": integer(1)}),
    "ExecutionInput": _obj({name: integer(0, optional=False) for name in ("runtime", "cpu", "io")},
                           ("runtime", "cpu", "io")),
    "MessageUploadInput": _obj({"size": UPLOAD_SIZE,
                                "sha256": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}}, ("size", "sha256")),
    "StateInput": {"description": "any JSON value but an empty or false one",
                   "not": {"enum": [None, False, 0, "", {}, []]}},
}



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


MESSAGE_FORM = _obj({"message": {"type": "string"}}, ("message",))
# A state sent as a form is the object of its fields (at least one): a form body has no other shape.
STATE_FORM = {"type": "object", "minProperties": 1, "additionalProperties": {"type": "string"}}
