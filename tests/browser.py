"""Headless Chromium for the interactive page's tests and benchmark (Debian's chromium + chromium-driver)."""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = os.environ.get("MIMTAX_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("MIMTAX_CHROMEDRIVER", "/usr/bin/chromedriver")
# flags that keep Chromium from calling home on a closed network (see the machine notes)
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--window-size=1400,900"]


def available() -> bool:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return False
    return Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()


def chrome():
    """A WebDriver with the browser console and the network log recorded."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in FLAGS:
        options.add_argument(flag)
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def requested_urls(driver) -> list[str]:
    """Every URL the page asked for since the last call (from the DevTools network events)."""
    import json

    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls
