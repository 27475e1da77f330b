"""T26 (reliability plan §6 D): Schemathesis against the served OpenAPI document of a jwt-mode stack.

``st run`` (a subprocess, as CI would call it) with every default check plus a response-time limit and
the stateful phase (the document's links), as a ``user`` principal and with no credentials. Any
failure is a bug of the API or of its document. The stack has no runner: a fuzzed message only queues
(nobody starts a container), and a synchronous one times out after ``SYNC_TIMEOUT`` (its documented 504).
Admin-only operations refuse a ``user`` (Abaco's 400), so an ``admin`` principal fuzzes those.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from app import app  # registers every route in chalicelib.edge.http.REGISTERED and SERVED
from chalicelib.domain.access import Scope, required
from chalicelib.edge import http, paths
from chalicelib.edge.openapi.operations import OPERATIONS
from local.launcher import ROOT, Stack
from tests import jwt_keys
from tests.conftest import start_stack
from tests.integration import fuzz_seed

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))  # per operation and phase; .ci/nightly runs 100
MAX_RESPONSE_SECONDS = 5.0  # generous for a loaded 2-core CI machine; a hang or a slow path still fails
SYNC_TIMEOUT = "0.5"  # seconds a synchronous message waits (no runner here: it always times out)
ST_TIMEOUT = 900  # seconds one st run may take before the test gives up on it (a loaded machine)
KEY_ID = "fuzz-key"
TENANT = "FUZZ"
FUZZ_ENV = {
    "ABACO_ACCESS_CONTROL": "jwt", "ABACO_JWT_ISSUER": jwt_keys.ISSUER, "ABACO_JWT_KEY_ID": KEY_ID,
    "ABACO_RATE_LIMIT_RPS": "0", "ABACO_AUTH_FAILURES_PER_MINUTE": "0", "ABACO_SYNC_TIMEOUT": SYNC_TIMEOUT,
}
# Warnings that mean the run did not test what it claims: credentials ignored or missing, a pattern
# Schemathesis could not use, a reference it could not resolve, calls throttled.
# Public operations (no credentials): the dashboard's files and the read-only Tenants API (tapipy's start-up).
PUBLIC_LABELS = ("GET /dashboard", "GET /tenants", "GET /sites")
FAIL_ON_WARNINGS = ("missing_auth", "unsupported_regex", "unresolvable_reference", "base_url_mismatch",
                    "rate_limited", "unused_openapi_auth")
ADMIN_SCOPES = (Scope.ADMIN, Scope.ACTOR_ADMIN)

pytestmark = pytest.mark.timeout(3 * ST_TIMEOUT)


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    _, public_pem = jwt_keys.key_pair("fuzz")
    stack = start_stack(tmp_path_factory.mktemp("fuzz-stack"), runners=0,
                        env={**FUZZ_ENV, "ABACO_JWT_PUBLIC_KEY": public_pem})
    yield stack
    stack.stop()


def _token(role: str) -> str:
    claims = jwt_keys.bearer_claims(f"fuzz-{role}", TENANT, role, lifetime=3 * ST_TIMEOUT)
    return jwt_keys.sign(claims, key_name="fuzz", headers={"kid": KEY_ID})


def _admin_operation_ids() -> list[str]:
    ids = {(op.method, op.path): op.op_id for op in OPERATIONS}
    return sorted(ids[(verb, path)] for path, verb, view in http.REGISTERED
                  if required(view)[0] in ADMIN_SCOPES and (verb, path) in ids)


def run_st(stack: Stack, tmp: Path, name: str, token: str | None, *args: str,
           fail_on: tuple[str, ...] = FAIL_ON_WARNINGS, phases: str = "examples,coverage,fuzzing,stateful"
           ) -> tuple[subprocess.CompletedProcess[str], float]:
    """``st run`` against the spec the stack serves (saved to a file: an anonymous caller cannot fetch it),
    with objects of the principal seeded for it to find."""
    spec = tmp / "openapi.json"
    if not spec.exists():
        response = requests.get(f"{stack.api_url}/actors/openapi.json", timeout=30,
                                headers={"Authorization": "Bearer " + _token("user")})
        response.raise_for_status()
        spec.write_text(response.text)
    config = tmp / f"{name}.toml"
    config.write_text(fuzz_seed.config_toml(fuzz_seed.seed(stack.api_url, token, name) if token else {}, fail_on))
    report = tmp / name
    argv = [str(Path(sys.executable).parent / "st"), "--config-file", str(config), "run", str(spec),
            "--url", stack.api_url, "--checks", "all", "--exclude-checks", "positive_data_acceptance",
            "--max-response-time", str(MAX_RESPONSE_SECONDS), "--max-examples", str(EXAMPLES), "--workers", "1",
            "--phases", phases, "--seed", os.environ.get("FUZZ_SEED", "26"),
            "--report", "ndjson", "--report-dir", str(report), "--output-truncate", "true", *args]
    if token:
        argv += ["--header", f"Authorization: Bearer {token}"]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.fuzz_hooks", "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    done = subprocess.run(argv, check=False, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=ST_TIMEOUT)
    elapsed = time.monotonic() - started
    (tmp / f"{name}.out").write_text(done.stdout + done.stderr)
    return done, elapsed


def _explain(done: subprocess.CompletedProcess[str]) -> str:
    text = done.stdout + done.stderr
    start = text.find("= FAILURES =")
    return text[start if start >= 0 else max(0, len(text) - 6000):][:12000]


def test_fuzzing_as_a_user_finds_no_failure(fuzz_stack: Stack, tmp_path: Path) -> None:
    excluded = [arg for op_id in _admin_operation_ids() for arg in ("--exclude-operation-id", op_id)]
    done, elapsed = run_st(fuzz_stack, tmp_path, "user", _token("user"), *excluded)
    print(f"T26 user run: {elapsed:.0f} s, {EXAMPLES} examples per operation and phase")
    assert done.returncode == 0, _explain(done)


def test_fuzzing_admin_operations_as_an_admin_finds_no_failure(fuzz_stack: Stack, tmp_path: Path) -> None:
    included = [arg for op_id in _admin_operation_ids() for arg in ("--include-operation-id", op_id)]
    done, elapsed = run_st(fuzz_stack, tmp_path, "admin", _token("admin"), *included,
                           phases="examples,coverage,fuzzing")  # no links between these operations
    print(f"T26 admin run: {elapsed:.0f} s")
    assert done.returncode == 0, _explain(done)


def test_fuzzing_without_credentials_gets_only_401s_and_public_pages(fuzz_stack: Stack, tmp_path: Path) -> None:
    """Every operation that declares security answers 401 (the ignored_auth check); Schemathesis says
    ``missing_auth`` then, which is the point here, so that warning alone is allowed."""
    fail_on = tuple(w for w in FAIL_ON_WARNINGS if w not in ("missing_auth", "unused_openapi_auth"))
    done, elapsed = run_st(fuzz_stack, tmp_path, "anonymous", None, fail_on=fail_on)
    print(f"T26 anonymous run: {elapsed:.0f} s")
    assert done.returncode == 0, _explain(done)
    statuses = _statuses(tmp_path / "anonymous")
    secured = {label for label, codes in statuses.items() if not label.startswith(PUBLIC_LABELS)}
    # 405: the verb is refused before credentials are read; 414: the HTTP front end refuses the request line.
    assert secured and all(statuses[label] <= {401, 405, 414} for label in secured), statuses


def _statuses(report_dir: Path) -> dict[str, set[int]]:
    """Operation label -> every status the run saw, from the ndjson event stream."""
    seen: dict[str, set[int]] = {}
    for path in report_dir.glob("*.ndjson"):
        for line in path.read_text().splitlines():
            recorder = json.loads(line).get("ScenarioFinished", {}).get("recorder") or {}
            for interaction in (recorder.get("interactions") or {}).values():
                response = interaction.get("response") or {}
                if (interaction.get("request") or {}).get("method") == "OPTIONS":
                    continue  # CORS preflights are answered by the gateway, before any view (chalicelib.edge.http)
                if "status_code" in response:
                    seen.setdefault(recorder.get("label", "?"), set()).add(response["status_code"])
    return seen


def test_the_served_routes_are_exactly_the_documented_ones(fuzz_stack: Stack) -> None:
    """API9 (improper inventory): no route beyond the spec, no documented route missing, and every
    undocumented verb on a documented path is a 405 that names the documented ones."""
    headers = {"Authorization": "Bearer " + _token("user")}
    spec = requests.get(f"{fuzz_stack.api_url}/actors/openapi.json", headers=headers, timeout=30).json()
    documented = {(verb.upper(), path) for path, item in spec["paths"].items() for verb in item}
    assert documented == {(verb, path) for path, verbs in http.SERVED.items() for verb in verbs}
    assert set(app.routes) == {spelled for path in http.SERVED for spelled in paths.variants(path)} | {paths.CATCH_ALL}
    session = requests.Session()
    for path, item in spec["paths"].items():
        concrete = re.sub(r"{[^}]+}", "x", path)
        for verb in sorted(set(http.VERBS) - {v.upper() for v in item}):
            response = session.request(verb, fuzz_stack.api_url + concrete, headers=headers, timeout=30)
            assert response.status_code == 405, (verb, concrete, response.text)
            assert set(response.headers["Allow"].split(",")) == {v.upper() for v in item} | {"OPTIONS"}
