"""Integration fixtures for the API surface: an API-only stack (no runner, so workers stay REQUESTED and
executions SUBMITTED) with its own settings, sharing the session emulator."""
from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from cryptography.fernet import Fernet

from bench.proxy import RecordingProxy
from local.launcher import Stack
from tests.conftest import Api, start_stack
from tests.integration.infra_synth import synthesised, synthesised_rest  # noqa: F401  (fixtures: the dev stage, HTTP API and REST)

API_ONLY_KEY = Fernet.generate_key().decode()
API_ONLY_ENV = {"ABACO_POOLS": "default,special", "ABACO_ENCRYPTION_KEYS": API_ONLY_KEY}


def error(response: requests.Response, status: int) -> str:
    """Assert an error in Abaco's envelope with this status; return its message."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    body = response.json()
    assert body["status"] == "error" and body["result"] is None and "version" in body, body
    assert body["message"]
    return body["message"]


@pytest.fixture(scope="session")
def api_only_stack(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    private = start_stack(tmp_path_factory.mktemp("api-only"), env=API_ONLY_ENV, runners=0,
                          emulator_url=stack.env["AWS_ENDPOINT_URL"])
    yield private
    private.stop()


@pytest.fixture(scope="session")
def api_only(api_only_stack: Stack) -> Api:
    return Api(api_only_stack.api_url)


def tenant_api(api: Api, tenant: str) -> Any:
    """Calls in one tenant (``access_control=none`` reads the ``tenant`` header)."""

    class TenantApi:
        def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
            kwargs["headers"] = {"tenant": tenant, **kwargs.get("headers", {})}
            return api.call(method, path, **kwargs)

        def ok(self, method: str, path: str, **kwargs: Any) -> Any:
            kwargs["headers"] = {"tenant": tenant, **kwargs.get("headers", {})}
            return api.ok(method, path, **kwargs)

    return TenantApi()


@contextmanager
def proxied_stack(stack: Stack, tmp_path_factory: pytest.TempPathFactory,
                  name: str) -> Iterator[tuple[Stack, RecordingProxy]]:
    """An API-only stack whose AWS requests pass through a recording proxy to the session emulator."""
    port = urllib.parse.urlsplit(stack.env["AWS_ENDPOINT_URL"]).port
    proxy = RecordingProxy(port).start()
    private = start_stack(tmp_path_factory.mktemp(name), runners=0, emulator_url=proxy.url)
    try:
        yield private, proxy
    finally:
        private.stop()
        proxy.stop()
