"""The read-only Tenants API of Tapis v3 (``/v3/tenants``, ``/v3/sites``), public as in Tapis: what tapipy
reads at start-up (``chalicelib.services.tenants``)."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.domain.access import Level, Scope, needs
from chalicelib.edge.envelope import DATA
from chalicelib.edge.http import Ok, route
from chalicelib.services import tenants
from chalicelib.wiring.settings import get_settings

bp = Blueprint(__name__)


@needs(Level.NONE, Scope.PUBLIC)
def list_tenants(request: Any) -> Ok:
    return Ok(tenants.list_tenants(get_settings()), "Tenants retrieved successfully.", keys=DATA)


@needs(Level.NONE, Scope.PUBLIC)
def get_tenant(request: Any, tenant_id: str) -> Ok:
    return Ok(tenants.get_tenant(get_settings(), tenant_id), "Tenant retrieved successfully.", keys=DATA)


@needs(Level.NONE, Scope.PUBLIC)
def list_sites(request: Any) -> Ok:
    return Ok(tenants.list_sites(get_settings()), "Sites retrieved successfully.", keys=DATA)


route(bp, "/tenants", GET=list_tenants)
route(bp, "/tenants/{tenant_id}", GET=get_tenant)
route(bp, "/sites", GET=list_sites)
