"""The dashboard in jwt mode, in a real headless Chromium: without a token the page shows the API's 401
message; with a token entered on the page (Bearer, or Abaco v2's X-Jwt-Assertion-<TENANT> header) it lists
that user's actors, and an operator's page is refused to a plain user with the API's own error."""
from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from local.launcher import Stack
from tests import jwt_keys
from tests.conftest import wait_for
from tests.integration.security.conftest import Client
from tests.integration.test_dashboard import INSTALL_TIMEOUT, _text, _type, browser  # noqa: F401 (fixture)

TENANT = "DASH"


def enter_token(driver: WebDriver, token: str, header: str, tenant: str = "") -> None:
    driver.execute_script("document.getElementById('auth-box').open = true")
    _type(driver, "token", token)
    driver.find_element(By.CSS_SELECTOR, f'#jwt-header option[value="{header}"]').click()
    _type(driver, "tenant", tenant)
    driver.find_element(By.ID, "save-auth").click()


@pytest.mark.timeout(INSTALL_TIMEOUT + 120)
@pytest.mark.parametrize("form", ["bearer", "v2"])
def test_token_entered_on_the_page_lists_the_users_actors(jwt_stack: Stack, browser: WebDriver,  # noqa: F811
                                                          form: str) -> None:
    owner = Client(jwt_stack.api_url, f"dash-{form}", TENANT, form=form)
    actor = owner.ok("POST", "/actors", json={"image": "abacosamples/test", "name": f"mine-{form}"})
    browser.get(jwt_stack.api_url + "/dashboard")
    browser.execute_script("localStorage.clear()")
    browser.get(jwt_stack.api_url + "/dashboard")
    wait_for(lambda: _text(browser, "error"), 20, what="the 401 shown without a token")

    if form == "v2":
        token = jwt_keys.sign(jwt_keys.v2_claims(owner.user or "", tenant=TENANT), headers={"kid": "abaco-test-key"})
        enter_token(browser, token, "X-Jwt-Assertion", TENANT)
    else:
        token = jwt_keys.sign(jwt_keys.bearer_claims(owner.user or "", TENANT), headers={"kid": "abaco-test-key"})
        enter_token(browser, token, "")
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, f'#actors tr[data-actor-id="{actor["id"]}"]'), 20,
             what="the user's actor listed")
    assert not browser.find_element(By.ID, "error").is_displayed()
    assert "Token set" in _text(browser, "who")

    browser.find_element(By.ID, "nav-hosts").click()  # operators only
    wait_for(lambda: _text(browser, "error"), 20, what="the operator page refused to a user")
