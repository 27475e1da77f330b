"""Pure logic of the HTTP edge: the envelope, the case switch, input coercion, message parsing."""
from __future__ import annotations

import pytest

from chalicelib.domain import inputs
from chalicelib.domain.errors import BadRequest
from chalicelib.edge.envelope import convert_keys, envelope, to_camel, to_snake
from chalicelib.services.messages import environment_from_query, parse_message


@pytest.mark.parametrize(("snake", "camel"), [
    ("default_environment", "defaultEnvironment"), ("status_message", "statusMessage"),
    ("max_workers", "maxWorkers"), ("cron_next_ex", "cronNextEx"), ("_links", "_links"), ("id", "id"),
])
def test_case_conversion_round_trips(snake: str, camel: str) -> None:
    assert to_camel(snake) == camel
    assert to_snake(camel) == snake


def test_camel_converts_top_level_keys_only() -> None:
    value = {"final_state": {"exit_code": 1}, "default_environment": {"my_var": "x"}}
    assert convert_keys(value, "camel") == {"finalState": {"exit_code": 1}, "defaultEnvironment": {"my_var": "x"}}
    assert convert_keys([value], "camel")[0]["finalState"] == {"exit_code": 1}
    assert convert_keys(value, "snake") is value


def test_envelope_shape() -> None:
    assert envelope([], "ok", ":dev") == {"message": "ok", "result": [], "status": "success", "version": ":dev"}


@pytest.mark.parametrize(("raw", "expected"), [(True, True), ("true", True), ("False", False), (0, False), ("1", True)])
def test_booleans_accept_json_and_form_spellings(raw: object, expected: bool) -> None:
    assert inputs.as_bool(raw, "f", "p") is expected


@pytest.mark.parametrize("raw", ["abcd", 2, None, [True]])
def test_invalid_booleans_name_the_field(raw: object) -> None:
    with pytest.raises(BadRequest, match="stateless"):
        inputs.as_bool(raw, "stateless", "Invalid actor description")


def test_dicts_from_json_text_and_objects() -> None:
    assert inputs.as_dict('{"a": 1}', "d", "p") == {"a": 1}
    assert inputs.as_dict({"b": 2}, "d", "p") == {"b": 2}
    assert inputs.as_dict("", "d", "p") == {}
    with pytest.raises(BadRequest):
        inputs.as_dict("abcd", "default_environment", "p")
    with pytest.raises(BadRequest):
        inputs.as_dict("[1]", "default_environment", "p")


def test_ints_and_minimums() -> None:
    assert inputs.as_int("3", "n", "p") == 3
    assert inputs.as_int(None, "n", "p") is None
    with pytest.raises(BadRequest):
        inputs.as_int("many", "n", "p")
    with pytest.raises(BadRequest):
        inputs.as_int(True, "n", "p")
    with pytest.raises(BadRequest, match="at least 1"):
        inputs.as_int(0, "max_workers", "p", minimum=1)


def test_string_lists_from_json_csv_and_lists() -> None:
    assert inputs.as_str_list('["a", "b"]', "h", "p") == ["a", "b"]
    assert inputs.as_str_list("a, b", "h", "p") == ["a", "b"]
    with pytest.raises(BadRequest):
        inputs.as_str_list([1], "hints", "p")


def test_message_field_wins_over_json() -> None:
    assert parse_message(None, b"", {"message": "hi"}, None).body == "hi"
    parsed = parse_message("application/json", b"", None, {"message": "hello"})
    assert (parsed.content_type, parsed.body) == ("str", "hello")


def test_json_body_is_an_application_json_message() -> None:
    parsed = parse_message("application/json", b'{"a": 1}', None, {"a": 1})
    assert parsed.content_type == "application/json" and parsed.body == '{"a": 1}'


def test_raw_body_must_be_json_text() -> None:
    assert parse_message("text/plain", b'"just text"', None, None).body == "just text"
    with pytest.raises(BadRequest, match="could not be serialized"):
        parse_message("text/plain", b"not json", None, None)


def test_query_parameters_become_environment_but_never_the_nonce() -> None:
    env = environment_from_query({"a": "1", "x-nonce": "secret", "message": "m"})
    assert env == {"a": "1"}
    with pytest.raises(BadRequest):
        environment_from_query({"bad=name": "v"})
