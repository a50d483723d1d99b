"""The Plugins settings page and GET /api/v1/plugins: every plugin folder with its state and why it is
not running, its hooks, links and routes; built-in parts apart; admins only; plugin strings escaped.

The shipped example plugins are copied next to temporary ones (an incompatible range, a broken
manifest, a failing start-up, a hostile description) into one plugins folder; both engines.
"""

from __future__ import annotations

import re
import shutil

import pytest
import webtest

from core import __version__, accounts
from core.app import create_app
from tests.conftest import login
from tests.functional.test_api_sites import Api, user_with_token
from tests.functional.test_plugins import write_plugin
from tests.support import PROJECT_ROOT

HOSTILE = "<script>alert(1)</script>"
ENABLED = ["404_pages", "feedback_polls", "future", "broken", "crashy", "hostile", "ghost"]


@pytest.fixture
def app(installed_settings, tmp_path):  # type: ignore[no-untyped-def]
    root = tmp_path / "plugins"
    for shipped in ("404_pages", "feedback_polls"):
        shutil.copytree(f"{PROJECT_ROOT}/plugins/{shipped}", root / shipped)
    write_plugin(root, "future", "", uxwizz=">=99")
    write_plugin(root, "broken", "", manifest="[manifest]\nname = broken\n")  # no [plugin] section
    write_plugin(root, "crashy", """
        from core.plugins.api import hookimpl

        @hookimpl
        def uxwizz_startup(ctx):
            raise ConnectionError("cannot reach <b>the thing</b>")

        @hookimpl
        def uxwizz_routes(routes):
            routes.get("/", lambda: "never mounted", permission="view")
    """)
    write_plugin(root, "hostile", f"""
        from core.plugins.api import hookimpl, MenuLink

        @hookimpl
        def uxwizz_menu_links():
            return [MenuLink("{HOSTILE}", "/p/hostile/", "view", 99)]

        @hookimpl
        def uxwizz_routes(routes):
            routes.get("/", lambda: "ok", permission="view")
    """, manifest=f"[plugin]\nname = hostile\nversion = 2.0\ndescription = {HOSTILE}\nuxwizz = >=0.1\n")
    write_plugin(root, "spare", "")
    settings = installed_settings.replace({"plugins.path": str(root), "plugins.enabled": ENABLED})
    application = create_app(settings)
    yield application
    application.shutdown()


def client_at(app, level: int) -> webtest.TestApp:  # type: ignore[no-untyped-def]
    client = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "203.0.113.9"})
    if level == 5:
        assert login(client).status_int == 303
    else:
        accounts.create_user(f"level{level}", "level-pass-123", level, site_ids=[1])
        assert login(client, f"level{level}", "level-pass-123").status_int == 303
    return client


def rows(page) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """data-plugin name -> the row's HTML, for the plugin table and the built-in table."""
    return {name: html for name, html in re.findall(r'<tr data-plugin="([^"]+)"(.*?)</tr>', page.text, re.S)}


def test_the_page_lists_every_folder_with_its_state_and_reason(app):
    page = client_at(app, 4).get("/settings/plugins")
    found = rows(page)
    assert set(found) >= {"404_pages", "feedback_polls", "future", "broken", "crashy", "hostile", "spare", "ghost"}

    shipped = found["404_pages"]
    assert 'data-state="loaded"' in shipped and "Running" in shipped and "1.0.0" in shipped
    assert "uxwizz &gt;=0.1,&lt;1" in shipped and "Pages visitors reached that do not exist" in shipped
    for hook in ("uxwizz_routes", "uxwizz_menu_links", "uxwizz_site_tabs", "uxwizz_panels"):
        assert f"<code>{hook}</code>" in shipped
    assert "<code>GET /p/404_pages/</code>" in shipped and "<code>/p/404_pages/</code>" in shipped
    assert "<code>/p/404_pages/sites/{site_id}</code>" in shipped  # its site tab
    assert "<code>uxwizz_panels</code>" in found["feedback_polls"] and 'data-state="loaded"' in found["feedback_polls"]

    assert 'data-state="refused"' in found["future"]
    assert f"needs uxwizz &gt;=99; this is {__version__}" in found["future"]
    assert "not imported" in found["future"]  # hooks of a plugin never imported are unknown
    assert 'data-state="refused"' in found["broken"] and "has no [plugin] section" in found["broken"]
    crashy = found["crashy"]
    assert 'data-state="failed"' in crashy and "Failed while starting" in crashy
    assert "startup failed: ConnectionError: cannot reach &lt;b&gt;the thing&lt;/b&gt;" in crashy
    assert "<code>uxwizz_startup</code>" in crashy and "route" not in crashy.split('class="routes"')[1]
    assert 'data-state="disabled"' in found["spare"] and "not in plugins.enabled" in found["spare"]
    assert 'data-state="missing"' in found["ghost"] and "no folder" in found["ghost"]

    # Plugin strings are text, never markup.
    assert HOSTILE not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in found["hostile"]

    # Built-in parts are listed apart, with their routes.
    builtin = re.search(r'id="builtin-list".*?</table>', page.text, re.S)
    assert builtin and 'data-plugin="builtin.dashboard.stats_views"' in builtin.group(0)
    assert "<code>GET /settings/plugins</code>" in builtin.group(0)
    assert 'data-plugin="404_pages"' not in builtin.group(0)


def test_admins_only_and_linked_from_the_menu(app):
    admin_home = client_at(app, 4).get("/")
    assert 'href="/settings/plugins"' in admin_home.text
    analyst = client_at(app, 3)
    assert 'href="/settings/plugins"' not in analyst.get("/").text
    analyst.get("/settings/plugins", status=403)


def test_the_api_gives_the_same_data(app):
    api = Api(app, user_with_token(4)[1])  # every response is checked against openapi.json
    body = api.call("GET", "/api/v1/plugins", status=200).json
    states = {p["name"]: (p["state"], p["reason"]) for p in body["plugins"]}
    assert states["404_pages"] == ("loaded", "") and states["feedback_polls"] == ("loaded", "")
    assert states["future"] == ("refused", f"needs uxwizz >=99; this is {__version__}")
    assert states["crashy"] == ("failed", "startup failed: ConnectionError: cannot reach <b>the thing</b>")
    assert states["spare"] == ("disabled", "not in plugins.enabled")
    assert body["enabled"] == ENABLED
    shipped = next(p for p in body["plugins"] if p["name"] == "404_pages")
    assert {"method": "GET", "path": "/p/404_pages/", "permission": "view"} in shipped["routes"]
    assert shipped["menu_links"] == [{"label": "404 pages", "href": "/p/404_pages/", "permission": "view"}]
    assert next(p for p in body["plugins"] if p["name"] == "future")["hooks"] is None
    assert all(p["state"] == "builtin" for p in body["builtin"])
    assert "builtin.dashboard.plugins_views" in {p["name"] for p in body["builtin"]}
    Api(app, user_with_token(3)[1]).call("GET", "/api/v1/plugins", status=403)
