"""The Abaco REST API (Abaco v2 paths and envelope): the Chalice app and its blueprints.

The app is ``AbacoApp`` (``chalicelib/edge/gateway.py``): Chalice with repeated slashes merged and a default
``Accept`` before dispatch, behind a catch-all route registered last.
"""
from __future__ import annotations

from typing import Any

from chalicelib.adapters import tracing
from chalicelib.api import (
    actors,
    admin,
    aliases,
    configs,
    dashboard,
    duties,
    executions,
    hosts,
    insights,
    messages,
    nonces,
    openapi,
    permissions,
    roles,
    search,
    state,
    tenants,
    workers,
)
from chalicelib.edge import gateway, lambda_start
from chalicelib.wiring.backend import get_backend

app = gateway.AbacoApp(app_name="abaco", configure_logs=False)  # our JSON handler (lambda_start), not a second one
lambda_start.install(app)  # in Lambda: JSON logging and the start-up check, now (at import)


@app.middleware("http")
def trace_request(event: Any, get_response: Any) -> Any:
    """One X-Ray segment per request when ``ABACO_TRACING`` is on (chalicelib/adapters/tracing.py)."""
    if not tracing.configure(get_backend().settings, "abaco-api"):
        return get_response(event)
    with tracing.segment("abaco-api", event.headers.get("x-amzn-trace-id")) as opened:
        response = get_response(event)
        path = event.context.get("path") or event.path  # the request's own path; event.path is the route's
        tracing.http_meta(opened, event.method, path, response.status_code)
        return response


app.api.binary_types.append("application/octet-stream")

for blueprint in (actors.bp, messages.bp, executions.bp, state.bp, workers.bp, hosts.bp, aliases.bp, configs.bp,
                  search.bp, admin.bp, openapi.bp, permissions.bp, nonces.bp, duties.bp,
                  insights.bp, dashboard.bp, roles.bp, tenants.bp):
    app.register_blueprint(blueprint)
gateway.register_catch_all(app)
