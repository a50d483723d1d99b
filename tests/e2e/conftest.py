"""Browser fixtures: Playwright for Python driving Debian's /usr/bin/chromium (never a download)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER  # noqa: F401  (re-exported for e2e tests)
from tests.support import LiveServer, free_port

CHROMIUM = "/usr/bin/chromium"
SCREENSHOT_DIR = os.path.join(os.path.dirname(__file__), "screenshots")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def pytest_collection_modifyitems(items):  # type: ignore[no-untyped-def]
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `make test` (it installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser) -> Iterator:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = context.new_page()
    yield tab
    context.close()


def screenshot(page, name: str) -> str:  # type: ignore[no-untyped-def]
    os.makedirs(SCREENSHOT_DIR, exist_ok=True)
    path = os.path.join(SCREENSHOT_DIR, f"{name}.png")
    page.screenshot(path=path, full_page=True)
    return path


@pytest.fixture
def fresh_server(tmp_path) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    """A server that is not installed yet (serves the web installer)."""
    server = LiveServer(str(tmp_path / "config.ini"), free_port()).start(ready_path="/install")
    yield server
    server.stop()


@pytest.fixture
def installed_server(installed_settings) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    """A running server installed on the engine under test, with admin and example.com."""
    server = LiveServer(installed_settings.config_path, free_port()).start()
    yield server
    server.stop()
