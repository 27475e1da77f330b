"""The Abaco REST API (Abaco v2 paths and envelope): the Chalice app and its blueprints.

The app is ``AbacoApp`` (``chalicelib/edge/gateway.py``): Chalice with repeated slashes merged and a default
``Accept`` before dispatch, behind a catch-all route registered last.
"""
from __future__ import annotations

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
from chalicelib.edge import gateway

app = gateway.AbacoApp(app_name="abaco")
app.api.binary_types.append("application/octet-stream")

for blueprint in (actors.bp, messages.bp, executions.bp, state.bp, workers.bp, hosts.bp, aliases.bp, configs.bp,
                  search.bp, admin.bp, openapi.bp, permissions.bp, nonces.bp, duties.bp,
                  dashboard.bp):
    app.register_blueprint(blueprint)
gateway.register_catch_all(app)
