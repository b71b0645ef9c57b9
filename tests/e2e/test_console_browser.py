"""The console in a real headless Chromium (Debian's, driven by Selenium through Debian's
chromedriver): sign in, the overview's charts show what the spend API says, create a key and use
it with the OpenAI SDK, watch its spend appear, revoke it, sign out. Screenshots of every page
are saved (the path is printed; `CALCIFER_ARTIFACTS` chooses another directory)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.wait import WebDriverWait

from tests.e2e.access_setup import ECHO_CATALOG, HELLO, MASTER, admin, new_key
from tests.gateway_process import GatewayProcess

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
WIDE, PHONE = (1280, 900), (390, 844)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    env = {"CALCIFER_MASTER_KEY": MASTER}
    process = GatewayProcess(
        tmp_path_factory.mktemp("console-browser"), ECHO_CATALOG, env=env, auth_required=True
    )
    yield process.start()
    process.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Path:
    chosen = os.environ.get("CALCIFER_ARTIFACTS")
    directory = Path(chosen) / "console" if chosen else tmp_path_factory.mktemp("console-screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    # Shown even when pytest captures output, so that the screenshots can be found.
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
        print(f"\nconsole screenshots: {directory}")
    return directory


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail(
            "Chromium is missing: run scripts/test (installs it) or apt-get install chromium chromium-driver"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    options.add_argument(f"--window-size={WIDE[0]},{WIDE[1]}")
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    yield driver
    driver.quit()


def sdk(gateway: GatewayProcess, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0)


def eventually(check: Callable[[], Any], seconds: float = 10.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def spend_total(gateway: GatewayProcess) -> dict[str, Any]:
    total: dict[str, Any] = admin(gateway, "GET", "/admin/spend").json()["total"]
    return total


def shoot(driver: WebDriver, shots: Path, name: str) -> None:
    """The whole page at the window's width (the viewport stretched to the page's height)."""
    width = driver.execute_script("return window.innerWidth")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)  # type: ignore[attr-defined]
    try:
        assert driver.save_screenshot(str(shots / f"{name}.png"))
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})  # type: ignore[attr-defined]


def open_page(driver: WebDriver, gateway: GatewayProcess, path: str) -> None:
    driver.get(gateway.url + path)
    WebDriverWait(driver, 10).until(lambda d: d.execute_script("return document.readyState") == "complete")


def charts_ready(driver: WebDriver) -> None:
    WebDriverWait(driver, 10).until(lambda d: d.execute_script("return document.body.dataset.chartsReady"))


def chart_sum(driver: WebDriver, canvas: str, dataset: int = 0) -> float:
    total = driver.execute_script(
        "const c = Chart.getChart(arguments[0]); return c.data.datasets[arguments[1]].data"
        ".reduce((s, v) => s + (v || 0), 0);",
        canvas, dataset,
    )  # fmt: skip
    return float(total)


def painted(driver: WebDriver, canvas: str) -> bool:
    """Whether Chart.js drew anything on the canvas (some pixel is not transparent)."""
    return bool(driver.execute_script(
        "const c = document.getElementById(arguments[0]); const d = c.getContext('2d')"
        ".getImageData(0, 0, c.width, c.height).data; for (let i = 3; i < d.length; i += 4)"
        " { if (d[i] !== 0) return true; } return false;",
        canvas,
    ))  # fmt: skip


def test_an_operator_signs_in_manages_a_key_and_watches_its_spend(
    gateway: GatewayProcess, browser: WebDriver, shots: Path
) -> None:
    driver = browser
    # Traffic before the operator looks: three answers and one stream from an existing key.
    seeded = sdk(gateway, new_key(gateway, name="seed")["key"])
    for _ in range(3):
        seeded.chat.completions.create(model="echo4", messages=HELLO)  # type: ignore[arg-type]
    for _chunk in seeded.chat.completions.create(model="echo-cheap", messages=HELLO, stream=True):  # type: ignore[arg-type]
        pass
    assert eventually(lambda: spend_total(gateway)["requests"] == 4)
    expected = spend_total(gateway)

    # Sign in: any page sends an operator without a session to the sign-in form.
    open_page(driver, gateway, "/admin/")
    assert driver.current_url.endswith("/admin/console/sign-in")
    shoot(driver, shots, "01-sign-in")
    driver.find_element(By.ID, "master-key").send_keys(MASTER)
    driver.find_element(By.ID, "sign-in").click()
    WebDriverWait(driver, 10).until(lambda d: d.current_url.endswith("/admin/"))
    assert "HttpOnly" not in driver.page_source and not driver.execute_script("return document.cookie")

    # The overview: its totals and charts say what the spend API says.
    charts_ready(driver)
    assert driver.find_element(By.ID, "total-requests").text == str(expected["requests"])
    assert Decimal(driver.find_element(By.ID, "total-cost").text) == Decimal(expected["cost_usd"])
    assert chart_sum(driver, "chart-requests") == expected["requests"]
    assert Decimal(str(round(chart_sum(driver, "chart-cost"), 9))) == Decimal(expected["cost_usd"])
    assert all(painted(driver, c) for c in ("chart-requests", "chart-cost", "chart-latency", "chart-ttft"))
    shoot(driver, shots, "02-overview")

    # Create a key; its secret is shown this once, with a copy button.
    open_page(driver, gateway, "/admin/console/keys")
    driver.find_element(By.ID, "new-key-name").send_keys("browser key")
    driver.find_element(By.ID, "new-key-budget").send_keys("2.50")
    driver.find_element(By.ID, "create-key").click()
    secret = WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "new-key-secret")).text
    assert secret.startswith("ck-")
    driver.find_element(By.ID, "copy-key").click()
    WebDriverWait(driver, 5).until(lambda d: d.find_element(By.ID, "copied").is_displayed())
    shoot(driver, shots, "03-key-created")
    key_id = next(
        k["id"] for k in admin(gateway, "GET", "/admin/keys").json()["data"] if k["name"] == "browser key"
    )

    # Use it with the OpenAI SDK; its spend appears against its budget.
    answer = sdk(gateway, secret).chat.completions.create(model="echo4", messages=HELLO)  # type: ignore[arg-type]
    assert answer.choices[0].message.content
    recorded = eventually(
        lambda: admin(gateway, "GET", f"/admin/keys/{key_id}").json()["budget"]["spend_usd"] != "0"
    )
    assert recorded, "the key's spend never reached the ledger"
    spent = admin(gateway, "GET", f"/admin/keys/{key_id}").json()["budget"]["spend_usd"]
    open_page(driver, gateway, "/admin/console/keys")
    cell = driver.find_element(By.ID, f"spend-{key_id}")
    assert f"{spent} / 2.5" in cell.text
    assert float(cell.find_element(By.TAG_NAME, "meter").get_attribute("value") or 0) == float(spent)
    assert secret not in driver.page_source
    shoot(driver, shots, "04-keys")

    # The other pages show the request, once the ledger has it (the budget above is the
    # counters', settled before the ledger's batch is written).
    in_ledger = f"/admin/spend?key_id={key_id}"
    assert eventually(lambda: admin(gateway, "GET", in_ledger).json()["total"]["requests"] == 1)
    open_page(driver, gateway, "/admin/console/spend?by=key")
    charts_ready(driver)
    assert key_id in driver.find_element(By.TAG_NAME, "table").text and painted(driver, "chart-spend")
    shoot(driver, shots, "05-spend")
    open_page(driver, gateway, f"/admin/console/requests?key_id={key_id}")
    rows = driver.find_elements(By.CSS_SELECTOR, "table.requests tbody tr")
    assert len(rows) == 1 and "echo4" in rows[0].text
    shoot(driver, shots, "06-requests")
    rows[0].find_element(By.TAG_NAME, "a").click()
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.ID, "field-cost_usd"))
    assert driver.find_element(By.ID, "field-cost_usd").text == spent
    assert driver.find_element(By.ID, "field-cost_estimated").text == "no"
    shoot(driver, shots, "07-request-detail")
    open_page(driver, gateway, "/admin/console/models")
    assert "echo-alias" in driver.page_source and driver.find_element(By.ID, "catalog-version").text
    shoot(driver, shots, "08-models")

    # A phone's width: the same pages, one column.
    driver.set_window_size(*PHONE)
    open_page(driver, gateway, "/admin/")
    charts_ready(driver)
    assert driver.execute_script("return document.documentElement.scrollWidth") <= PHONE[0] + 1
    shoot(driver, shots, "09-overview-phone")
    open_page(driver, gateway, "/admin/console/keys")
    shoot(driver, shots, "10-keys-phone")
    driver.set_window_size(*WIDE)

    # Revoke it: the SDK then gets a 401.
    open_page(driver, gateway, "/admin/console/keys")
    driver.find_element(By.ID, f"revoke-{key_id}").click()
    WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, f"status-{key_id}").text == "revoked")
    with pytest.raises(openai.AuthenticationError):
        sdk(gateway, secret).chat.completions.create(model="echo4", messages=HELLO)  # type: ignore[arg-type]

    # Sign out: every page sends the browser back to sign-in.
    driver.find_element(By.ID, "sign-out").click()
    WebDriverWait(driver, 10).until(lambda d: d.current_url.endswith("/admin/console/sign-in"))
    for path in ("/admin/", "/admin/console/keys", "/admin/console/requests"):
        open_page(driver, gateway, path)
        assert driver.current_url.endswith("/admin/console/sign-in"), path
    assert httpx.get(gateway.url + "/health").status_code == 200
