"""The CLI, the SDK and the dashboard with real credentials, on the security tests' ``jwt`` stack.

Bearer tokens, Abaco v2's ``X-Jwt-Assertion-<TENANT>`` header, and nonces, each accepted or refused by the
real API; the dashboard's token field is what authenticates the page's calls.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from abaco_sdk import Abaco, BadRequest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from local.launcher import Stack
from tests import jwt_keys
from tests.conftest import wait_for
from tests.integration.security.conftest import TENANT_A
from tests.integration.test_dashboard import INSTALL_TIMEOUT, browser  # noqa: F401 (the Chromium fixture)

ABACO = str(Path(sys.executable).parent / "abaco")
KID = {"kid": "abaco-test-key"}


def bearer(user: str, role: str = "user") -> str:
    return jwt_keys.sign(jwt_keys.bearer_claims(user, TENANT_A, role), headers=KID)


def run(stack: Stack, tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ABACO_")}
    clean.update({"HOME": str(tmp_path), "ABACO_URL": stack.api_url, **env})
    return subprocess.run([ABACO, *args], env=clean, capture_output=True, text=True, timeout=60, check=False)


def test_cli_with_a_bearer_token_and_without_credentials(jwt_stack: Stack, tmp_path: Path) -> None:
    created = run(jwt_stack, tmp_path, "actors", "create", "abacosamples/noop", "--json",
                  ABACO_TOKEN=bearer("cli-user"))
    assert created.returncode == 0, created.stderr
    actor = json.loads(created.stdout)
    assert actor["owner"] == "cli-user"
    anonymous = run(jwt_stack, tmp_path, "actors", "show", actor["id"])
    assert anonymous.returncode == 4 and "HTTP 401" in anonymous.stderr
    stranger = run(jwt_stack, tmp_path, "--token", bearer("stranger"), "actors", "show", actor["id"])
    assert stranger.returncode == 4 and "Not authorized" in stranger.stderr
    deleted = run(jwt_stack, tmp_path, "actors", "delete", actor["id"], ABACO_TOKEN=bearer("cli-user"))
    assert deleted.returncode == 0, deleted.stderr


def test_cli_with_the_abaco_v2_header(jwt_stack: Stack, tmp_path: Path) -> None:
    token = jwt_keys.sign(jwt_keys.v2_claims("v2-user", tenant=TENANT_A), headers=KID)
    result = run(jwt_stack, tmp_path, "--jwt-header", f"X-Jwt-Assertion-{TENANT_A}", "--token", token,
                 "actors", "create", "abacosamples/noop", "--json")
    assert result.returncode == 0, result.stderr
    actor = json.loads(result.stdout)
    assert actor["owner"] == "v2-user"
    Abaco(base_url=jwt_stack.api_url, access_token=bearer("v2-user"), tenant=None).actors.delete_actor(actor["id"])


def test_sdk_nonce_grants_exactly_its_level(jwt_stack: Stack) -> None:
    owner = Abaco(base_url=jwt_stack.api_url, access_token=bearer("nonce-owner"))
    actor = owner.actors.create_actor(image="abacosamples/noop")
    nonce = owner.actors.create_nonce(actor.id, level="READ", max_uses=2)
    with_nonce = Abaco(base_url=jwt_stack.api_url, nonce=nonce.id, retries=0)
    assert with_nonce.actors.get_actor(actor.id).id == actor.id
    with pytest.raises(BadRequest):
        with_nonce.actors.send_message(actor.id, "READ does not allow EXECUTE")
    assert owner.actors.get_nonce(actor.id, nonce.id).remaining_uses == 1  # the refused call used none
    owner.actors.delete_actor(actor.id)


def _text(driver: WebDriver, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text


@pytest.mark.timeout(INSTALL_TIMEOUT + 300)  # the first browser test may install Chromium
def test_dashboard_uses_the_token_from_its_field(jwt_stack: Stack, browser: WebDriver) -> None:  # noqa: F811
    owner = Abaco(base_url=jwt_stack.api_url, access_token=bearer("dash-user"))
    actor = owner.actors.create_actor(image="abacosamples/noop", name="dash-owned")
    try:
        browser.get(jwt_stack.api_url + "/dashboard")
        browser.execute_script("localStorage.clear()")
        browser.refresh()
        wait_for(lambda: _text(browser, "error"), 20, what="the API refusing a page without a token")
        field: Any = browser.find_element(By.ID, "token")
        field.send_keys(bearer("dash-user"))
        browser.find_element(By.ID, "save-auth").click()
        wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, f'#actors tr[data-actor-id="{actor.id}"]'), 20,
                 what="the user's actor listed once the token is saved")
        assert browser.execute_script("return localStorage.getItem('abaco.token')")
        assert _text(browser, "who").startswith("Token set")
    finally:
        owner.actors.delete_actor(actor.id)
