"""Targets for the real clients: the session stack (access control ``none``) and a jwt stack with v2 tokens.

The jwt stack shares the session emulator (its own tables and queues by prefix) and is configured as the
security tests' one (``tests/integration/security/conftest.py``). agavepy speaks only https, and sends
credentials only to a URL without a port, so it reaches either stack as ``https://abaco.test`` through a
TLS front that is its HTTPS proxy (``tests/tls_front.py``), as Abaco's clients reached Abaco through nginx.
Credentials are Abaco v2's: tapipy carries ``X-Jwt-Assertion-<TENANT>`` (added by a tapipy pre-request
plugin hook, as the Agave gateway added it), agavepy ``Authorization: Bearer <JWT>``.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.launcher import Stack
from tests import jwt_keys
from tests.conftest import start_stack
from tests.integration.clients import Target
from tests.integration.probe import probe_image  # noqa: F401 (the probe image fixture)
from tests.integration.security.conftest import JWT_ENV
from tests.tls_front import TlsFront

TENANT = "CLIENTS-W"
KID = {"kid": "abaco-test-key"}


@pytest.fixture(scope="session")
def clients_jwt_stack(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    _, public_pem = jwt_keys.key_pair()
    # Idle workers stay (the default TTL) so a test can name one and stop it; these tests run few actors.
    env = {**JWT_ENV, "ABACO_JWT_PUBLIC_KEY": public_pem}
    env.pop("ABACO_WORKER_TTL")
    private = start_stack(tmp_path_factory.mktemp("clients-jwt"), env=env, emulator_url=stack.env["AWS_ENDPOINT_URL"])
    yield private
    private.stop()


def v2_header(user: str, role: str = "user") -> str:
    """``name:value`` of Abaco v2's assertion header for ``user`` in TENANT."""
    return f"X-Jwt-Assertion-{TENANT}:" + jwt_keys.sign(jwt_keys.v2_claims(user, role, tenant=TENANT), headers=KID)


def bearer(user: str, role: str = "user") -> str:
    return jwt_keys.sign(jwt_keys.bearer_claims(user, TENANT, role), headers=KID)


def _front(api_url: str, tmp_path_factory: pytest.TempPathFactory) -> TlsFront:
    return TlsFront(int(api_url.rsplit(":", 1)[1]), tmp_path_factory.mktemp("tls-front"))


@pytest.fixture(scope="session")
def tls_fronts(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, TlsFront]]:
    """One TLS front per stack, made on first use (keyed by the stack's API URL)."""
    fronts: dict[str, TlsFront] = {}
    yield fronts
    for front in fronts.values():
        front.close()


def _stack_for(mode: str, request: pytest.FixtureRequest) -> Stack:
    return request.getfixturevalue("stack" if mode == "none" else "clients_jwt_stack")


@pytest.fixture(params=["none", "jwt"])
def tapipy_target(request: pytest.FixtureRequest, probe_image: str) -> Target:  # noqa: F811
    """tapipy on plain HTTP; in jwt mode as user ``tap-owner`` with a v2 header."""
    mode = request.param
    stack = _stack_for(mode, request)
    env = {"CLIENT_BASE": stack.api_url, "CLIENT_TENANT": TENANT, "CLIENT_IMAGE": probe_image}
    if mode == "none":
        return Target(mode, env)
    return Target(mode, {**env, "CLIENT_HEADER": v2_header("tap-owner")}, "tap-owner")


@pytest.fixture(params=["none", "jwt"])
def agavepy_target(request: pytest.FixtureRequest, probe_image: str,  # noqa: F811
                   tls_fronts: dict[str, TlsFront], tmp_path_factory: pytest.TempPathFactory) -> Target:
    """agavepy through the TLS front; in jwt mode as user ``agave-owner`` with a bearer JWT."""
    mode = request.param
    stack = _stack_for(mode, request)
    if stack.api_url not in tls_fronts:
        tls_fronts[stack.api_url] = _front(stack.api_url, tmp_path_factory)
    front = tls_fronts[stack.api_url]
    env = {"CLIENT_BASE": front.url, "CLIENT_CA": str(front.ca_file), "CLIENT_PROXY": front.proxy,
           "CLIENT_IMAGE": probe_image, "CLIENT_TOKEN": "unused-without-access-control"}
    if mode == "none":
        return Target(mode, env)
    return Target(mode, {**env, "CLIENT_TOKEN": bearer("agave-owner")}, "agave-owner")
