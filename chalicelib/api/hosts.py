"""Runner hosts (admin): their records, heartbeats and workers, and the duty leases."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.common import context
from chalicelib.domain.access import Level, Scope, needs
from chalicelib.edge.envelope import DATA
from chalicelib.edge.http import Ok, route
from chalicelib.services import workers

bp = Blueprint(__name__)


@needs(Level.NONE, Scope.ADMIN)
def list_hosts(request: Any) -> Ok:
    backend, caller = context(request)
    return Ok(workers.hosts_summary(backend, caller), "Runner hosts retrieved successfully.", keys=DATA)


route(bp, "/actors/admin/hosts", GET=list_hosts)
