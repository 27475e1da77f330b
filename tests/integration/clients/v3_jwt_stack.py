"""One private ``jwt`` stack for the Tapis v3 identity tests: tenants ``dev`` and ``tacc`` with their own
keys (``ABACO_JWT_TENANT_KEYS_FILE``, no global key), a role granted in ``ABACO_ROLE_GRANTS``, the platform's
actor-token key in a file of the test's own, and containers on the host network so an actor can call the API
on 127.0.0.1 with its ``_abaco_access_token``.

Tokens are Tapis v3 access tokens as the Tapis Tokens API mints them (``tests.jwt_keys.v3_claims``).
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.launcher import Stack
from tests import jwt_keys
from tests.conftest import start_stack

TENANT = "dev"
OTHER_TENANT = "tacc"
SETTINGS_ADMIN = "v3-admin"  # abaco_admin through ABACO_ROLE_GRANTS


def v3_token(user: str, tenant: str = TENANT, **kwargs: object) -> str:
    return jwt_keys.sign(jwt_keys.v3_claims(user, tenant, **kwargs), key_name=f"tapis-{tenant}")  # type: ignore


def tapis_headers(user: str, tenant: str = TENANT) -> dict[str, str]:
    return {"X-Tapis-Token": v3_token(user, tenant)}


@pytest.fixture(scope="session")
def v3_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp: Path = tmp_path_factory.mktemp("v3-jwt-stack")
    keys = tmp / "tenant-keys.json"
    keys.write_text(json.dumps({t: jwt_keys.key_pair(f"tapis-{t}")[1] for t in (TENANT, OTHER_TENANT)}))
    stack = start_stack(tmp, env={
        "ABACO_ACCESS_CONTROL": "jwt",
        "ABACO_JWT_TENANT_KEYS_FILE": str(keys),
        "ABACO_TENANT": TENANT,
        "ABACO_ROLE_GRANTS": json.dumps({TENANT: {SETTINGS_ADMIN: ["abaco_admin"]}}),
        "ABACO_PLATFORM_KEY_FILE": str(tmp / "platform-key.pem"),
        "ABACO_CONTAINER_NETWORK": "host",
        "ABACO_RATE_LIMIT_RPS": "0",
        "ABACO_AUTH_FAILURES_PER_MINUTE": "0",
        "ABACO_WORKER_TTL": "5",
    })
    yield stack
    stack.stop()
