"""The web installer through the real HTTP layer, on the engine under test (and the real MariaDB).

Each test starts from a server that is not installed yet (config.ini in tmp_path) and checks what
the person sees and what ends up on disk and in the database.
"""

from __future__ import annotations

import configparser
import os
import re
import stat
import threading
import uuid
from urllib.parse import quote, urlparse

import pytest
import webtest

from core.app import create_app
from core.config import load_settings
from core.dialect import dialect_for
from installer.setup import InstallRequest, perform_install
from tests.conftest import ENGINE, MYSQL_SERVER, mysql_admin_connection, mysql_url
from tests.support import free_port

HOST = "stats.example.net:8080"
PASSWORD = "install-pass-42"
INSTALLER_URLS = ["/install", "/install/database", "/install/admin", "/install/site", "/install/run"]


@pytest.fixture
def server(fresh_settings):  # type: ignore[no-untyped-def]
    application = create_app(fresh_settings)
    yield application
    application.shutdown()


@pytest.fixture
def web(server) -> webtest.TestApp:  # type: ignore[no-untyped-def]
    return webtest.TestApp(server, extra_environ={"REMOTE_ADDR": "203.0.113.9", "HTTP_HOST": HOST})


def database_fields(db_url: str) -> dict[str, str]:
    """The database form's fields for a URL made by `make_db_url` (SQLite path or MySQL parts)."""
    if db_url.startswith("sqlite:///"):
        return {"engine": "sqlite", "sqlite_path": db_url[len("sqlite:///"):]}
    parts = urlparse(db_url)
    return {"engine": "mysql", "mysql_host": parts.hostname or "", "mysql_port": str(parts.port or 3306),
            "mysql_user": parts.username or "", "mysql_password": parts.password or "",
            "mysql_database": parts.path.lstrip("/")}


def mysql_fields(**overrides: str) -> dict[str, str]:
    parts = urlparse(MYSQL_SERVER)
    fields = {"engine": "mysql", "mysql_host": parts.hostname or "127.0.0.1", "mysql_port": str(parts.port or 3306),
              "mysql_user": parts.username or "root", "mysql_password": parts.password or "",
              "mysql_database": "mysql"}
    fields.update(overrides)
    return fields


def submit_database(web: webtest.TestApp, fields: dict[str, str], action: str = "next",
                    status: int | str = "*") -> webtest.TestResponse:
    form = web.get("/install/database").forms["database-form"]
    for name, value in fields.items():
        form[name] = value
    return form.submit("action", value=action, status=status)


def submit_admin(web: webtest.TestApp, user: str = "boss", password: str = PASSWORD, again: str | None = None,
                 status: int | str = "*") -> webtest.TestResponse:
    form = web.get("/install/admin").forms["admin-form"]
    form["admin_user"], form["admin_password"] = user, password
    form["admin_password2"] = password if again is None else again
    return form.submit(status=status)


def submit_site(web: webtest.TestApp, domain: str, status: int | str = "*") -> webtest.TestResponse:
    form = web.get("/install/site").forms["site-form"]
    form["site_domain"] = domain
    return form.submit(status=status)


def walk_to_run(web: webtest.TestApp, db_url: str, domain: str = "shop.example.com") -> None:
    assert submit_database(web, database_fields(db_url)).location.endswith("/install/admin")
    assert submit_admin(web).location.endswith("/install/site")
    assert submit_site(web, domain).location.endswith("/install/run")


def table_names(db_url: str, base_dir: str) -> list[str]:
    db = dialect_for(db_url, base_dir).open()
    try:
        return db.get_tables()
    finally:
        db.close()
        getattr(db, "close_all", lambda: None)()


def field_error(page: webtest.TestResponse, name: str) -> str:
    match = re.search(rf'data-field="{name}"[^>]*>([^<]+)<', page.text)
    assert match, f"no error shown for {name}"
    return match.group(1)


def assert_nothing_written(settings, db_url: str | None = None) -> None:  # type: ignore[no-untyped-def]
    assert not os.path.exists(settings.config_path)
    data_dir = settings.data_dir
    assert not os.path.exists(data_dir) or os.listdir(data_dir) == []
    if db_url and db_url.startswith("mysql://"):
        assert table_names(db_url, settings.base_dir) == []


# -- routing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/login", "/api/v1/me", "/healthz", "/p/demo/x", "/installer"])
def test_every_other_url_redirects_to_the_installer(web, path):
    response = web.get(path, status=302)
    assert urlparse(response.location).path == "/install"


def test_posts_elsewhere_redirect_and_static_files_are_served(web):
    assert urlparse(web.post("/api/collect", "{}", status=303).location).path == "/install"
    css = web.get("/static/css/app.css")
    assert ".steps" in css.text and css.content_type == "text/css"
    web.get("/install/nope", status=404)
    assert urlparse(web.get("/install/", status=302).location).path == "/install"


def test_system_check_shows_each_item_with_a_mark(web, fresh_settings):
    page = web.get("/install")
    items = re.findall(r'<li class="check-(ok|error|warn)">\s*<span class="mark"[^>]*>(.)</span>\s*<strong>([^<]+)',
                       page.text)
    labels = [label for _cls, _mark, label in items]
    assert labels == ["Python 3.11 or newer", "Data folder is writable", "Config folder is writable",
                      "PyMySQL driver (only for MySQL/MariaDB)"]
    assert all(cls == "ok" and mark == "✓" for cls, mark, _label in items)
    assert fresh_settings.config_path in page.text
    assert 'aria-current="step">1. System check' in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert "'unsafe-inline'" not in page.headers["Content-Security-Policy"]
    page.click(linkid="to-database")


# -- the whole flow -----------------------------------------------------------------------------


def test_whole_web_flow_installs_and_logs_in(web, server, fresh_settings, db_url):
    first = web.get("/install/database")
    assert first.forms["database-form"]["sqlite_path"].value == os.path.join("data", "uxwizz.db")
    tested = submit_database(web, database_fields(db_url), action="test", status=200)
    assert "Connection works." in tested.text
    walk_to_run(web, db_url, "https://WWW.Shop.Example.com/landing")

    summary = web.get("/install/run")
    assert "www.shop.example.com" in summary.text and "boss" in summary.text
    assert PASSWORD not in summary.text
    if db_url.startswith("mysql://"):
        assert ":***@" in summary.text and (urlparse(db_url).password or "***") in summary.text
    done = summary.forms["run-form"].submit(status=200)

    assert "uxwizz is installed" in done.text
    for line in ("Connecting to the database", "Creating tables", "Creating the admin user",
                 "Adding the first site", "Writing the configuration"):
        assert line in done.text
    snippet = done.html.find("textarea", id="snippet").text
    assert f'src="http://{HOST}/server/ust.min.js?v=' in snippet and "UST_CT = []" in snippet
    assert done.html.find("button", attrs={"data-copy": "#snippet"}) is not None
    assert server.installed

    # config.ini: mode 0600, the database URL and a fresh secret, readable by the settings loader
    mode = stat.S_IMODE(os.stat(fresh_settings.config_path).st_mode)
    assert mode == 0o600
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(fresh_settings.config_path)
    assert parser["database"]["url"] == db_url
    assert len(parser["security"]["secret_key"]) >= 32
    loaded = load_settings(environ={"UXWIZZ_CONFIG": fresh_settings.config_path})
    assert loaded.installed and loaded["database.url"] == db_url

    # the done page's login form goes straight to the dashboard
    login = done.forms["login-form"]
    assert login["username"].value == "boss"
    login["password"] = PASSWORD
    assert urlparse(login.submit(status=303).location).path == "/"
    dashboard = web.get("/")
    assert "www.shop.example.com" in dashboard.text and "boss" in dashboard.text

    from core.models import Site, User

    assert [(u.username, u.level) for u in User.select()] == [("boss", 5)]
    assert [s.domain for s in Site.select()] == ["www.shop.example.com"]


def test_install_without_a_site_and_with_forwarded_https_from_untrusted_peer(web, db_url):
    walk_to_run(web, db_url, domain="")
    form = web.get("/install/run").forms["run-form"]
    done = form.submit(headers={"X-Forwarded-Proto": "https"}, status=200)
    assert f"http://{HOST}/server/ust.min.js" in done.text  # the header is not believed from anyone
    assert "every page of your site" in done.text
    from core.models import Site

    assert Site.select().count() == 0


def test_steps_cannot_be_skipped(web, fresh_settings):
    assert web.get("/install/admin", status=303).location.endswith("/install/database")
    assert web.get("/install/run", status=303).location.endswith("/install/database")
    token = web.get("/install").html.find("meta", attrs={"name": "csrf-token"})["content"]
    posted = web.post("/install/run", {"csrf_token": token}, status=303)
    assert posted.location.endswith("/install/database")
    assert_nothing_written(fresh_settings)


@pytest.mark.parametrize("path", INSTALLER_URLS[1:])
def test_every_post_needs_the_csrf_token(web, fresh_settings, path):
    web.get("/install")
    forged = web.post(path, {"csrf_token": "forged", "engine": "sqlite", "sqlite_path": "data/x.db"}, status=403)
    assert "The form expired or came from another site" in forged.text
    assert_nothing_written(fresh_settings)


def test_csrf_cookie_without_matching_field_is_refused(web, fresh_settings, db_url):
    walk_to_run(web, db_url)
    web.post("/install/run", {"csrf_token": "not-the-cookie"}, status=403)
    assert not os.path.exists(fresh_settings.config_path)


# -- validation: a message, and nothing written ------------------------------------------------------


@pytest.mark.parametrize("fields, name, message", [
    ({"engine": "sqlite", "sqlite_path": ""}, "sqlite_path", "Enter a file path"),
    ({"engine": "sqlite", "sqlite_path": "data/"}, "sqlite_path", "names a folder"),
    ({"engine": "sqlite", "sqlite_path": "data/x.db?mode=memory"}, "sqlite_path", "plain file path"),
    (mysql_fields(mysql_host=""), "mysql_host", "Enter the database server"),
    (mysql_fields(mysql_host="http://db.example/"), "mysql_host", "host name or IP address only"),
    (mysql_fields(mysql_port="99999"), "mysql_port", "from 1 to 65535"),
    (mysql_fields(mysql_port="33o6"), "mysql_port", "from 1 to 65535"),
    (mysql_fields(mysql_user=""), "mysql_user", "Enter the database user"),
    (mysql_fields(mysql_database="bad name;"), "mysql_database", "1-64 letters"),
    (mysql_fields(mysql_database=""), "mysql_database", "1-64 letters"),
])
@pytest.mark.parametrize("action", ["test", "next"])
def test_database_field_errors_show_a_message_and_write_nothing(web, fresh_settings, fields, name, message,
                                                                 action):
    page = submit_database(web, fields, action=action, status=422)
    assert message in field_error(page, name)
    assert "Please correct the marked fields." in page.text
    assert_nothing_written(fresh_settings)
    web.get("/install/admin", status=303)  # still on the database step


def test_bad_engine_value_is_refused(web, fresh_settings):
    token = web.get("/install/database").forms["database-form"]["csrf_token"].value
    page = web.post("/install/database", {"csrf_token": token, "engine": "postgres", "action": "next"},
                    status=422)
    assert "Choose SQLite or MySQL" in field_error(page, "engine")
    assert_nothing_written(fresh_settings)


def test_sqlite_test_connection_creates_no_file(web, fresh_settings, tmp_path):
    target = tmp_path / "deeper" / "folder" / "stats.db"
    page = submit_database(web, {"engine": "sqlite", "sqlite_path": str(target)}, action="test", status=200)
    assert "Connection works." in page.text
    assert not (tmp_path / "deeper").exists()
    assert_nothing_written(fresh_settings)


def test_sqlite_path_that_is_not_a_database_gives_the_reason(web, fresh_settings, tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("hello, not a database\n" * 50)
    page = submit_database(web, {"engine": "sqlite", "sqlite_path": str(junk)}, action="next", status=422)
    assert "file is not a database" in page.html.find(id="connection-error").text
    assert junk.read_text().startswith("hello")
    assert not os.path.exists(fresh_settings.config_path)


@pytest.mark.parametrize("action", ["test", "next"])
def test_mysql_host_unreachable(web, fresh_settings, action):
    port = free_port()  # nothing listens there
    page = submit_database(web, mysql_fields(mysql_port=str(port)), action=action, status=422)
    reason = page.html.find(id="connection-error").text
    assert f"Cannot reach the database server at 127.0.0.1:{port}" in reason
    assert_nothing_written(fresh_settings)
    web.get("/install/admin", status=303)


@pytest.mark.parametrize("action", ["test", "next"])
def test_mysql_access_denied(web, fresh_settings, action):
    page = submit_database(web, mysql_fields(mysql_password="surely-not-the-password"), action=action, status=422)
    reason = page.html.find(id="connection-error").text
    assert "Access denied for user 'root'" in reason and "check the user name and password" in reason
    assert "surely-not-the-password" not in reason
    assert_nothing_written(fresh_settings)


@pytest.mark.parametrize("action", ["test", "next"])
def test_mysql_unknown_database(web, fresh_settings, action):
    name = f"uxwizz_missing_{uuid.uuid4().hex[:8]}"
    page = submit_database(web, mysql_fields(mysql_database=name), action=action, status=422)
    reason = page.html.find(id="connection-error").text
    assert f"Unknown database '{name}'" in reason and "create it first" in reason
    assert_nothing_written(fresh_settings)


def test_mysql_test_connection_success_writes_nothing(web, fresh_settings, make_db_url):
    if ENGINE == "mysql":
        db_url = make_db_url("probe")
    else:  # the MariaDB path is always available here; use a scratch database on it
        db_url = mysql_url(f"uxwizz_t_probe_{uuid.uuid4().hex[:8]}")
        with mysql_admin_connection() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{urlparse(db_url).path[1:]}`")
    try:
        page = submit_database(web, database_fields(db_url), action="test", status=200)
        assert "Connection works." in page.text
        assert table_names(db_url, fresh_settings.base_dir) == []
        assert_nothing_written(fresh_settings, db_url)
    finally:
        if ENGINE != "mysql":
            with mysql_admin_connection() as conn, conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{urlparse(db_url).path[1:]}`")


def test_database_that_already_holds_an_install_is_refused(web, fresh_settings, db_url, tmp_path):
    other = load_settings(environ={"UXWIZZ_CONFIG": str(tmp_path / "other" / "config.ini")})
    os.makedirs(tmp_path / "other")
    perform_install(other, InstallRequest(db_url, "first", PASSWORD))
    page = submit_database(web, database_fields(db_url), action="next", status=422)
    assert "already holds a uxwizz install" in page.html.find(id="connection-error").text
    assert not os.path.exists(fresh_settings.config_path)


@pytest.mark.parametrize("user, password, again, name, message", [
    ("bad name!", PASSWORD, None, "admin_user", "User name must be"),
    ("", PASSWORD, None, "admin_user", "User name must be"),
    ("boss", "short", None, "admin_password", "at least 8 characters"),
    ("boss", PASSWORD, PASSWORD + "x", "admin_password2", "The two passwords differ"),
])
def test_admin_field_errors(web, fresh_settings, db_url, user, password, again, name, message):
    assert submit_database(web, database_fields(db_url)).status_int == 303
    page = submit_admin(web, user, password, again, status=422)
    assert message in field_error(page, name)
    assert f'value="{password}"' not in page.text  # passwords are never echoed back
    web.get("/install/site", status=303)  # not past the admin step
    assert_nothing_written(fresh_settings, db_url)


@pytest.mark.parametrize("domain", ["not a domain", "user@example.com", "-bad-.example", "exa mple.com"])
def test_site_field_errors(web, fresh_settings, db_url, domain):
    submit_database(web, database_fields(db_url))
    submit_admin(web)
    page = submit_site(web, domain, status=422)
    assert "Enter a domain name such as example.com." in field_error(page, "site_domain")
    web.get("/install/run", status=303)
    assert_nothing_written(fresh_settings, db_url)


def test_tracked_looking_input_is_escaped(web, db_url):
    submit_database(web, database_fields(db_url))
    page = submit_admin(web, user="<script>alert(1)</script>", status=422)
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_failure_at_the_last_step_names_the_step_to_fix(web, fresh_settings, db_url, tmp_path):
    walk_to_run(web, db_url)
    # someone else installs into the same database between the database step and "Install"
    other = load_settings(environ={"UXWIZZ_CONFIG": str(tmp_path / "other" / "config.ini")})
    os.makedirs(tmp_path / "other")
    perform_install(other, InstallRequest(db_url, "first", PASSWORD))
    page = web.get("/install/run").forms["run-form"].submit(status=422)
    assert "already holds a uxwizz install" in page.html.find(id="install-error").text
    assert page.html.find("a", string="Change this answer")["href"] == "/install/database"
    assert not os.path.exists(fresh_settings.config_path)


# -- after install ------------------------------------------------------------------------------------


def test_installer_answers_404_to_everything_after_install(web, server, db_url):
    old_installer = server._wsgi
    walk_to_run(web, db_url)
    token = web.get("/install/run").forms["run-form"]["csrf_token"].value
    web.get("/install/run").forms["run-form"].submit(status=200)
    for path in INSTALLER_URLS:
        web.get(path, status=404)
        web.post(path, {"csrf_token": token, "engine": "sqlite", "sqlite_path": "data/again.db",
                        "admin_user": "x", "admin_password": PASSWORD, "admin_password2": PASSWORD},
                 status=404)
    # a request that was already routed to the old installer app cannot re-run it either
    stale = webtest.TestApp(old_installer, extra_environ={"HTTP_HOST": HOST})
    for path in INSTALLER_URLS:
        stale.get(path, status=404)
        stale.post(path, {"csrf_token": token}, status=404)
    from core.models import User

    assert User.select().count() == 1


def test_two_browsers_racing_the_last_step_install_once(server, fresh_settings, make_db_url):
    browsers = [webtest.TestApp(server, extra_environ={"HTTP_HOST": HOST}) for _ in range(2)]
    urls = [make_db_url("race-a"), make_db_url("race-b")]
    forms = []
    for browser, db_url in zip(browsers, urls, strict=True):
        walk_to_run(browser, db_url)
        forms.append(browser.get("/install/run").forms["run-form"])
    start = threading.Barrier(2)
    statuses: list[int] = []

    def press(form: webtest.forms.Form) -> None:
        start.wait()
        statuses.append(form.submit(status="*").status_int)

    threads = [threading.Thread(target=press, args=(form,)) for form in forms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses) == [200, 404]
    written = load_settings(environ={"UXWIZZ_CONFIG": fresh_settings.config_path})["database.url"]
    loser = urls[1 - urls.index(written)]
    assert "users" not in table_names(loser, fresh_settings.base_dir)


def test_an_existing_config_file_keeps_its_settings(tmp_path, db_url):
    config = tmp_path / "config.ini"
    config.write_text("[server]\nport = 9123\n[logging]\nlevel = debug\n")
    settings = load_settings(environ={"UXWIZZ_CONFIG": str(config)})
    application = create_app(settings)
    try:
        web = webtest.TestApp(application, extra_environ={"HTTP_HOST": HOST})
        walk_to_run(web, db_url)
        web.get("/install/run").forms["run-form"].submit(status=200)
    finally:
        application.shutdown()
    loaded = load_settings(environ={"UXWIZZ_CONFIG": str(config)})
    assert loaded["server.port"] == 9123 and loaded["logging.level"] == "debug"
    assert loaded["database.url"] == db_url
    assert stat.S_IMODE(os.stat(config).st_mode) == 0o600


def test_mysql_password_with_url_characters_survives(tmp_path):
    """A password with @ : / % is quoted into the URL and works (user created for this test)."""
    user, password = f"u{uuid.uuid4().hex[:8]}", "p@ss:w/rd%?#x"
    name = f"uxwizz_t_q_{uuid.uuid4().hex[:8]}"
    with mysql_admin_connection() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
        cur.execute("CREATE USER %s@'127.0.0.1' IDENTIFIED BY %s", (user, password))
        cur.execute(f"GRANT ALL ON `{name}`.* TO %s@'127.0.0.1'", (user,))
    settings = load_settings(environ={"UXWIZZ_CONFIG": str(tmp_path / "config.ini")})
    application = create_app(settings)
    try:
        web = webtest.TestApp(application, extra_environ={"HTTP_HOST": HOST})
        fields = mysql_fields(mysql_user=user, mysql_password=password, mysql_database=name)
        assert submit_database(web, fields).location.endswith("/install/admin")
        submit_admin(web)
        submit_site(web, "")
        web.get("/install/run").forms["run-form"].submit(status=200)
        loaded = load_settings(environ={"UXWIZZ_CONFIG": str(tmp_path / "config.ini")})
        assert loaded["database.url"] == (f"mysql://{user}:{quote(password, safe='')}@127.0.0.1:"
                                          f"{urlparse(MYSQL_SERVER).port or 3306}/{name}")
        assert "users" in table_names(loaded["database.url"], settings.base_dir)
    finally:
        application.shutdown()
        with mysql_admin_connection() as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            cur.execute("DROP USER IF EXISTS %s@'127.0.0.1'", (user,))
