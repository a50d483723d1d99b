"""The plugin system end to end: discovery, refusal, the enable list, isolation and every hook.

Each test writes small plugins into a temporary `plugins.path` and builds a real app on the
engine under test; requests go through the real access checks (WebTest, no mocks).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import textwrap
from pathlib import Path

import pytest
import webtest

from core import accounts
from core.app import create_app
from core.models import Event, Session, Site, User
from core.plugins.panels import render_panels
from core.queries.query import parse_query
from core.scheduler import Scheduler
from core.tasks import job_table, run_task_now
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, csrf_of, login
from tests.support import PROJECT_ROOT

PLUGIN_LOG = "uxwizz.plugins"


def write_plugin(root: Path, name: str, source: str = "", *, version: str = "1.0.0", uxwizz: str = ">=0.1",
                 manifest: str | None = None, files: dict[str, str] | None = None) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    if manifest is None:
        manifest = f"[plugin]\nname = {name}\nversion = {version}\ndescription = test plugin {name}\nuxwizz = {uxwizz}\n"
    (folder / "plugin.ini").write_text(manifest)
    (folder / "__init__.py").write_text(textwrap.dedent(source))
    for path, text in (files or {}).items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))
    return folder


@pytest.fixture
def plugin_root(tmp_path: Path) -> Path:
    root = tmp_path / "my-plugins"
    root.mkdir()
    return root


@pytest.fixture
def make_app(installed_settings, plugin_root):  # type: ignore[no-untyped-def]
    apps = []

    def make(*enabled: str):  # type: ignore[no-untyped-def]
        settings = installed_settings.replace({"plugins.path": str(plugin_root), "plugins.enabled": list(enabled)})
        app = create_app(settings)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.shutdown()


def client_of(app, *, log_in: bool = True, username: str = ADMIN_USER,  # type: ignore[no-untyped-def]
              password: str = ADMIN_PASSWORD) -> webtest.TestApp:
    client = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "203.0.113.9"})
    if log_in:
        assert login(client, username, password).status_int == 303
    return client


def states(app) -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {name: (info.state, info.reason) for name, info in app.ctx.services["plugins"].infos.items()}


HELLO = """
    from core.plugins.api import hookimpl

    @hookimpl
    def uxwizz_routes(routes):
        @routes.get("/", permission="view")
        def hello():
            return "hello from {name}"
"""


# -- discovery and the enable list -------------------------------------------------------------------

def test_discovery_loads_only_enabled_plugins_in_order(make_app, plugin_root):
    for name in ("alpha", "beta", "gamma"):
        write_plugin(plugin_root, name, HELLO.replace("{name}", name))
    (plugin_root / ".hidden").mkdir()
    (plugin_root / "_scratch").mkdir()
    (plugin_root / "notes.txt").write_text("not a plugin")
    app = make_app("gamma", "alpha")
    found = states(app)
    assert found["gamma"] == ("loaded", "") and found["alpha"] == ("loaded", "")
    assert found["beta"] == ("disabled", "not in plugins.enabled")
    assert not {".hidden", "_scratch", "notes.txt"} & set(found)
    manager = app.ctx.services["plugins"]
    third_party = [info.name for info in manager.active() if not info.builtin]
    assert third_party == ["gamma", "alpha"]  # the enable list's order
    assert manager.infos["gamma"].version == "1.0.0"
    assert manager.infos["gamma"].description == "test plugin gamma"
    client = client_of(app)
    assert client.get("/p/alpha/").text == "hello from alpha"
    assert client.get("/p/gamma/").text == "hello from gamma"
    assert client.get("/p/beta/", status=404)


def test_an_enabled_plugin_without_a_folder_is_logged_and_the_app_starts(make_app, caplog):
    with caplog.at_level(logging.ERROR, logger=PLUGIN_LOG):
        app = make_app("ghost")
    assert states(app)["ghost"][0] == "missing"
    assert "plugin ghost: refused: no folder 'ghost'" in caplog.text
    assert client_of(app).get("/").status_int == 200


def test_plugins_path_is_relative_to_the_config_folder(installed_settings, tmp_path):
    write_plugin(tmp_path / "extensions", "rel", HELLO.replace("{name}", "rel"))
    app = create_app(installed_settings.replace({"plugins.path": "extensions", "plugins.enabled": ["rel"]}))
    try:
        assert client_of(app).get("/p/rel/").text == "hello from rel"
    finally:
        app.shutdown()


# -- refusal ---------------------------------------------------------------------------------------

def test_an_incompatible_plugin_is_refused_with_a_clear_reason(make_app, plugin_root, caplog):
    write_plugin(plugin_root, "future", HELLO.replace("{name}", "future"), uxwizz=">=99")
    with caplog.at_level(logging.ERROR, logger=PLUGIN_LOG):
        app = make_app("future")
    assert states(app)["future"] == ("refused", "needs uxwizz >=99; this is 0.1.0")
    assert "plugin future: refused: needs uxwizz >=99; this is 0.1.0" in caplog.text
    client = client_of(app)
    client.get("/p/future/", status=404)
    assert client.get("/").status_int == 200


BAD_MANIFESTS = {
    "no_section": ("[other]\nname = x\n", "has no [plugin] section"),
    "not_ini": ("this is not ini\n", "cannot be read"),
    "no_version": ("[plugin]\nname = {name}\nuxwizz = >=0.1\n", "lacks version"),
    "no_range": ("[plugin]\nname = {name}\nversion = 1.0\n", "lacks uxwizz"),
    "bad_version": ("[plugin]\nname = {name}\nversion = one\nuxwizz = >=0.1\n", "is not a version number"),
    "bad_range": ("[plugin]\nname = {name}\nversion = 1.0\nuxwizz = about 0.1\n", "is not a version range"),
    "other_name": ("[plugin]\nname = other\nversion = 1.0\nuxwizz = >=0.1\n", "differs from its folder name"),
}


@pytest.mark.parametrize("case", sorted(BAD_MANIFESTS))
def test_a_malformed_manifest_is_refused(make_app, plugin_root, caplog, case):
    text, reason = BAD_MANIFESTS[case]
    write_plugin(plugin_root, case, HELLO.replace("{name}", case), manifest=text.replace("{name}", case))
    with caplog.at_level(logging.ERROR, logger=PLUGIN_LOG):
        app = make_app(case)
    state, why = states(app)[case]
    assert state == "refused" and reason in why
    assert f"plugin {case}: refused:" in caplog.text and reason in caplog.text
    client_of(app).get(f"/p/{case}/", status=404)


def test_reserved_and_missing_manifests_are_refused(make_app, plugin_root):
    write_plugin(plugin_root, "partials", HELLO.replace("{name}", "p"))
    (plugin_root / "bare").mkdir()
    app = make_app("partials", "bare")
    assert "is reserved" in states(app)["partials"][1]
    assert states(app)["bare"][0] == "refused" and "no plugin.ini" in states(app)["bare"][1]


BAD_CODE = {
    "raises": ("raise RuntimeError('boom at import')", "import failed: RuntimeError: boom at import"),
    "syntax": ("def broken(:\n    pass", "import failed: SyntaxError"),
    "missing_dep": ("import no_such_module_xyz", "import failed: ModuleNotFoundError"),
    "exits": ("import sys\nsys.exit(3)", "import failed: SystemExit"),
    "typo_hook": ("from core.plugins.api import hookimpl\n\n@hookimpl\ndef uxwizz_rutes(routes):\n    pass",
                  "unknown hook(s) uxwizz_rutes"),
    "wrapper": ("from core.plugins.api import hookimpl\n\n@hookimpl(wrapper=True)\ndef uxwizz_menu_links():\n"
                "    return (yield)", "hook wrappers are not supported: uxwizz_menu_links"),
    "bad_args": ("from core.plugins.api import hookimpl\n\n@hookimpl\ndef uxwizz_routes(router):\n    pass",
                 "invalid hook"),
}


@pytest.mark.parametrize("case", sorted(BAD_CODE))
def test_a_plugin_that_fails_to_import_is_refused_and_the_app_works(make_app, plugin_root, caplog, case):
    source, reason = BAD_CODE[case]
    write_plugin(plugin_root, case, source)
    write_plugin(plugin_root, "fine", HELLO.replace("{name}", "fine"))
    with caplog.at_level(logging.ERROR, logger=PLUGIN_LOG):
        app = make_app(case, "fine")
    state, why = states(app)[case]
    assert state == "refused" and why.startswith(reason), why
    assert f"plugin {case}: refused: {reason}" in caplog.text
    client = client_of(app)
    assert client.get("/p/fine/").text == "hello from fine"
    assert client.get("/").status_int == 200


def test_a_plugin_folder_without_init_is_refused(make_app, plugin_root):
    folder = write_plugin(plugin_root, "noinit")
    (folder / "__init__.py").unlink()
    app = make_app("noinit")
    assert states(app)["noinit"][0] == "refused" and "no __init__.py" in states(app)["noinit"][1]


@pytest.mark.parametrize("source, reason", [
    ("@hookimpl\ndef uxwizz_menu_links():\n    return 'not a list'", "must return a list of MenuLink"),
    ("@hookimpl\ndef uxwizz_menu_links():\n    return [MenuLink('x', '/x', 'no-such-permission')]",
     "unknown permission 'no-such-permission'"),
    ("@hookimpl\ndef uxwizz_routes(routes):\n    routes.get('/x', lambda: 'x')", "declares no permission"),
    ("@hookimpl\ndef uxwizz_routes(routes):\n    routes.get('/x', lambda: 'x', permission='everyone')",
     "unknown permission 'everyone'"),
    ("@hookimpl\ndef uxwizz_jobs():\n    return [Job('purge-logins', lambda ctx: None, 'clash', seconds=60)]",
     "job 'purge-logins' already exists"),
    ("@hookimpl\ndef uxwizz_template_vars():\n    return {'static': 1}", "template variable(s) static already exist"),
    ("@hookimpl\ndef uxwizz_panels():\n    return [Panel('P', lambda q: 1, 'wrong/nothing.html')]",
     "template 'wrong/nothing.html'"),
])
def test_a_plugin_returning_something_wrong_is_refused_whole(make_app, plugin_root, caplog, source, reason):
    header = "from core.plugins.api import hookimpl, MenuLink, Job, Panel\n"
    # Also a route and a startup/shutdown pair, to see that nothing of it is mounted and it is shut down.
    extra = ("\n@hookimpl\ndef uxwizz_startup(ctx):\n    ctx.services['wrong_started'] = True\n"
             "\n@hookimpl\ndef uxwizz_shutdown(ctx):\n    ctx.services['wrong_stopped'] = True\n")
    if "uxwizz_routes" not in source:
        extra += "\n@hookimpl\ndef uxwizz_routes(routes):\n    routes.get('/', lambda: 'ok', permission='public')\n"
    write_plugin(plugin_root, "wrong", header + source + "\n" + extra)
    with caplog.at_level(logging.ERROR, logger=PLUGIN_LOG):
        app = make_app("wrong")
    state, why = states(app)["wrong"]
    assert state == "failed" and reason in why, why
    assert "plugin wrong: disabled:" in caplog.text
    assert app.ctx.services["wrong_started"] and app.ctx.services["wrong_stopped"]
    client = client_of(app)
    client.get("/p/wrong/", status=404)
    client.get("/p/wrong/x", status=404)
    assert client.get("/").status_int == 200


# -- isolation ---------------------------------------------------------------------------------------

def test_a_failing_startup_disables_only_that_plugin(make_app, plugin_root, caplog):
    write_plugin(plugin_root, "crashy", """
        from core.plugins.api import hookimpl, MenuLink

        @hookimpl
        def uxwizz_startup(ctx):
            raise ConnectionError("cannot reach the thing")

        @hookimpl
        def uxwizz_routes(routes):
            routes.get("/", lambda: "should not be mounted", permission="public")

        @hookimpl
        def uxwizz_menu_links():
            return [MenuLink("Crashy", "/p/crashy/")]
    """)
    write_plugin(plugin_root, "fine", HELLO.replace("{name}", "fine"))
    with caplog.at_level(logging.ERROR, logger=PLUGIN_LOG):
        app = make_app("crashy", "fine")
    state, why = states(app)["crashy"]
    assert state == "failed" and why == "startup failed: ConnectionError: cannot reach the thing"
    assert "plugin crashy: disabled: startup failed" in caplog.text
    assert "Traceback" in caplog.text  # the cause is logged with its traceback
    client = client_of(app)
    client.get("/p/crashy/", status=404)
    assert "Crashy" not in client.get("/").text
    assert client.get("/p/fine/").text == "hello from fine"


def test_a_raising_route_gives_500_for_that_route_only(make_app, plugin_root, caplog):
    write_plugin(plugin_root, "flaky", """
        import bottle
        from core.plugins.api import hookimpl

        @hookimpl
        def uxwizz_routes(routes):
            @routes.get("/boom", permission="view")
            def boom():
                raise KeyError("missing thing")

            @routes.get("/redirect", permission="view")
            def go():
                bottle.redirect("/p/flaky/ok")  # bottle's own answers pass through the guard

            @routes.get("/ok", permission="view")
            def ok():
                return "still fine"
    """)
    app = make_app("flaky")
    client = client_of(app)
    with caplog.at_level(logging.ERROR):
        page = client.get("/p/flaky/boom", status=500)
    assert "text/html" in page.content_type and "missing thing" not in page.text
    assert "plugin flaky: GET /p/flaky/boom failed" in caplog.text and "KeyError" in caplog.text
    assert client.get("/p/flaky/redirect", status=302).location.endswith("/p/flaky/ok")
    assert client.get("/p/flaky/ok").text == "still fine"
    assert client.get("/").status_int == 200


PANELS_PLUGIN = """
    from core.plugins.api import hookimpl, Panel, Site, render, site_query

    class Exploding:
        @property
        def value(self):
            raise ValueError("template-time failure")

    def good(query):
        return {"days": query.days, "site": query.site_id}

    def bad_data(query):
        raise ZeroDivisionError("data failure")

    @hookimpl
    def uxwizz_panels():
        return [
            Panel("Second", good, "panels/good.html", key="second", order=20),
            Panel("Broken data", bad_data, "panels/good.html", order=10),
            Panel("Broken template", lambda q: Exploding(), "panels/explode.html", order=30),
            Panel("Admins only", good, "panels/good.html", key="admin", permission="manage_users", order=40),
        ]

    @hookimpl
    def uxwizz_routes(routes, ctx):
        @routes.get("/sites/<site_id:int>", permission="view")
        def overview(site_id):
            from core.plugins.panels import render_panels
            site = Site.get_by_id(site_id)
            query = site_query(site)
            return render(ctx, "panels/page.html", site=site, panels=render_panels(ctx, query, site))
"""
PANEL_FILES = {
    "templates/good.html": "<p class='good'>{{ data.days }} days for site {{ data.site }} ({{ site.domain }})</p>",
    "templates/explode.html": "<p>{{ data.value }}</p>",
    "templates/page.html": """
        {% extends "base.html" %}
        {% block content %}{% include "partials/_site_nav.html" %}{% include "partials/_panels.html" %}{% endblock %}
    """,
}


def test_panels_render_in_order_and_a_failing_panel_shows_an_error_box(make_app, plugin_root, caplog):
    write_plugin(plugin_root, "panels", PANELS_PLUGIN, files=PANEL_FILES)
    app = make_app("panels")
    client = client_of(app)
    with caplog.at_level(logging.ERROR, logger=PLUGIN_LOG):
        page = client.get("/p/panels/sites/1?range=7d")
    html = page.html
    articles = html.select("section.panels article.panel")
    assert [a.h2.text for a in articles] == ["Broken data", "Second", "Broken template", "Admins only"]
    assert articles[1].select_one("p.good").text == "7 days for site 1 (example.com)"
    for broken in (articles[0], articles[2]):
        assert broken.select_one("[role=alert]").text.strip() == (
            "This panel could not be shown; the error has been logged.")
    assert "data failure" not in page.text and "template-time failure" not in page.text
    assert "plugin panels: panel 'Broken data' failed" in caplog.text
    assert "plugin panels: panel 'Broken template' failed" in caplog.text
    assert articles[1]["id"] == "panel-panels-second"


def test_panels_respect_the_users_level(make_app, plugin_root):
    write_plugin(plugin_root, "panels", PANELS_PLUGIN, files=PANEL_FILES)
    app = make_app("panels")
    accounts.create_user("viewer", "viewer-pass-123", 0, site_ids=[1])
    page = client_of(app, username="viewer", password="viewer-pass-123").get("/p/panels/sites/1")
    titles = [a.h2.text for a in page.html.select("article.panel")]
    assert "Admins only" not in titles and "Second" in titles


def test_render_panels_needs_no_request_when_given_a_user(make_app, plugin_root):
    write_plugin(plugin_root, "panels", PANELS_PLUGIN, files=PANEL_FILES)
    app = make_app("panels")
    site = Site.get_by_id(1)
    query = parse_query(site.id, "UTC", {"range": "30d"})
    panels = render_panels(app.ctx, query, site, user=User.get(User.username == ADMIN_USER))
    second = next(p for p in panels if p.title == "Second")
    assert "30 days for site 1" in second.html and second.error is None


# -- every hook ---------------------------------------------------------------------------------------

EVERYTHING = """
    import os
    from core.plugins.api import (
        hookimpl, Job, MenuLink, SiteNavLink, Step, Site, render, current_user, flash, _)

    @hookimpl
    def uxwizz_startup(ctx):
        ctx.services["every_started"] = ctx.settings["plugins.path"]

    @hookimpl
    def uxwizz_shutdown(ctx):
        with open(os.path.join(ctx.settings.data_dir, "every-stopped.txt"), "w") as handle:
            handle.write("bye")

    @hookimpl
    def uxwizz_routes(routes, ctx):
        @routes.get("/", permission="view")
        def home():
            return render(ctx, "every/home.html", who=current_user().username)

        @routes.get("/open", permission="public")
        def open_page():
            return "anyone"

        @routes.get("/sites/<site_id:int>", permission="view")
        def site_page(site_id):
            return render(ctx, "every/site.html", site=Site.get_by_id(site_id))

        @routes.post("/note", permission="manage_sites")
        def note():
            flash(ctx, "noted", "success")
            return "saved"

        @routes.route("/both", ["GET", "PUT"], permission="login")
        def both():
            return "both"

        @routes.get("/data.json", permission="view", api=True)
        def data():
            from core.web import json_response
            return json_response({"url": routes.url("/data.json")})

    @hookimpl
    def uxwizz_menu_links():
        return [MenuLink(_("Everything"), "/p/every/", "view", 55),
                MenuLink("Every admin", "/p/every/admin", "manage_users", 56)]

    @hookimpl
    def uxwizz_site_tabs():
        return [SiteNavLink("Every tab", "/p/every/sites/{site_id}", "view", 5),
                SiteNavLink("Relative tab", "every-relative", "view", 6)]

    @hookimpl
    def uxwizz_template_vars(ctx):
        return {"every_greeting": "hi there", "every_shout": lambda text: text.upper() + "!"}

    def tick(ctx, **options):
        return "ticked"

    def fail(ctx, **options):
        raise RuntimeError("job went wrong")

    @hookimpl
    def uxwizz_jobs():
        return [Job("every-tick", tick, "A test job.", seconds=3600),
                Job("every-fail", fail, "A failing job.", cron={"hour": 1})]

    def tag_hit(hit, env):
        hit.payload["every"] = True

    def drop_marked(hit, env):
        return "every-marked" if hit.payload.get("mark") else None

    def crash(hit, env):
        raise RuntimeError("step crashed")

    @hookimpl
    def uxwizz_enrich_steps():
        return [Step("tag", tag_hit), Step("drop_marked", drop_marked, "request"), Step("crash", crash)]

    @hookimpl
    def uxwizz_cli_commands(subparsers, common):
        command = subparsers.add_parser("every-hello", parents=[common], help="say hello")
        command.add_argument("--name", default="world")
        command.set_defaults(func=lambda args: print(f"hello {args.name}") or 7)
"""
EVERYTHING_FILES = {
    "templates/home.html": """
        {% extends "base.html" %}
        {% block content %}<p id="who">{{ who }}</p><p id="greeting">{{ every_greeting }} {{ every_shout("x") }}</p>
        <link rel="stylesheet" href="/p/every/static/every.css">{% endblock %}
    """,
    "templates/site.html": """
        {% extends "base.html" %}
        {% block content %}{% include "partials/_site_nav.html" %}{% endblock %}
    """,
    "static/every.css": "#who { color: red; }\n",
}


@pytest.fixture
def every_app(make_app, plugin_root):  # type: ignore[no-untyped-def]
    write_plugin(plugin_root, "every", EVERYTHING, files=EVERYTHING_FILES)
    return make_app("every")


def test_startup_and_shutdown_hooks(every_app, plugin_root):
    assert every_app.ctx.services["every_started"] == str(plugin_root)
    stopped = Path(every_app.ctx.settings.data_dir) / "every-stopped.txt"
    assert not stopped.exists()
    every_app.shutdown()
    assert stopped.read_text() == "bye"


def test_routes_pass_the_same_access_checks_as_built_in_pages(every_app):
    anonymous = client_of(every_app, log_in=False)
    assert anonymous.get("/p/every/open").text == "anyone"
    assert anonymous.get("/p/every/", status=302).location.endswith("/login?next=/p/every/")
    assert anonymous.get("/p/every/data.json", status=401).json["error"] == "unauthenticated"
    admin = client_of(every_app)
    page = admin.get("/p/every/")
    assert page.html.select_one("#who").text == ADMIN_USER
    assert admin.get("/p/every/both").text == "both"
    assert admin.get("/p/every/data.json").json == {"url": "/p/every/data.json"}
    assert admin.put("/p/every/both", headers={"X-CSRF-Token": csrf_of(admin)}).text == "both"
    admin.post("/p/every/note", status=403)  # no CSRF token
    assert admin.post("/p/every/note", {"csrf_token": csrf_of(admin)}).text == "saved"
    other = Site.create(domain="other.example", name="Other")
    accounts.create_user("viewer", "viewer-pass-123", 0, site_ids=[1])
    viewer = client_of(every_app, username="viewer", password="viewer-pass-123")
    assert viewer.get("/p/every/sites/1").status_int == 200
    viewer.get(f"/p/every/sites/{other.id}", status=404)  # site access checked like built-in pages
    viewer.post("/p/every/note", {"csrf_token": csrf_of(viewer)}, status=403)  # level too low


def test_menu_links_and_site_tabs(every_app):
    accounts.create_user("viewer", "viewer-pass-123", 0, site_ids=[1])
    admin = client_of(every_app)
    menu = [(a.text, a["href"]) for a in admin.get("/").html.select("nav.menu a")]
    assert ("Everything", "/p/every/") in menu and ("Every admin", "/p/every/admin") in menu
    assert menu[0] == ("Sites", "/")  # built-in links come through the same hook, ordered
    viewer = client_of(every_app, username="viewer", password="viewer-pass-123")
    viewer_menu = [a.text for a in viewer.get("/").html.select("nav.menu a")]
    assert "Everything" in viewer_menu and "Every admin" not in viewer_menu
    tabs = admin.get("/p/every/sites/1").html.select("nav.site-nav a")
    hrefs = {a.text: a["href"] for a in tabs}
    assert hrefs["Every tab"] == "/p/every/sites/1" and hrefs["Relative tab"] == "/sites/1/every-relative"
    current = [a.text for a in tabs if a.get("aria-current") == "page"]
    assert current == ["Every tab"]


def test_template_vars_and_static_files(every_app):
    client = client_of(every_app)
    assert client.get("/p/every/").html.select_one("#greeting").text == "hi there X!"
    css = client_of(every_app, log_in=False).get("/p/every/static/every.css")
    assert css.text == "#who { color: red; }\n" and css.headers["Cache-Control"] == "public, max-age=3600"
    client.get("/p/every/static/../plugin.ini", status=(403, 404))
    client.get("/p/every/static/missing.css", status=404)


def test_jobs_join_the_job_table_and_a_failing_one_is_logged(every_app, caplog):
    table = job_table(every_app.ctx)
    assert table["every-tick"].help == "A test job." and "purge-logins" in table
    assert run_task_now(every_app.ctx, "every-tick") == "ticked"
    scheduler = Scheduler(every_app.ctx)
    with caplog.at_level(logging.ERROR, logger="uxwizz.scheduler"):
        scheduler._run("every-fail")  # what APScheduler calls at the job's time
    assert "job every-fail failed" in caplog.text and "job went wrong" in caplog.text


def test_enrich_steps_are_added_after_the_built_in_ones_and_guarded(every_app, caplog):
    from core.enrich.pipeline import DEFAULT_STEPS, run

    steps = every_app.ctx.services["enrich_steps"]
    names = [step.name for step in steps]
    assert names[:len(DEFAULT_STEPS)] == [step.name for step in DEFAULT_STEPS]
    assert names[len(DEFAULT_STEPS):] == ["every:tag", "every:drop_marked", "every:crash"]

    class FakeHit:  # the steps only touch the payload
        def __init__(self, payload):
            self.payload = payload

    plugin_steps = steps[len(DEFAULT_STEPS):]
    hit = FakeHit({"mark": True})
    assert run(plugin_steps, "request", hit, None) == "every-marked"
    with caplog.at_level(logging.ERROR, logger=PLUGIN_LOG):
        assert run(plugin_steps, "flush", hit, None) is None  # the crash is contained
    assert hit.payload["every"] is True
    assert "plugin every: enrich step crash failed (1 time(s))" in caplog.text


def test_cli_commands_from_plugins(installed_settings, plugin_root, capsys):
    from core.cli import main

    write_plugin(plugin_root, "every", EVERYTHING, files=EVERYTHING_FILES)
    config = Path(installed_settings.config_path)
    config.write_text(config.read_text() + f"\n[plugins]\nenabled = every\npath = {plugin_root}\n")
    assert main(["every-hello", "--config", str(config), "--name", "plugins"]) == 7
    assert capsys.readouterr().out == "hello plugins\n"
    assert main(["plugins", "list", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert f"plugins folder: {plugin_root}" in out
    assert "every" in out and "loaded" in out and "1.0.0" in out


def test_plugins_list_exits_1_when_an_enabled_plugin_is_refused(installed_settings, plugin_root, capsys):
    from core.cli import main

    write_plugin(plugin_root, "old", HELLO, uxwizz="<0.1")
    config = Path(installed_settings.config_path)
    config.write_text(config.read_text() + f"\n[plugins]\nenabled = old\npath = {plugin_root}\n")
    assert main(["plugins", "list", "--config", str(config)]) == 1
    assert "refused" in capsys.readouterr().out


def test_a_plugin_cli_hook_that_raises_leaves_the_other_commands_working(installed_settings, plugin_root, capsys):
    from core.cli import main

    write_plugin(plugin_root, "badcli", """
        from core.plugins.api import hookimpl

        @hookimpl
        def uxwizz_cli_commands(subparsers):
            raise RuntimeError("cli hook broke")
    """)
    config = Path(installed_settings.config_path)
    config.write_text(config.read_text() + f"\n[plugins]\nenabled = badcli\npath = {plugin_root}\n")
    assert main(["plugins", "list", "--config", str(config)]) == 0
    assert "badcli" in capsys.readouterr().out


def test_templates_of_two_plugins_never_shadow_each_other(make_app, plugin_root):
    for name in ("one", "two"):
        write_plugin(plugin_root, name, f"""
            from core.plugins.api import hookimpl, render

            @hookimpl
            def uxwizz_routes(routes, ctx):
                routes.get("/", lambda: render(ctx, "{name}/page.html"), permission="view")
        """, files={"templates/page.html": f"<p>page of {name}</p>"})
    app = make_app("one", "two")
    client = client_of(app)
    assert client.get("/p/one/").text == "<p>page of one</p>"
    assert client.get("/p/two/").text == "<p>page of two</p>"


# -- built-in views use the same hooks ---------------------------------------------------------------

def test_built_in_parts_are_plugins_on_the_same_hooks(make_app, plugin_root):
    write_plugin(plugin_root, "alpha", HELLO.replace("{name}", "alpha"))
    app = make_app("alpha")
    manager = app.ctx.services["plugins"]
    active = [info.name for info in manager.active()]
    assert active[-1] == "alpha"  # built-ins first: a plugin can rely on them
    builtins = [info.name for info in manager.active() if info.builtin]
    assert builtins == active[:-1]
    assert {"builtin.health", "builtin.tracker_assets", "builtin.ingest"} <= set(builtins)
    from core import dashboard

    modules = [f"builtin.dashboard.{path.rsplit('.', 1)[1]}" for path in dashboard.MODULES]
    assert "builtin.dashboard.home" in modules and "builtin.dashboard.api" in modules
    assert [name for name in builtins if name.startswith("builtin.dashboard.")] == modules  # each its own plugin
    hooks = [impl.plugin_name for impl in manager.pm.hook.uxwizz_routes.get_hookimpls()]
    assert set(modules) <= set(hooks)
    assert "builtin.menu" in [impl.plugin_name for impl in manager.pm.hook.uxwizz_menu_links.get_hookimpls()]
    client = client_of(app)
    labels = [a.text for a in client.get("/").html.select("nav.menu a")]
    assert labels[:1] == ["Sites"] and "Users" in labels


# -- the README walk-through works as written ---------------------------------------------------------

def test_the_readme_walk_through_plugin_works(make_app, plugin_root):
    readme = Path(PROJECT_ROOT, "plugins", "README.md").read_text()
    files = dict(re.findall(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", readme, flags=re.S))
    assert set(files) == {"plugin.ini", "__init__.py", "templates/index.html", "templates/page.html",
                          "templates/panel.html"}
    folder = plugin_root / "hello"
    for path, text in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=1)
    session = Session.create(site=1, token="walk", started_at=now, last_seen_at=now)
    for _ in range(3):
        Event.create(session=session, site=1, occurred_at=now, category="c", action="a")
    app = make_app("hello")
    assert states(app)["hello"] == ("loaded", "")
    client = client_of(app)
    menu = {a.text: a["href"] for a in client.get("/").html.select("nav.menu a")}
    assert menu["Hello"] == "/p/hello/"
    assert [a["href"] for a in client.get("/p/hello/").html.select("#hello-sites a")] == ["/p/hello/sites/1"]
    page = client.get("/p/hello/sites/1")
    assert page.html.select_one("#hello-count").text.startswith("3 events between")
    assert {a.text: a["href"] for a in page.html.select("nav.site-nav a")}["Hello"] == "/p/hello/sites/1"
    site = Site.get_by_id(1)
    panels = render_panels(app.ctx, parse_query(1, "UTC", {}), site, user=User.get(User.username == ADMIN_USER))
    events = next(p for p in panels if p.plugin == "hello")
    assert events.title == "Events" and '<p class="hello-panel">3</p>' in events.html


# -- enrich steps inside the real collection pipeline ----------------------------------------------------

COLLECT_STEPS = """
    from core.plugins.api import Step, hookimpl

    def drop_private(hit, env):
        if any("/private" in page["url"] for page in hit.payload.get("pages", ())):
            return "private-page"

    def set_campaign(hit, env):
        hit.session_values["utm_campaign"] = "set-by-plugin"

    def crash(hit, env):
        raise RuntimeError("enrich step crashed")

    @hookimpl
    def uxwizz_enrich_steps():
        return [Step("drop_private", drop_private, "request"), Step("crash", crash),
                Step("set_campaign", set_campaign)]
"""


def test_enrich_steps_run_in_the_collection_pipeline(make_app, plugin_root, caplog):
    from tests.functional.test_collect import page, payload, post

    write_plugin(plugin_root, "collectx", COLLECT_STEPS)
    app = make_app("collectx")
    client = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "203.0.113.9"})
    t = int(dt.datetime.now(dt.UTC).timestamp() * 1000) - 60_000
    private = payload("0001", sid="PrivateSession0000000001", t=t,
                      pages=[page(t=t - 1000, url="https://www.example.com/private/area")])
    assert post(client, private).headers.get("X-UXWizz-Dropped") == "private-page"
    assert post(client, payload("0002", t=t)).headers.get("X-UXWizz-Dropped") is None
    with caplog.at_level(logging.ERROR, logger=PLUGIN_LOG):
        app.ctx.services["ingest"].flush_now()
    stored = list(Session.select())
    assert len(stored) == 1 and stored[0].utm_campaign == "set-by-plugin"  # after the built-in steps
    assert "plugin collectx: enrich step crash failed" in caplog.text
