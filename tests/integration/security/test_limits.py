"""Rate, size and start-up limits over HTTP (plan T22, T25): 429 with Retry-After per principal, 413,
431, a failure budget for bad credentials, and an API that refuses to start when misconfigured."""
from __future__ import annotations

import concurrent.futures
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests

from local.launcher import ROOT, Stack
from tests import jwt_keys
from tests.conftest import start_stack

RPS, BURST = 2, 10  # low, so that even a slow, loaded machine sends faster than the refill
LIMIT_ENV = {
    "ABACO_ACCESS_CONTROL": "jwt",
    "ABACO_RATE_LIMIT_RPS": str(RPS),
    "ABACO_RATE_LIMIT_BURST": str(BURST),
    "ABACO_AUTH_FAILURES_PER_MINUTE": "20",
}


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack without runners (nothing here runs a container) with tight limits."""
    env = {**LIMIT_ENV, "ABACO_JWT_PUBLIC_KEY": jwt_keys.key_pair()[1]}
    stack = start_stack(tmp_path_factory.mktemp("limits"), env=env, runners=0)
    yield stack
    stack.stop()


def _get(stack: Stack, user: str, path: str = "/actors", headers: dict[str, str] | None = None) -> requests.Response:
    headers = headers or jwt_keys.bearer_headers(user, "LIMITS")
    return requests.get(stack.api_url + path, headers=headers, timeout=10)


def test_a_principal_over_its_rate_gets_429_with_retry_after_and_others_do_not(limited: Stack) -> None:
    token = jwt_keys.bearer_headers("hasty", "LIMITS")
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda _: _get(limited, "hasty", headers=token), range(60)))
    elapsed = time.monotonic() - started
    codes = [r.status_code for r in responses]
    allowed = codes.count(200)
    assert BURST <= allowed <= BURST + RPS * elapsed + 2, (allowed, elapsed)
    refused = [r for r in responses if r.status_code == 429]
    assert len(refused) == 60 - allowed > 0
    assert all(int(r.headers["Retry-After"]) >= 1 and r.json()["status"] == "error" for r in refused)
    assert _get(limited, "patient").status_code == 200  # a second principal has its own bucket


def test_bodies_over_the_limit_are_413_and_headers_over_the_limit_431(limited: Stack) -> None:
    headers = jwt_keys.bearer_headers("sizer", "LIMITS")
    big = b'{"image": "' + b"x" * (1024 * 1024) + b'"}'
    response = requests.post(limited.api_url + "/actors", data=big,
                             headers={**headers, "Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 413 and response.json()["status"] == "error"
    padded = {**headers, **{f"X-Pad-{i}": "p" * 6000 for i in range(3)}}
    response = requests.get(limited.api_url + "/actors", headers=padded, timeout=10)
    assert response.status_code == 431 and response.json()["status"] == "error"
    assert requests.get(limited.api_url + "/actors", headers=headers, timeout=10).status_code == 200


def test_bad_credentials_from_one_source_are_throttled(limited: Stack) -> None:
    codes = [requests.get(limited.api_url + "/actors", headers={"Authorization": "Bearer nope"},
                          timeout=10).status_code for _ in range(30)]
    failures = codes.count(401)  # the budget is 20 a minute (the stack's start-up poll used one or two)
    assert 15 <= failures <= 20 and codes == [401] * failures + [429] * (30 - failures), codes


@pytest.mark.parametrize(("env", "message"), [
    ({"ABACO_ACCESS_CONTROL": "none", "ABACO_PRODUCTION": "true"}, "PRODUCTION"),
    ({"ABACO_ACCESS_CONTROL": "jwt"}, "ABACO_JWT_PUBLIC_KEY"),
    ({"ABACO_ACCESS_CONTROL": "jwt", "ABACO_JWT_PUBLIC_KEY": "not a key"}, "PEM"),
])
def test_the_api_refuses_to_start_when_misconfigured(env: dict[str, str], message: str) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ABACO_")}
    result = subprocess.run([sys.executable, "-c", "from local.wsgi import application; application()"],
                            cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 3
    assert "refusing to start" in result.stderr and message in result.stderr
