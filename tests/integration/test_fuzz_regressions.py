"""Regressions for what T26 (Schemathesis, tests/integration/test_schemathesis.py) found, over HTTP on the
session stack: each was a 2xx for bad input, a wrong route, or a reply missing what HTTP requires."""
from __future__ import annotations

import pytest

from tests.conftest import Api

TENANT = {"tenant": "FUZZ-REGRESSIONS"}


def _actor(api: Api) -> str:
    return api.ok("POST", "/actors", json={"image": "abacosamples/test"}, headers=TENANT)["id"]


def _error(response, status: int) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "error" and body["result"] is None
    return body["message"]


def test_a_wrong_verb_is_a_405_that_lists_the_allowed_methods(api: Api) -> None:
    response = api.call("PUT", "/actors", headers=TENANT)
    _error(response, 405)
    assert set(response.headers["Allow"].split(",")) == {"GET", "POST", "OPTIONS"}


@pytest.mark.parametrize("identifier", ["a/b", "x?y=1", "h#frag", "caf\u00e9"])
def test_an_identifier_with_reserved_characters_stays_one_path_segment(api: Api, identifier: str) -> None:
    """The local gateway matched the decoded path: '/' split the segment, '?' and '#' cut it (a 405 for
    DELETE .../nonces/x?y), and non-ASCII ids arrived as mojibake."""
    from urllib.parse import quote

    actor_id = _actor(api)
    response = api.call("DELETE", f"/actors/{actor_id}/nonces/{quote(identifier, safe='')}", headers=TENANT)
    assert identifier in _error(response, 404)
    response = api.call("GET", f"/actors/{quote(identifier, safe='')}", headers=TENANT)
    assert f"'{identifier}'" in _error(response, 404)


@pytest.mark.parametrize("body", [
    {"max_workers": 2.5}, {"max_workers": True}, {"max_run_time": "1_000"}, {"log_ex": "\u0663"},
    {"image": " " + "i" * 4096},  # too long as sent, even if stripping would bring it under the limit
    {"webhook": " http://example.com/" + "p" * 2040},
])
def test_sloppy_numbers_and_overlong_values_are_refused(api: Api, body: dict) -> None:
    _error(api.call("POST", "/actors", json={"image": "abacosamples/test", **body}, headers=TENANT), 400)


def test_decimal_text_with_spaces_is_still_a_number(api: Api) -> None:
    actor = api.ok("POST", "/actors", json={"image": "abacosamples/test", "max_run_time": "\x1c 30 \u2003"},
                   headers=TENANT)
    assert actor["max_run_time"] == 30


def test_a_json_null_body_is_not_an_empty_body(api: Api) -> None:
    actor_id = _actor(api)
    response = api.call("POST", f"/actors/{actor_id}/workers", data="null",
                        headers={**TENANT, "Content-Type": "application/json"})
    _error(response, 400)


def test_nonce_description_and_uses_are_bounded(api: Api) -> None:
    actor_id = _actor(api)
    path = f"/actors/{actor_id}/nonces"
    _error(api.call("POST", path, json={"description": "d" * 4097}, headers=TENANT), 400)
    _error(api.call("POST", path, json={"max_uses": 10 ** 12}, headers=TENANT), 400)
    _error(api.call("POST", path, json={"level": "\u0663"}, headers=TENANT), 400)
    assert api.ok("GET", path, headers=TENANT) == []


def test_names_are_limited_as_sent(api: Api) -> None:
    actor_id = _actor(api)
    _error(api.call("POST", "/actors/aliases", json={"alias": " " + "a" * 128, "actor_id": actor_id},
                    headers=TENANT), 400)
    _error(api.call("POST", "/actors/configs", json={"name": "c" * 128 + " ", "value": "v", "is_secret": False,
                                                     "actors": actor_id}, headers=TENANT), 400)
    _error(api.call("POST", f"/actors/{actor_id}/permissions", json={"user": "u" * 128 + "\t", "level": "READ"},
                    headers=TENANT), 400)
