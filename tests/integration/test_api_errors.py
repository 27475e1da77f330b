"""Bad input gets a clear 4xx in Abaco's envelope and changes nothing."""
from __future__ import annotations

import pytest

from tests.conftest import Api

TENANT = {"tenant": "ERRORS-TENANT"}


def _error(response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "error" and body["result"] is None and "version" in body
    return body["message"]


def _actor_count(api: Api) -> int:
    return len(api.ok("GET", "/actors", headers=TENANT))


@pytest.mark.parametrize("body", [
    {},
    {"image": ""},
    {"image": "abacosamples/test", "stateless": "abcd"},
    {"image": "abacosamples/test", "use_container_uid": "abcd"},
    {"image": "abacosamples/test", "default_environment": "abcd"},
    {"image": "abacosamples/test", "stateless": False, "max_workers": 3},
    {"image": "abacosamples/test", "queue": "no-such-pool"},
    {"image": "abacosamples/test", "hints": ["bad{hint"]},
    {"image": "abacosamples/test", "max_workers": "many"},
])
def test_invalid_actor_is_a_400_and_creates_nothing(api: Api, body: dict) -> None:
    before = _actor_count(api)
    message = _error(api.call("POST", "/actors", json=body, headers=TENANT), 400)
    assert message
    assert _actor_count(api) == before


def test_missing_image_names_the_field(api: Api) -> None:
    assert "image" in _error(api.call("POST", "/actors", data={"name": "x"}, headers=TENANT), 400)


def test_malformed_json_is_a_400(api: Api) -> None:
    response = api.call("POST", "/actors", data=b"{not json", headers={**TENANT, "Content-Type": "application/json"})
    _error(response, 400)


def test_unknown_actor_is_a_404_everywhere(api: Api) -> None:
    for method, path in [("GET", "/actors/nope"), ("PUT", "/actors/nope"), ("DELETE", "/actors/nope"),
                         ("GET", "/actors/nope/messages"), ("POST", "/actors/nope/messages"),
                         ("GET", "/actors/nope/executions"), ("GET", "/actors/nope/workers"),
                         ("GET", "/actors/nope/executions/x/logs")]:
        kwargs = {"json": {"image": "x", "message": "m"}} if method in ("PUT", "POST") else {}
        message = _error(api.call(method, path, headers=TENANT, **kwargs), 404)
        assert "nope" in message


def test_wrong_verb_is_a_405_in_the_envelope(api: Api) -> None:
    for method, path in [("DELETE", "/actors"), ("PUT", "/actors"), ("PATCH", "/actors"),
                         ("PUT", "/actors/x/messages")]:
        _error(api.call(method, path, headers=TENANT), 405)


def test_unparseable_message_is_a_400_and_enqueues_nothing(api: Api) -> None:
    actor = api.create_actor(image="abacosamples/test")
    response = api.call("POST", f"/actors/{actor['id']}/messages", data=b"not json at all",
                        headers={"Content-Type": "text/plain"})
    _error(response, 400)
    assert api.ok("GET", f"/actors/{actor['id']}/executions")["total_executions"] == 0


def test_actor_in_another_tenant_is_not_found(api: Api) -> None:
    actor = api.create_actor(image="abacosamples/test")
    _error(api.call("GET", f"/actors/{actor['id']}", headers={"tenant": "OTHER"}), 404)
    assert actor["id"] not in [a["id"] for a in api.ok("GET", "/actors", headers={"tenant": "OTHER"})]
