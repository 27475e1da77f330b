"""The web dashboard in a real headless Chromium (Debian's, driven by Selenium through chromedriver).

A user registers an actor from the page, sends it a message from the page and watches the logs follow the
running container to the end. The page talks to the real API over HTTP, which runs a real container.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.conftest import Api, wait_for

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1600,1000")
INSTALL_TIMEOUT = 600  # seconds for apt to install chromium on a fresh machine
SLOW_SLEEP = "6"  # seconds abacosamples/test sleeps after printing MSG: the window to see logs follow


def _chromium_paths() -> tuple[str, str]:
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        subprocess.run([str(ROOT / "scripts" / "ensure-chromium.sh")], check=True, timeout=INSTALL_TIMEOUT)
    return shutil.which("chromium") or "/usr/bin/chromium", shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture
def api(api: Api) -> Iterator[Api]:
    """The session API, deleting every actor the test created (each holds a worker slot until its TTL)."""
    before = {a["id"] for a in api.ok("GET", "/actors")}
    yield api
    for actor in api.ok("GET", "/actors"):
        if actor["id"] not in before:
            api.call("DELETE", f"/actors/{actor['id']}")


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    binary, driver_path = _chromium_paths()
    profile = tempfile.mkdtemp(prefix="abaco-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _text(driver: WebDriver, element_id: str) -> str:
    try:
        return driver.find_element(By.ID, element_id).text
    except WebDriverException:
        return ""


def _type(driver: WebDriver, element_id: str, text: str) -> None:
    element = driver.find_element(By.ID, element_id)
    element.clear()
    element.send_keys(text)


def test_dashboard_is_served_with_a_strict_content_security_policy(api: Api) -> None:
    page = requests.get(api.base + "/dashboard", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert '<script src="dashboard/app.js">' in page.text
    deep = requests.get(api.base + "/dashboard/actors/x/executions/y", timeout=10)  # every page has its address
    assert deep.status_code == 200 and '<script src="../../../app.js">' in deep.text
    assert '<script src="dashboard/app.js">' in page.text
    script = requests.get(api.base + "/dashboard/app.js", timeout=10)
    assert script.status_code == 200 and script.headers["Content-Type"].startswith("text/javascript")
    # the three files (chalicelib/dashboard/), one script, charts first: the views draw with them
    assert script.text.index("const AbacoCharts") < script.text.index("function loadAuth") < \
        script.text.index("async function refreshHosts")
    assert "textContent" in script.text and "innerHTML" not in script.text  # API data only ever as text
    assert requests.post(api.base + "/dashboard", timeout=10).status_code == 405


@pytest.mark.docker
@pytest.mark.timeout(INSTALL_TIMEOUT + 300)
def test_register_send_and_follow_logs_from_the_page(api: Api, browser: WebDriver, tmp_path: Path) -> None:
    browser.get(api.base + "/dashboard")
    wait_for(lambda: browser.find_element(By.ID, "actors").is_displayed(), 20, what="the actors table")

    _type(browser, "new-image", "abacosamples/test")
    _type(browser, "new-name", "from-the-browser")
    browser.find_element(By.ID, "register").click()
    actor_id = wait_for(lambda: _text(browser, "actor-title"), 20, what="the new actor selected")
    assert api.ok("GET", f"/actors/{actor_id}")["name"] == "from-the-browser"
    assert browser.current_url.endswith(f"/dashboard/actors/{actor_id}")  # the actor's own page
    browser.find_element(By.ID, "nav-actors-link").click()
    row = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, f'#actors tr[data-actor-id="{actor_id}"] a'), 20,
                   what="the actor listed")
    row[0].click()  # and back to its page, from the list
    wait_for(lambda: browser.current_url.endswith(f"/dashboard/actors/{actor_id}"), 10, what="the actor page")

    _type(browser, "message", "hello from the browser")
    _type(browser, "message-env", f"_abaco_test_sleep={SLOW_SLEEP}")
    browser.find_element(By.ID, "send").click()
    execution_id = wait_for(lambda: _text(browser, "exec-title"), 20, what="the execution selected")

    def following_while_running() -> bool:
        return (_text(browser, "exec-status") == "RUNNING" and _text(browser, "logs-state") == "following..."
                and "Contents of MSG: hello from the browser" in _text(browser, "logs"))

    wait_for(following_while_running, 60, what="logs shown while the container runs")
    assert "Environment:" not in _text(browser, "logs")  # printed only after the sleep: not there yet

    wait_for(lambda: _text(browser, "exec-status") == "COMPLETE", 60, what="the execution to complete")
    wait_for(lambda: "Environment:" in _text(browser, "logs"), 10, what="the final logs")
    logs = _text(browser, "logs")
    assert f"_abaco_execution_id={execution_id}" in logs
    assert _text(browser, "logs-state") == "final"
    assert api.ok("GET", f"/actors/{actor_id}/executions/{execution_id}")["status"] == "COMPLETE"

    assert browser.current_url.endswith(f"/dashboard/actors/{actor_id}/executions/{execution_id}")  # its own address

    browser.find_element(By.ID, "exec-actor").click()  # back to the actor's page: the execution is listed
    wait_for(lambda: "COMPLETE" in _row_text(browser, execution_id), 20, what="the executions row")
    browser.save_screenshot(str(tmp_path / "dashboard.png"))


def _row_text(driver: WebDriver, execution_id: str) -> str:
    rows = driver.find_elements(By.CSS_SELECTOR, f'#executions tr[data-execution-id="{execution_id}"]')
    return rows[0].text if rows else ""


def test_page_shows_the_api_error_message(api: Api, browser: WebDriver) -> None:
    browser.get(api.base + "/dashboard")
    _type(browser, "new-image", "")
    browser.execute_script("document.getElementById('new-image').removeAttribute('required')")
    browser.find_element(By.ID, "register").click()
    message = wait_for(lambda: _text(browser, "error"), 20, what="an error banner")
    assert "image" in message.lower()
