"""One private stack in ``jwt`` mode for the identity, permission, nonce and tenant tests.

Session-scoped and started on first use, so all security modules share it (the session ``stack`` stays
in ``none`` mode for everyone else's tests). A fresh RSA key pair is made for it with ``cryptography``.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local.launcher import Stack
from tests import jwt_keys
from tests.conftest import start_stack, wait_for

TENANT_A = "TENANT-A"
TENANT_B = "TENANT-B"
JWT_ENV = {
    "ABACO_ACCESS_CONTROL": "jwt",
    "ABACO_JWT_ISSUER": jwt_keys.ISSUER,
    "ABACO_JWT_KEY_ID": "abaco-test-key",
    "ABACO_RATE_LIMIT_RPS": "0",
    "ABACO_AUTH_FAILURES_PER_MINUTE": "0",
    "ABACO_SECRETS_BACKEND": "kms",  # secrets in KMS envelopes, as in AWS (the emulator serves KMS)
    # These tests register many actors (each gets a worker) but run few containers: idle workers leave
    # quickly so they never hold all of the runner's slots.
    "ABACO_WORKER_TTL": "5",
    "ABACO_WORKER_SLOTS": "16",
}


class Client:
    """HTTP calls to the jwt stack as one principal (v2 header or Bearer), or with no credentials."""

    def __init__(self, base: str, user: str | None, tenant: str, role: str = "user", form: str = "bearer") -> None:
        self.base, self.user, self.tenant, self.role, self.form = base, user, tenant, role, form
        self.session = requests.Session()

    def headers(self) -> dict[str, str]:
        if self.user is None:
            return {}
        if self.form == "v2":
            claims = jwt_keys.v2_claims(self.user, self.role, tenant=self.tenant)
            return {f"X-Jwt-Assertion-{self.tenant}": jwt_keys.sign(claims, headers={"kid": "abaco-test-key"})}
        return {"Authorization": "Bearer " + jwt_keys.sign(jwt_keys.bearer_claims(self.user, self.tenant, self.role),
                                                           headers={"kid": "abaco-test-key"})}

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        return self.session.request(method, self.base + path, headers=headers, timeout=30, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        assert response.status_code == 200, f"{self.user}: {method} {path}: {response.status_code} {response.text}"
        return response.json()["result"]

    def wait_execution(self, actor_id: str, execution_id: str, timeout: float = 90.0) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            result = self.ok("GET", f"/actors/{actor_id}/executions/{execution_id}")
            return result if result["status"] in ("COMPLETE", "ERROR") else None

        return wait_for(done, timeout, what=f"execution {execution_id}")


@pytest.fixture(scope="session")
def jwt_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    _, public_pem = jwt_keys.key_pair()
    stack = start_stack(tmp_path_factory.mktemp("jwt-stack"), env={**JWT_ENV, "ABACO_JWT_PUBLIC_KEY": public_pem})
    yield stack
    stack.stop()


PRIVILEGED_RUNNER = "runner-privileged"


def privileged_runner(stack: Stack) -> str:
    """Add (once per stack) a runner of the privileged pool flagged for privileged actors; its log name."""
    if PRIVILEGED_RUNNER not in stack.procs:
        stack.add_runner(PRIVILEGED_RUNNER, env={"ABACO_RUNNER_PRIVILEGED": "true", "ABACO_RUNNER_POOL": "privileged"})
    return PRIVILEGED_RUNNER


@pytest.fixture(scope="session")
def client(jwt_stack: Stack) -> Any:
    """``client(user, tenant=TENANT_A, role="user", form="bearer")`` -> Client."""

    def make(user: str | None, tenant: str = TENANT_A, role: str = "user", form: str = "bearer") -> Client:
        return Client(jwt_stack.api_url, user, tenant, role, form)

    return make
