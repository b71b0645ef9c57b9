"""The response cache in the console, in a real headless Chromium (the same Debian Chromium and
chromedriver as test_console_browser.py): the overview shows the hit ratio, the USD the hits
saved and the bytes the cache holds, as `/admin/stats` reports them, with a chart of hits and
misses; the requests page marks the hits; the spend page counts them."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.wait import WebDriverWait

from tests.e2e.access_setup import ECHO_CATALOG, MASTER, admin
from tests.e2e.test_console_browser import (  # noqa: F401 - fixtures used by name
    browser,
    chart_sum,
    charts_ready,
    eventually,
    open_page,
    painted,
    shoot,
    shots,
)
from tests.gateway_process import GatewayProcess


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    process = GatewayProcess(
        tmp_path_factory.mktemp("console-cache"), ECHO_CATALOG, env={"CALCIFER_MASTER_KEY": MASTER},
        config_extra="cache:\n  enabled: true\n  ttl_seconds: 600\n",
    )  # fmt: skip
    yield process.start()
    process.stop()


def ask(gateway: GatewayProcess, prompt: str, **headers: str) -> str:
    """A cacheable request; what the cache did (`X-Calcifer-Cache`)."""
    body = {"model": "echo4", "messages": [{"role": "user", "content": prompt}], "temperature": 0}
    response = httpx.post(gateway.url + "/v1/chat/completions", json=body, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    eventually(lambda: admin(gateway, "GET", "/admin/stats?window=hour").json()["cache"]["bytes_held"])
    return response.headers["x-calcifer-cache"]


def test_the_overview_shows_the_cache_and_the_requests_page_marks_its_hits(
    gateway: GatewayProcess,
    browser: WebDriver,  # noqa: F811
    shots: Path,  # noqa: F811
) -> None:
    driver = browser
    results = [ask(gateway, p) for p in ("tell me a joke", "tell me a joke", "tell me a joke", "a poem")]
    results.append(ask(gateway, "a story", **{"Cache-Control": "no-store"}))
    assert results == ["miss", "hit", "hit", "miss", "bypass"]
    day = "/admin/stats?window=day"
    stats = eventually(lambda: (s := admin(gateway, "GET", day).json())["totals"]["requests"] == 5 and s)
    cache = stats["cache"]
    assert (cache["hits"], cache["misses"], cache["hit_ratio"]) == (2, 2, 0.5)
    assert cache["bytes_held"] > 0 and Decimal(cache["saved_usd"]) > 0

    open_page(driver, gateway, "/admin/")
    driver.find_element(By.ID, "master-key").send_keys(MASTER)
    driver.find_element(By.ID, "sign-in").click()
    WebDriverWait(driver, 10).until(lambda d: d.current_url.endswith("/admin/"))
    charts_ready(driver)
    text = lambda ident: driver.find_element(By.ID, ident).text  # noqa: E731
    assert text("cache-hit-ratio") == "50.0 %"
    assert text("cache-hit-ratio-note") == "2 hits, 2 misses (every worker and replica)"
    assert Decimal(text("cache-saved")) == Decimal(cache["saved_usd"])
    held = driver.find_element(By.ID, "cache-bytes")
    assert held.get_attribute("data-bytes") == str(cache["bytes_held"])
    assert held.text.endswith(("bytes", "KiB"))
    assert text("cache-bytes-note") == "all workers"
    assert (chart_sum(driver, "chart-cache", 0), chart_sum(driver, "chart-cache", 1)) == (2, 2)
    assert painted(driver, "chart-cache")
    shoot(driver, shots, "11-overview-cache")

    open_page(driver, gateway, "/admin/console/requests")
    rows = driver.find_elements(By.CSS_SELECTOR, "table.requests tbody tr")
    marked = [row for row in rows if row.find_elements(By.CSS_SELECTOR, ".cache-hit")]
    assert (len(rows), len(marked)) == (5, 2)
    cells = [row.find_elements(By.TAG_NAME, "td")[5].text for row in rows]  # the Cache column
    assert sorted(cells) == ["bypass", "hit", "hit", "miss", "miss"]
    assert all(row.find_elements(By.TAG_NAME, "td")[7].text == "0" for row in marked)  # a hit's cost
    shoot(driver, shots, "12-requests-cache")
    marked[0].find_element(By.TAG_NAME, "a").click()
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.ID, "field-cache_result"))
    assert (text("field-cache_hit"), text("field-cache_result")) == ("yes", "hit")
    assert Decimal(text("field-saved_usd")) == Decimal(cache["saved_usd"]) / 2

    open_page(driver, gateway, "/admin/console/spend?by=model")
    charts_ready(driver)
    total = driver.find_elements(By.CSS_SELECTOR, "table tbody tr")[-1].find_elements(By.TAG_NAME, "td")
    assert (total[2].text, total[6].text, Decimal(total[7].text)) == ("5", "2", Decimal(cache["saved_usd"]))
    shoot(driver, shots, "13-spend-cache")
