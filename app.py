"""The Abaco REST API (Abaco v2 paths and envelope): the Chalice app and its blueprints."""
from __future__ import annotations

from chalice import Chalice

from chalicelib.api import actors, executions, hosts, messages, state, workers

app = Chalice(app_name="abaco")
app.api.binary_types.append("application/octet-stream")

for blueprint in (actors.bp, messages.bp, executions.bp, state.bp, workers.bp, hosts.bp):
    app.register_blueprint(blueprint)
