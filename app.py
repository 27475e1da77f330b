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
    roles,
    search,
    state,
    tenants,
    workers,
)

app = Chalice(app_name="abaco")
app.api.binary_types.append("application/octet-stream")

for blueprint in (actors.bp, messages.bp, executions.bp, state.bp, workers.bp, hosts.bp, aliases.bp, configs.bp,
                  search.bp, admin.bp, openapi.bp, permissions.bp, nonces.bp, duties.bp,
                  dashboard.bp, roles.bp, tenants.bp):
    app.register_blueprint(blueprint)
