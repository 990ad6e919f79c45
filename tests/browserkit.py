"""Open a page in headless Chromium (Debian's ``chromium`` + ``chromium-driver``) through
selenium, and report what a person would see: the DOM and the console messages."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: Chromium as root in a closed network: no sandbox, no GPU, nothing phoning home.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def require_chromium() -> None:
    if shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER):
        return
    message = (
        "chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)"
    )
    if os.environ.get("CEAP_REQUIRE_ALL_TESTS"):
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Page:
    driver: Any
    console: list[dict[str, Any]]

    def count(self, css: str) -> int:
        return int(self.driver.execute_script(f"return document.querySelectorAll({css!r}).length"))

    def script(self, code: str) -> Any:
        return self.driver.execute_script(code)


def open_page(path: Path, inspect: Any) -> Any:
    """Load ``file://path`` and call ``inspect(page)`` while the browser is open."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    require_chromium()
    profile = tempfile.mkdtemp(prefix="ceap-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(60)
        driver.get(path.resolve().as_uri())
        driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "if (document.readyState === 'complete') { done(); }"
            "else { window.addEventListener('load', () => done()); }"
        )
        return inspect(Page(driver, driver.get_log("browser")))
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
