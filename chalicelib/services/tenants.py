"""A read-only Tenants API, enough for tapipy (reference §5.2): ``Tapis(base_url=...)`` without a
``tenant_id`` lists the sites and the tenants at start-up and takes the tenant whose ``base_url`` is its own
(the last one that matches), and it validates tokens with a tenant's ``public_key``.

The tenants are the ones this deployment knows: the default tenant (``ABACO_TENANT``), every tenant with
its own key (``ABACO_JWT_TENANT_KEYS_FILE``, ``ABACO_JWT_TENANT_KEYS``) and every tenant of
``ABACO_ROLE_GRANTS``. All share the deployment's base URL, one site; the default tenant is listed last,
so tapipy picks it.
"""
from __future__ import annotations

from typing import Any

from chalicelib.domain.errors import NotFound
from chalicelib.domain.responses import SiteResponse, TenantResponse, made
from chalicelib.identity import auth
from chalicelib.wiring.settings import Settings

SITE_ID = "abaco"
SERVICES = ["actors", "tenants"]


def tenant_ids(settings: Settings) -> list[str]:
    named = [*auth.tenant_key_names(settings), *settings.role_grants]
    others = [t for t in dict.fromkeys(named) if t.upper() != settings.tenant.upper()]
    return [*others, settings.tenant]


def list_tenants(settings: Settings) -> list[dict[str, Any]]:
    return [_tenant(settings, t) for t in tenant_ids(settings)]


def get_tenant(settings: Settings, tenant_id: str) -> dict[str, Any]:
    for tenant in tenant_ids(settings):
        if tenant == tenant_id:
            return _tenant(settings, tenant)
    raise NotFound(f"Tenant {tenant_id} not found.")


def list_sites(settings: Settings) -> list[dict[str, Any]]:
    base = settings.api_server.rstrip("/")
    return [made(SiteResponse, site_id=SITE_ID, base_url=base, primary=True, services=SERVICES,
                 tenant_base_url_template=base, site_admin_tenant_id=settings.tenant)]


def _tenant(settings: Settings, tenant: str) -> dict[str, Any]:
    base = settings.api_server.rstrip("/")
    return made(TenantResponse, tenant_id=tenant, base_url=base, site_id=SITE_ID, token_service=f"{base}/v3/tokens",
                security_kernel=f"{base}/v3/security", authenticator=f"{base}/v3/oauth2", owner="", admin_user="",
                token_gen_services=[], public_key=auth.public_pem(settings, tenant),
                description=f"Abaco tenant {tenant}", status="active")
