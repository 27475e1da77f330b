"""Fixtures for the integration tier: a private emulator, API and runner on free ports, per test session."""
from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from local import emulator
from local.launcher import Stack

TEST_ENV = {
    "ABACO_RECEIVE_WAIT_SECONDS": "2",  # reliability plan: tests use short polls, VT 10 s, heartbeat 3 s
    "ABACO_VISIBILITY_TIMEOUT": "10",
    "ABACO_HEARTBEAT_SECONDS": "3",
    "ABACO_API_WORKERS": "1",
    # Idle workers keep their slot for ABACO_WORKER_TTL; the session runner serves many tests' actors.
    "ABACO_WORKER_SLOTS": "24",
    # The session stack runs without access control (every caller an admin) and without rate limits, so
    # functional tests need no tokens; tests of identity and limits start their own stacks.
    "ABACO_ACCESS_CONTROL": "none",
    "ABACO_RATE_LIMIT_RPS": "0",
    # Cold by default: tests find an execution's container by its labels, which a pre-started one cannot
    # carry. The warm runner has its own stack (tests/integration/warm.py).
    "ABACO_WARM_START": "false",
}


def wait_for(check: Callable[[], Any], timeout: float = 60.0, interval: float = 0.2, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last value: {last!r})")


class Api:
    """A thin HTTP client for tests: every call goes over HTTP to the real API."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = requests.Session()

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.base + path, timeout=30, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        assert response.status_code == 200, f"{method} {path}: {response.status_code} {response.text}"
        body = response.json()
        assert body["status"] == "success"
        return body["result"]

    def create_actor(self, **fields: Any) -> dict[str, Any]:
        return self.ok("POST", "/actors", json=fields)

    def wait_execution(self, actor_id: str, execution_id: str, timeout: float = 90.0) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            result = self.ok("GET", f"/actors/{actor_id}/executions/{execution_id}")
            return result if result["status"] in ("COMPLETE", "ERROR") else None

        return wait_for(done, timeout, what=f"execution {execution_id} to finish")

    def logs(self, actor_id: str, execution_id: str) -> str:
        return self.ok("GET", f"/actors/{actor_id}/executions/{execution_id}/logs")["logs"]


def start_stack(tmp: Path, env: dict[str, str] | None = None, runners: int = 1,
                emulator_url: str | None = None) -> Stack:
    """A private stack; ``emulator_url`` shares a running emulator (own tables and queues by prefix),
    which saves the emulator's start-up for stacks that only need their own settings."""
    prefix = f"abaco-t{secrets.token_hex(3)}"
    shared = {"AWS_ENDPOINT_URL": emulator_url} if emulator_url else {}
    stack = Stack(api_port=emulator.free_port(), emulator_port=emulator.free_port(), log_dir=tmp,
                  extra_env={**TEST_ENV, "ABACO_RESOURCE_PREFIX": prefix, **shared, **(env or {})},
                  runners=runners, own_emulator=not emulator_url)
    try:
        return stack.start()
    except Exception:
        stack.stop()
        raise


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = start_stack(tmp_path_factory.mktemp("stack"))
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def api(stack: Stack) -> Api:
    return Api(stack.api_url)
