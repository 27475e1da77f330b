"""Route spellings, slash merging and route matching of the gateway (``chalicelib/edge/paths.py``,
``chalicelib/edge/gateway.py``), on the app's real route table."""
from __future__ import annotations

from app import app
from chalicelib.edge import gateway, paths


def test_each_actors_route_has_three_spellings_and_other_routes_two() -> None:
    assert paths.variants("/actors/{actor_id}/messages") == [
        "/actors/{actor_id}/messages", "/v3/actors/{actor_id}/messages", "/actors/v2/{actor_id}/messages"]
    assert paths.variants("/actors") == ["/actors", "/v3/actors", "/actors/v2"]
    assert paths.variants("/dashboard") == ["/dashboard", "/v3/dashboard"]
    assert paths.variants("/actorsfoo") == ["/actorsfoo", "/v3/actorsfoo"]


def test_repeated_slashes_merge_and_nothing_else_changes() -> None:
    assert paths.merge_slashes("/v3/actors/x//messages") == "/v3/actors/x/messages"
    assert paths.merge_slashes("///actors////x/") == "/actors/x/"
    assert paths.merge_slashes("/actors/a%2F%2Fb") == "/actors/a%2F%2Fb"


def test_literal_segments_win_and_parameters_are_decoded() -> None:
    routes = list(app.routes)
    assert paths.match("/actors/v2/abc", routes) == ("/actors/v2/{actor_id}", {"actor_id": "abc"})
    assert paths.match("/actors/aliases/x", routes) == ("/actors/aliases/{alias}", {"alias": "x"})
    assert paths.match("/actors/v2/aliases", routes) == ("/actors/v2/aliases", {})
    assert paths.match("/actors/a%20b/messages/", routes) == ("/actors/{actor_id}/messages", {"actor_id": "a b"})
    assert paths.match("/actors//messages", routes) is None  # an empty parameter is no parameter
    assert paths.match("/no/such/route", routes) is None


def _event(path: str, headers: dict[str, str]) -> dict[str, object]:
    return {"path": path, "headers": headers, "pathParameters": {"proxy": path[1:]},
            "requestContext": {"resourcePath": paths.CATCH_ALL, "httpMethod": "GET"}}


def test_a_catch_all_event_is_rerouted_and_gets_a_default_accept() -> None:
    event = gateway.normalise(_event("/v3/actors/abc//executions//e1/", {}), app.routes)
    assert event["requestContext"]["resourcePath"] == "/v3/actors/{actor_id}/executions/{execution_id}"
    assert event["pathParameters"] == {"actor_id": "abc", "execution_id": "e1"}
    assert event["path"] == "/v3/actors/abc/executions/e1/" and event["headers"] == {"accept": "*/*"}
    kept = gateway.normalise(_event("/x//y", {"Accept": "application/json"}), app.routes)
    assert kept["requestContext"]["resourcePath"] == paths.CATCH_ALL
    assert kept["headers"] == {"Accept": "application/json"}
    assert kept["path"] == "/x/y"


def test_an_http_api_default_route_event_is_rerouted_like_the_catch_all() -> None:
    """Behind the HTTP API every request comes through ``$default`` (payload 1.0, no path parameters)."""
    default = {"path": "/actors/v2/abc", "resource": "$default", "headers": {}, "pathParameters": None,
               "requestContext": {"resourcePath": "$default", "httpMethod": "GET", "stage": "$default"}}
    event = gateway.normalise(default, app.routes)
    assert event["requestContext"]["resourcePath"] == event["resource"] == "/actors/v2/{actor_id}"
    assert event["pathParameters"] == {"actor_id": "abc"}
    missing = gateway.normalise({**default, "path": "/no//such"}, app.routes)
    assert missing["requestContext"]["resourcePath"] == missing["resource"] == paths.CATCH_ALL  # Abaco's 404
    assert missing["path"] == "/no/such"
