"""The OpenAPI document's input rules agree with the validators they describe (the request models of
chalicelib/domain/bodies.py and the services, documented by chalicelib/edge/openapi/inputs.py).

Schemathesis (T26) fails on any disagreement over HTTP; these pin the pieces with plain values, fast.
"""
from __future__ import annotations

import re

import pytest

from chalicelib.domain import bodies, cron, inputs
from chalicelib.domain.access import Level
from chalicelib.domain.errors import BadRequest
from chalicelib.edge.openapi import inputs as doc
from chalicelib.services import actor_fields, aliases
from local.wsgi import SegmentMatcher, request_path


def _matches(schema: dict, value: str) -> bool:
    pattern = doc.spell_spaces(schema)["pattern"]
    return re.search(pattern, value) is not None


def _accepts(check, value) -> bool:  # type: ignore[no-untyped-def]
    try:
        check(value)
    except (BadRequest, ValueError):
        return False
    return True


def test_spaces_are_exactly_what_str_isspace_calls_a_space() -> None:
    spelled = re.compile(f"[{doc.SPACES}]")
    assert {c for c in range(0x110000) if spelled.fullmatch(chr(c))} == \
        {c for c in range(0x110000) if chr(c).isspace()}


@pytest.mark.parametrize("n", [0, 1, 6, 9, 10, 99, 6144, 6291456, 10 ** 7])
def test_at_least_matches_exactly_the_numbers_from_n(n: int) -> None:
    pattern = re.compile(f"^({bodies.at_least(n)})$")
    assert all(bool(pattern.match(str(k))) == (k >= n) for k in range(max(0, n - 50), n + 50))
    assert pattern.match(str(n * 10 + 7))
    bounded = re.compile(f"^({bodies.at_least(n, len(str(n)) + 1)})$")
    assert bounded.match(str(10 ** len(str(n)))) and not bounded.match(str(10 ** (len(str(n)) + 1)))


@pytest.mark.parametrize("text", ["6m", "6M", " 7m ", "6291456", "6291455", "6144k", "6143k", "1g", "0g", "5m",
                                  "06m", "1000000", "12x", "", "1.5g",
                                  "999999999g", "1000000000g", "000000000000000000000000000000000000006m",
                                  "\u2002\u20020070106739235275416834942094007953G\t\r\u2028",
                                  "999999999999999999", "1000000000000000000b", "999999999999999k", "1" * 5000])
def test_memory_pattern_agrees_with_the_validator(text: str) -> None:
    schema = doc.request_schemas(["default"])["ActorInput"]["properties"]["mem_limit"]
    assert _matches(schema, text) == _accepts(actor_fields._memory, text), text


@pytest.mark.parametrize("text", ["5", " 5 ", "+5", "-5", "0", "007", "1_000", "\u0663", "5.0", "\x1c5\x1c",
                                  "\u20035", "", " ", "five"])
def test_integer_text_agrees_with_as_int(text: str) -> None:
    schema = bodies.integer_schema()
    texts = [v for v in schema["oneOf"] if "pattern" in v]
    documented = any(_matches(v, text) for v in texts) or text == ""
    assert documented == _accepts(lambda v: inputs.as_int(v, "f", "p"), text), repr(text)


@pytest.mark.parametrize("value", [2.5, True, 1e300])
def test_as_int_refuses_what_int_would_bend(value: object) -> None:
    with pytest.raises(BadRequest):
        inputs.as_int(value if value != 1e300 else float("inf"), "f", "p")
    if value == 2.5:
        assert inputs.as_int(2.0, "f", "p") == 2


@pytest.mark.parametrize("text", ["true", " TRUE ", "False", "yes", "off", "1", "0", "truthy", "", "\u2003on\x1c"])
def test_boolean_words_agree_with_as_bool(text: str) -> None:
    pattern = bodies.BOOLISH["oneOf"][2]
    assert _matches(pattern, text) == _accepts(lambda v: inputs.as_bool(v, "f", "p"), text), repr(text)


@pytest.mark.parametrize("text", ["READ", " read ", "3", "003", "\u0663", "4", "admin", "Update"])
def test_level_words_agree_with_level_parse(text: str) -> None:
    pattern = bodies.level_schema(*Level)["oneOf"][0]
    assert _matches(pattern, text) == _accepts(Level.parse, text), repr(text)


@pytest.mark.parametrize("text", ["2030-01-01 05 + 1 day", "now + 2 hours", "NOW+1 week", "2030-1-1 5 + 10000 months",
                                  "2030-01-01 05 + 10001 day", "2030-01-01 05 + 0 day", "2030-01-01 + 1 day",
                                  "2030-01-01 05 + 1 fortnight", "2030-01-01T05 + 1 day"])
def test_cron_pattern_agrees_with_the_parser(text: str) -> None:
    assert bool(re.search(actor_fields.CRON, text)) == _accepts(cron.parse, text), text


@pytest.mark.parametrize("name", ["ok", "dots.in.name", "a b", "a/b", "admin", " admin\t", " padded ", "\x01x",
                                  "x" * 128, "x" * 129, "caf\u00e9", "in\u2003side", "\x1cedge\x1c", "openapi.json"])
def test_alias_pattern_agrees_with_validate_name(name: str) -> None:
    schema = doc.request_schemas(["default"])["AliasInput"]["properties"]["alias"]
    documented = (len(name) <= schema["maxLength"] and re.search(schema["not"]["pattern"], name) is None
                  and re.search(schema["pattern"], name) is not None)
    assert documented == _accepts(aliases.validate_name, name.strip() if len(name) <= 128 else name), name


def test_form_variant_has_no_nulls_and_no_object_fields() -> None:
    form = doc.form_variant(doc.request_schemas(["default"])["ActorInput"])
    assert "nullable" not in str(form) and "default_environment" not in form["properties"]
    assert form["properties"]["state"] == {"type": "string"}


def test_the_local_gateway_routes_on_the_encoded_path_and_decodes_each_segment() -> None:
    matcher = SegmentMatcher(["/actors/{actor_id}/nonces", "/actors/{actor_id}/nonces/{nonce_id}"])
    matched = matcher.match_route(request_path({"RAW_URI": "/actors/a%2Fb/nonces/x%3Fy%23z?q=1"}) + "?q=1")
    assert matched.route == "/actors/{actor_id}/nonces/{nonce_id}"
    assert matched.captured == {"actor_id": "a/b", "nonce_id": "x?y#z"}
    assert request_path({"PATH_INFO": "/actors/caf\u00c3\u00a9"}) == "/actors/caf%C3%A9"  # WSGI's latin-1 bytes


def test_a_state_sent_as_a_form_is_documented_as_its_fields() -> None:
    """A form body is always an object of fields: the JSON rule ("not empty or false") read as a form
    let Schemathesis send ``[]`` as a 'bad' form, which is the valid field ``[]``."""
    from chalicelib.edge import http, openapi

    schemas = openapi.document("http://x", ":dev", http.SERVED)["components"]["schemas"]
    assert schemas["StateInputForm"]["minProperties"] == 1
