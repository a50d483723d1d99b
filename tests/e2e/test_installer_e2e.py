"""A fresh clone's first minute, in Chromium: the web installer on SQLite to a logged-in dashboard."""

from __future__ import annotations

import os
import stat

from playwright.sync_api import expect

from tests.e2e.conftest import screenshot

PASSWORD = "browser-pass-77"


def test_web_installer_to_dashboard(fresh_server, page):
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])

    page.goto(fresh_server.url + "/")
    assert page.url == fresh_server.url + "/install"
    assert page.locator("#system-check .checklist li.check-ok").count() == 4
    screenshot(page, "installer-check")
    page.click("#to-database")

    # SQLite is preselected; the MySQL fields stay hidden until chosen (CSS only, no script)
    assert page.locator("input[name=sqlite_path]").input_value() == os.path.join("data", "uxwizz.db")
    assert not page.locator("input[name=mysql_host]").is_visible()
    page.check("#engine-mysql")
    assert page.locator("input[name=mysql_host]").is_visible()
    page.check("#engine-sqlite")
    page.click("#test-connection")
    assert page.locator("#database-message").inner_text() == "Connection works."
    screenshot(page, "installer-database")
    assert not os.path.exists(os.path.join(os.path.dirname(fresh_server.config_path), "data", "uxwizz.db"))
    page.click("#database-next")

    page.fill("input[name=admin_user]", "owner")
    page.fill("input[name=admin_password]", PASSWORD)
    page.fill("input[name=admin_password2]", PASSWORD + "?")
    page.click("#admin-form button.primary")
    assert "The two passwords differ." in page.locator("#admin-form").inner_text()
    page.fill("input[name=admin_password]", PASSWORD)
    page.fill("input[name=admin_password2]", PASSWORD)
    page.click("#admin-form button.primary")

    page.fill("input[name=site_domain]", "shop.example.com")
    page.click("#site-form button.primary")
    assert "shop.example.com" in page.locator(".summary").inner_text()
    page.click("#install-now")

    page.wait_for_selector("#install-done")
    snippet = page.locator("#snippet").input_value()
    assert f"{fresh_server.url}/server/ust.min.js?v=" in snippet
    page.click("#copy-snippet")
    expect(page.locator("#copy-snippet")).to_have_text("Copied")  # the CSP forbids wait_for_function's eval
    assert page.evaluate("navigator.clipboard.readText()") == snippet
    screenshot(page, "installer-done")
    config = fresh_server.config_path
    assert stat.S_IMODE(os.stat(config).st_mode) == 0o600

    page.fill("#login-form input[name=password]", PASSWORD)
    page.click("#go-dashboard")
    page.wait_for_url(fresh_server.url + "/")
    assert "owner" in page.locator(".topbar").inner_text()
    assert "shop.example.com" in page.content()
    screenshot(page, "dashboard-after-install")

    # the installer is gone for good, in the same process (no restart)
    assert page.goto(fresh_server.url + "/install").status == 404
    assert page.goto(fresh_server.url + "/install/run").status == 404
    # 422 and 404 documents log "Failed to load resource"; anything else (a CSP block, a JS error) fails
    assert [e for e in errors if not e.startswith("Failed to load resource")] == []
