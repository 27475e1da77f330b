"""Every dashboard page at its own address, in a real headless Chromium against the real stack.

An owner's actor page draws its charts from real executions (``data-points`` counts what a chart drew, so
an empty frame cannot pass), the execution page follows a running container's logs live and draws its
phases, the operator page shows the runner host and its pool; the pages read on a phone-sized screen and in
the dark colour scheme. Screenshots of each page go to docs/images/, where the user guide shows them.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.conftest import Api, wait_for
from tests.integration.test_dashboard import INSTALL_TIMEOUT, _text, api, browser  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "docs" / "images"
MESSAGES = 4


def points(driver: WebDriver, chart: str) -> int:
    found = driver.find_elements(By.CSS_SELECTOR, f'[data-chart="{chart}"]')
    return int(found[0].get_attribute("data-points") or 0) if found else 0


def shot(driver: WebDriver, name: str) -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(IMAGES / f"dashboard-{name}.png"))


@pytest.fixture
def busy_actor(api: Api) -> Iterator[str]:  # noqa: F811
    actor = api.create_actor(image="abacosamples/test", name="charts")
    sent = [api.ok("POST", f"/actors/{actor['id']}/messages?_abaco_test_sleep=0", data={"message": f"m{i}"})
            for i in range(MESSAGES)]
    for item in sent:
        api.wait_execution(actor["id"], item["execution_id"])
    yield actor["id"]


@pytest.mark.docker
@pytest.mark.timeout(INSTALL_TIMEOUT + 300)
def test_actor_page_draws_its_charts_from_real_executions(api: Api, browser: WebDriver,  # noqa: F811
                                                          busy_actor: str) -> None:
    browser.set_window_size(1400, 1000)
    browser.get(f"{api.base}/dashboard/actors/{busy_actor}")
    wait_for(lambda: points(browser, "executions") > 0, 30, what="the executions chart drawn")
    stats = api.ok("GET", f"/actors/{busy_actor}/stats")
    assert stats["summary"]["counts"]["COMPLETE"] == MESSAGES
    drawn = sum(1 for row in stats["series"] for n in row["counts"].values() if n)
    assert points(browser, "executions") == drawn  # one bar segment per non-empty (bucket, status)
    assert points(browser, "durations") >= 1 and points(browser, "queue-wait") >= 1
    rows = browser.find_elements(By.CSS_SELECTOR, "#executions tbody tr")
    assert len(rows) == MESSAGES and all("COMPLETE" in r.text for r in rows)
    cards = _text(browser, "actor-cards")
    assert "READY" in cards and "abacosamples/test" in cards
    shot(browser, "actor")

    browser.get(f"{api.base}/dashboard")
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, f'#actors tr[data-actor-id="{busy_actor}"]'), 20,
             what="the actor listed")
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    shot(browser, "actors")


@pytest.mark.docker
@pytest.mark.timeout(INSTALL_TIMEOUT + 300)
def test_execution_page_follows_logs_and_draws_its_phases(api: Api, browser: WebDriver) -> None:  # noqa: F811
    actor = api.create_actor(image="abacosamples/test")
    sent = api.ok("POST", f"/actors/{actor['id']}/messages?_abaco_test_sleep=5", data={"message": "live"})
    browser.get(f"{api.base}/dashboard/actors/{actor['id']}/executions/{sent['execution_id']}")

    def following() -> bool:
        return (_text(browser, "exec-status") == "RUNNING" and _text(browser, "logs-state") == "following..."
                and "Contents of MSG: live" in _text(browser, "logs"))

    wait_for(following, 60, what="logs followed while the container runs")
    wait_for(lambda: _text(browser, "logs-state") == "final", 60, what="the execution to finish")
    assert "Environment:" in _text(browser, "logs")
    wait_for(lambda: points(browser, "phases") >= 5, 10, what="the phase timeline")
    assert "queued" in _text(browser, "chart-phases") and "exited" in _text(browser, "chart-phases")
    shot(browser, "execution")


@pytest.mark.docker
@pytest.mark.timeout(INSTALL_TIMEOUT + 300)
def test_hosts_page_shows_the_runner_and_pools_on_a_phone_and_in_the_dark(api: Api, browser: WebDriver,  # noqa: F811
                                                                         busy_actor: str) -> None:
    browser.set_window_size(1400, 1000)
    browser.get(f"{api.base}/dashboard/hosts")
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#hosts tbody tr"), 30, what="the runner host listed")
    wait_for(lambda: points(browser, "ops-executions") > 0, 30, what="the platform executions chart")
    pools = browser.find_element(By.ID, "pools").text
    assert "default" in pools
    assert "RUNNING" in browser.find_element(By.ID, "hosts").text
    shot(browser, "hosts")

    browser.execute_cdp_cmd("Emulation.setEmulatedMedia",
                            {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    browser.set_window_size(390, 844)  # a phone
    browser.get(f"{api.base}/dashboard/actors/{busy_actor}")
    wait_for(lambda: points(browser, "executions") > 0, 30, what="the chart on a phone")
    background = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(18, 21, 27)"  # the dark scheme's --bg
    wide = browser.execute_script(
        "return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > "
        "window.innerWidth + 1 && !e.closest('.table-wrap, table')).map(e => e.tagName + '#' + e.id + '.' + "
        "e.className + ' ' + e.parentElement.id + ' ' + Math.round(e.getBoundingClientRect().right) + '/' + "
        "window.innerWidth).slice(0, 8)")
    assert wide == []  # nothing sticks out of a phone's width (wide tables scroll inside their frame)
    shot(browser, "actor-phone-dark")
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})


@pytest.mark.timeout(INSTALL_TIMEOUT + 120)
def test_actor_page_manages_an_alias_and_a_masked_secret_config(api: Api, browser: WebDriver) -> None:  # noqa: F811
    actor = api.create_actor(image="abacosamples/test")
    alias, config, secret = f"dash-{actor['id'].lower()}", f"cfg{actor['id'].lower()}", "s3cr3t-value-on-the-page"
    browser.get(f"{api.base}/dashboard/actors/{actor['id']}")
    wait_for(lambda: browser.find_element(By.ID, "alias-name").is_displayed(), 20, what="the manage forms")
    browser.find_element(By.ID, "alias-name").send_keys(alias)
    browser.find_element(By.CSS_SELECTOR, "#alias-form button").click()
    wait_for(lambda: alias in _text(browser, "aliases"), 20, what="the alias listed")
    assert api.ok("GET", f"/actors/aliases/{alias}")["actor_id"] == actor["id"]

    browser.find_element(By.ID, "config-name").send_keys(config)
    browser.find_element(By.ID, "config-value").send_keys(secret)
    browser.find_element(By.ID, "config-secret").click()
    browser.find_element(By.CSS_SELECTOR, "#config-form button").click()
    wait_for(lambda: config in _text(browser, "configs"), 20, what="the config listed")
    assert "******** (secret)" in _text(browser, "configs")
    assert secret not in browser.page_source  # shown masked, never in the page
    api.call("DELETE", f"/actors/configs/{config}")
    api.call("DELETE", f"/actors/aliases/{alias}")
