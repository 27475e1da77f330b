"""Image pulls through the real Docker engine from a registry that misbehaves (issue 15): a registry on
127.0.0.1 (which the engine treats as an insecure local registry) answers the manifest request with what
Docker Hub and ECR answer on a bad day (429, 503), or with "manifest unknown". Transient failures are retried
with backoff and never put the actor in ERROR; only a missing image does."""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from local.launcher import Stack
from runners.pipeline import pulls
from runners.pipeline.engine import DockerEngine
from tests.conftest import Api, start_stack, wait_for

pytestmark = pytest.mark.docker
RATE_LIMITED = (429, {"errors": [{"code": "TOOMANYREQUESTS", "message": "You have reached your pull rate limit"}]})
UNAVAILABLE = (503, {"errors": [{"code": "UNAVAILABLE", "message": "service unavailable"}]})
MISSING = (404, {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]})


class Registry(ThreadingHTTPServer):
    """Answers /v2/ with 200 and each manifest request with the next scripted answer (the last repeats)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script: list[tuple[int, dict[str, Any]]] = [MISSING]
        self.manifest_requests = 0

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"

    def answer(self) -> tuple[int, dict[str, Any]]:
        self.manifest_requests += 1
        return self.script.pop(0) if len(self.script) > 1 else self.script[0]


class _Handler(BaseHTTPRequestHandler):
    server: Registry

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v2":
            self._reply(200, {})
        else:
            self._reply(*self.server.answer())

    do_HEAD = do_GET

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    server = Registry()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def test_transient_failures_are_retried_and_a_missing_image_is_not(registry: Registry) -> None:
    engine = DockerEngine()
    registry.script = [RATE_LIMITED, UNAVAILABLE, MISSING]
    before = registry.manifest_requests
    with pytest.raises(pulls.ImageMissing, match="does not exist or may not be pulled"):
        engine.ensure_image(f"{registry.host}/abaco-flaky:1", pull=True, retries=4, backoff=0.05)
    assert registry.manifest_requests - before >= 3  # 429, then 503, then the answer that ends it
    seen = registry.manifest_requests
    registry.script = [UNAVAILABLE]
    with pytest.raises(pulls.TransientPullError, match="after 3 attempts"):
        engine.ensure_image(f"{registry.host}/abaco-flaky:2", pull=True, retries=2, backoff=0.05)
    assert registry.manifest_requests - seen >= 3


@pytest.fixture(scope="module")
def pulling_stack(tmp_path_factory: pytest.TempPathFactory, registry: Registry) -> Iterator[Stack]:
    stack = start_stack(tmp_path_factory.mktemp("pulls"), env={
        "ABACO_PULL_IMAGES": "true", "ABACO_PULL_RETRIES": "1", "ABACO_PULL_BACKOFF_SECONDS": "0.1",
        "ABACO_ALLOWED_REGISTRIES": registry.host})  # a literal address, trusted by the operator here
    yield stack
    stack.stop()


def test_an_actor_survives_a_failing_registry_and_errs_only_on_a_missing_image(
        pulling_stack: Stack, registry: Registry) -> None:
    api = Api(pulling_stack.api_url)
    registry.script = [RATE_LIMITED]
    actor = api.create_actor(image=f"{registry.host}/abaco-flaky:latest")
    wait_for(lambda: registry.manifest_requests >= 2, 60, what="the worker's pull and its retry")
    started = registry.manifest_requests
    wait_for(lambda: not [w for w in api.ok("GET", f"/actors/{actor['id']}/workers")
                          if w["status"] in ("REQUESTED", "SPAWNER_SETUP", "PULLING_IMAGE")], 60,
             what="the worker to give up its start")
    assert api.ok("GET", f"/actors/{actor['id']}")["status"] != "ERROR"  # the registry's fault, not the actor's
    assert registry.manifest_requests >= started
    registry.script = [MISSING]
    missing = api.create_actor(image=f"{registry.host}/abaco-gone:latest")
    done = wait_for(lambda: (a := api.ok("GET", f"/actors/{missing['id']}"))["status"] == "ERROR" and a, 60,
                    what="a missing image to put the actor in ERROR")
    assert "does not exist" in done["status_message"]
