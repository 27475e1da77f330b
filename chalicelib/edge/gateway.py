"""The Lambda entry: what nginx did in front of Abaco, done to the API Gateway event before Chalice dispatches it.

API Gateway routes on the path as sent, so ``/v3/actors/x//messages`` (tapipy's ``send_binary_message``)
matches no route of ours. A greedy catch-all route (``paths.CATCH_ALL``) receives every such request; here
its path gets its slashes merged and is matched against our routes, and the event is rewritten to name
that route, so Chalice runs the right view with the right parameters. What still matches nothing gets
Abaco's 404 envelope from the catch-all view (not API Gateway's 403 "Missing Authentication Token").
Behind an HTTP API (``infrastructure/abaco_infra/api.py``) every request comes through its one ``$default``
route, in the same REST event format (payload 1.0): it is re-routed the same way.

A request without ``Accept`` accepts any media type (RFC 9110 §12.5.1): tapipy sends none, even for
``GET .../results``. Chalice would refuse a binary answer to it with a 400, so the event gets
``Accept: */*`` first. API Gateway itself converts the answer to bytes because its Content-Type,
``application/octet-stream``, is one of the API's binary media types (``app.py``).
"""
from __future__ import annotations

from typing import Any

from chalice import Chalice, Response

from chalicelib.edge import http, paths

HTTP_API_DEFAULT_ROUTE = "$default"  # the one route of an HTTP API: every path, every method


class AbacoApp(Chalice):
    """Chalice, with each REST event normalised (``normalise``) before dispatch."""

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        if isinstance(event, dict) and isinstance(event.get("requestContext"), dict):
            event = normalise(event, self.routes)
        return super().__call__(event, context)


def normalise(event: dict[str, Any], routes: Any) -> dict[str, Any]:
    """The event with a default ``Accept``, and a catch-all request re-routed to the route it names."""
    headers = event.get("headers") or {}
    if not any(name.lower() == "accept" for name in headers):
        event = {**event, "headers": {**headers, "accept": "*/*"}}
    context = event["requestContext"]
    if context.get("resourcePath") not in (paths.CATCH_ALL, HTTP_API_DEFAULT_ROUTE) and \
            event.get("resource") != HTTP_API_DEFAULT_ROUTE:
        return event
    path = paths.merge_slashes(event.get("path") or "/")
    matched = paths.match(path, routes)
    if matched is None:  # the catch-all view answers with a 404 (an HTTP API's event names no route yet)
        return {**event, "path": path, "resource": paths.CATCH_ALL, "pathParameters": {"proxy": path.lstrip("/")},
                "requestContext": {**context, "resourcePath": paths.CATCH_ALL}}
    resource, parameters = matched
    return {**event, "path": path, "resource": resource, "pathParameters": parameters or None,
            "requestContext": {**context, "resourcePath": resource}}


def register_catch_all(app: Chalice) -> None:
    """The greedy route that receives what no other route matched: Abaco's 404."""

    def catch_all(**_: str) -> Response:
        return http.not_found()

    app.route(paths.CATCH_ALL, methods=http.VERBS, cors=http.CORS, content_types=http.CONTENT_TYPES)(catch_all)
