"""The Plugins settings page in Chromium: the shipped examples running, a refused and a failed plugin
with their reasons, a hostile description shown as text; a screenshot for the docs."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import screenshot
from tests.e2e.test_dashboard import log_in
from tests.functional.test_plugins import write_plugin
from tests.support import PROJECT_ROOT, LiveServer, free_port


@pytest.fixture
def server(installed_settings, tmp_path) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    root = tmp_path / "plugins"
    for shipped in ("404_pages", "feedback_polls"):
        shutil.copytree(f"{PROJECT_ROOT}/plugins/{shipped}", root / shipped)
    write_plugin(root, "future_charts", "", uxwizz=">=2.0",
                 manifest="[plugin]\nname = future_charts\nversion = 3.1.0\ndescription = Charts for uxwizz 2\n"
                          "uxwizz = >=2.0\n")
    write_plugin(root, "crm_sync", """
        from core.plugins.api import hookimpl

        @hookimpl
        def uxwizz_startup(ctx):
            raise ConnectionError("crm.example.com: connection refused")
    """, manifest="[plugin]\nname = crm_sync\nversion = 0.4.0\ndescription = <img src=x onerror=alert(1)>\n"
                  "uxwizz = >=0.1\n")
    env = {"UXWIZZ_PLUGINS_PATH": str(root),
           "UXWIZZ_PLUGINS_ENABLED": "404_pages,feedback_polls,future_charts,crm_sync"}
    live = LiveServer(installed_settings.config_path, free_port(), env=env).start()
    yield live
    live.stop()


def test_plugins_page(server, browser):
    tab = log_in(browser, server)
    tab.on("dialog", lambda dialog: tab.problems.append(f"dialog: {dialog.message}"))
    tab.click(".menu a[href='/settings/plugins']")
    tab.wait_for_url(server.url + "/settings/plugins")
    state = {name: tab.inner_text(f"#plugin-list tr[data-plugin='{name}'] td.state")
             for name in ("404_pages", "feedback_polls", "future_charts", "crm_sync")}
    assert state["404_pages"] == "Running" and state["feedback_polls"] == "Running"
    assert "Refused" in state["future_charts"] and "needs uxwizz >=2.0" in state["future_charts"]
    assert "Failed while starting" in state["crm_sync"] and "connection refused" in state["crm_sync"]
    assert tab.locator("#plugin-list img").count() == 0  # the description is text
    assert "<img src=x" in tab.inner_text("#plugin-list tr[data-plugin='crm_sync']")
    tab.click("#plugin-list tr[data-plugin='404_pages'] details summary")
    assert "GET /p/404_pages/" in tab.inner_text("#plugin-list tr[data-plugin='404_pages'] td.routes")
    assert tab.locator("#builtin-list tr[data-plugin]").count() > 10
    screenshot(tab, "plugins")
    assert not tab.problems, tab.problems
    tab.context.close()
