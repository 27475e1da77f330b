"""The Abaco REST API (Abaco v2 paths and envelope): the Chalice app and its blueprints."""
from __future__ import annotations

from chalice import Chalice

from chalicelib.api import (
    actors,
    admin,
    aliases,
    configs,
    dashboard,
    duties,
    executions,
    hosts,
    messages,
    nonces,
    openapi,
    permissions,
    search,
    state,
    workers,
)
from chalicelib.edge import lambda_start

app = Chalice(app_name="abaco", configure_logs=False)  # our JSON handler (lambda_start), not a second one
lambda_start.install(app)  # in Lambda: JSON logging and the start-up check, now (at import)
app.api.binary_types.append("application/octet-stream")

for blueprint in (actors.bp, messages.bp, executions.bp, state.bp, workers.bp, hosts.bp, aliases.bp, configs.bp,
                  search.bp, admin.bp, openapi.bp, permissions.bp, nonces.bp, duties.bp,
                  dashboard.bp):
    app.register_blueprint(blueprint)
