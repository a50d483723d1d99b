"""The web installer: system check → database → admin user → first site → install → done.

A small Bottle app of its own, mounted by `core.app` only while uxwizz is not installed; every
other URL redirects to /install. What the person typed is kept in server memory under a random
cookie (the database password never travels in a URL or a cookie). Every POST carries the same
double-submit CSRF token the login form uses, so the done page can log straight in.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import secrets
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import bottle

from core import accounts, sites
from core.config import Settings
from core.dashboard.access import PRELOGIN_CSRF_COOKIE, csrf_token, prelogin_csrf_ok
from core.dialect import DatabaseURLError, parse_url
from core.i18n import _
from core.numbers import parse_whole
from core.passwords import password_problem
from core.templating import STATIC_DIR, make_environment
from core.web import is_https, parse_networks
from installer.setup import InstallError, InstallRequest, perform_install, probe_database

log = logging.getLogger("uxwizz.installer")

DRAFT_COOKIE = "uxwizz_install"
DRAFT_TTL_SECONDS = 2 * 3600
MAX_DRAFTS = 50  # unauthenticated visitors can open drafts: keep memory bounded
MIN_PYTHON = (3, 11)
STEP_KEYS = ("check", "database", "admin", "site", "run", "done")
STEP_URLS = {"check": "/install", "database": "/install/database", "admin": "/install/admin",
             "site": "/install/site", "run": "/install/run"}
_HOST_RE = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]{1,255})$")
_DB_NAME_RE = re.compile(r"^[A-Za-z0-9_$-]{1,64}$")
_SAFE_HOST_HEADER = re.compile(r"^[A-Za-z0-9.\-:\[\]]{1,300}$")


def step_labels() -> dict[str, str]:
    return {"check": _("System check"), "database": _("Database"), "admin": _("Admin user"),
            "site": _("First site"), "run": _("Install"), "done": _("Done")}


@dataclass
class Check:
    label: str
    ok: bool
    detail: str
    hint: str = ""
    blocking: bool = True


@dataclass
class Draft:
    """One browser's answers so far, kept in server memory only."""

    created: float = field(default_factory=time.monotonic)
    db_form: dict[str, str] = field(default_factory=dict)
    db_url: str = ""
    admin_user: str = ""
    admin_password: str = ""
    site_domain: str | None = None  # None: the site step is not answered yet ("" = no site)


def _writable(folder: str) -> str | None:
    """None when a file can be created in folder (tried for real: root ignores mode bits)."""
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
        return None
    except OSError as exc:
        return exc.strerror or str(exc)


def system_checks(settings: Settings) -> list[Check]:
    checks: list[Check] = []
    version = ".".join(map(str, sys.version_info[:3]))
    checks.append(Check(
        _("Python {minimum} or newer").format(minimum=".".join(map(str, MIN_PYTHON))),
        sys.version_info[:2] >= MIN_PYTHON, _("Python {version}").format(version=version),
        _("Install a newer Python and recreate the virtual environment (make install)."),
    ))
    data_dir = os.path.abspath(settings.data_dir)
    problem = _writable(data_dir)
    checks.append(Check(
        _("Data folder is writable"), problem is None, data_dir if problem is None else f"{data_dir}: {problem}",
        _("Create the folder and give the user running uxwizz write access "
          "(for example: chown -R www-data {path}).").format(path=data_dir),
    ))
    config_dir = settings.base_dir
    problem = _writable(config_dir)
    checks.append(Check(
        _("Config folder is writable"), problem is None,
        _("config.ini goes to {path}").format(path=os.path.abspath(settings.config_path))
        if problem is None else f"{config_dir}: {problem}",
        _("Give the user running uxwizz write access to {path}, or start with --config pointing "
          "to a writable place.").format(path=config_dir),
    ))
    has_pymysql = importlib.util.find_spec("pymysql") is not None
    checks.append(Check(
        _("PyMySQL driver (only for MySQL/MariaDB)"), has_pymysql,
        _("installed") if has_pymysql else _("missing"),
        _("Run: .venv/bin/pip install PyMySQL (SQLite works without it)."), blocking=False,
    ))
    return checks


def database_url_from_form(form: dict[str, str], settings: Settings) -> tuple[str, dict[str, str]]:
    """(database URL, {field: problem}); the URL is empty when there are problems."""
    errors: dict[str, str] = {}
    engine = form.get("engine", "sqlite")
    if engine == "sqlite":
        path = form.get("sqlite_path", "").strip()
        if not path:
            errors["sqlite_path"] = _("Enter a file path for the SQLite database.")
        elif len(path) > 1024 or "\x00" in path or "?" in path or "#" in path:
            errors["sqlite_path"] = _("Use a plain file path (no ? or # characters).")
        elif path.endswith(("/", os.sep)):
            errors["sqlite_path"] = _("The path names a folder; add a file name such as uxwizz.db.")
        return ("" if errors else f"sqlite:///{path}"), errors
    if engine != "mysql":
        return "", {"engine": _("Choose SQLite or MySQL/MariaDB.")}
    if importlib.util.find_spec("pymysql") is None:
        errors["engine"] = _("The PyMySQL driver is missing: run .venv/bin/pip install PyMySQL.")
    host = form.get("mysql_host", "").strip()
    if not host:
        errors["mysql_host"] = _("Enter the database server's host name or IP address.")
    elif not _HOST_RE.match(host):
        errors["mysql_host"] = _("Enter a host name or IP address only (no scheme, path or spaces).")
    port_text = form.get("mysql_port", "").strip() or "3306"
    port = parse_whole(port_text, 65535) or 0
    if not 1 <= port <= 65535:
        errors["mysql_port"] = _("The port must be a number from 1 to 65535.")
    user = form.get("mysql_user", "").strip()
    if not user:
        errors["mysql_user"] = _("Enter the database user name.")
    elif len(user) > 80 or any(ord(ch) < 32 for ch in user):
        errors["mysql_user"] = _("The user name is at most 80 printable characters.")
    password = form.get("mysql_password", "")
    if len(password) > 1024 or any(ord(ch) < 32 for ch in password):
        errors["mysql_password"] = _("The password is at most 1024 printable characters.")
    name = form.get("mysql_database", "").strip()
    if not _DB_NAME_RE.match(name):
        errors["mysql_database"] = _("The database name is 1-64 letters, digits, _, $ or -.")
    if errors:
        return "", errors
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    url = f"mysql://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/{quote(name, safe='')}"
    try:
        parse_url(url, settings.base_dir)
    except DatabaseURLError as exc:
        return "", {"engine": str(exc)}
    return url, {}


class Installer:
    """The installer's state and pages for one not-yet-installed server."""

    def __init__(self, settings: Settings, on_installed: Callable[[Settings], None]):
        self.settings = settings
        self.on_installed = on_installed
        self.templates = make_environment()
        self.trusted = parse_networks(settings["server.trusted_proxies"])
        self.drafts: OrderedDict[str, Draft] = OrderedDict()
        self.drafts_lock = threading.Lock()
        self.install_lock = threading.Lock()  # two browsers racing the last step: one installs
        self.installed = False

    # -- plumbing ---------------------------------------------------------------------------------

    def secure_cookies(self) -> bool:
        mode = self.settings["security.secure_cookies"]
        if mode == "auto":
            return is_https(bottle.request.environ, self.trusted)
        return mode == "always"

    def draft(self) -> Draft:
        """This browser's draft, started (with its cookie) on first use."""
        cached = bottle.request.environ.get("uxwizz.install_draft")
        if cached is not None:
            return cached
        token = bottle.request.get_cookie(DRAFT_COOKIE) or ""
        now = time.monotonic()
        with self.drafts_lock:
            for key in [k for k, d in self.drafts.items() if now - d.created > DRAFT_TTL_SECONDS]:
                del self.drafts[key]
            found = self.drafts.get(token)
            if found is not None:
                bottle.request.environ["uxwizz.install_draft"] = found
                return found
            while len(self.drafts) >= MAX_DRAFTS:
                self.drafts.popitem(last=False)
            token = secrets.token_urlsafe(32)
            found = self.drafts[token] = Draft()
        bottle.request.environ["uxwizz.install_draft"] = found
        bottle.response.set_cookie(DRAFT_COOKIE, token, path="/install", httponly=True, samesite="Strict",
                                   secure=self.secure_cookies())
        return found

    def render(self, template: str, step: str, status: int = 200, **values: Any) -> str:
        bottle.response.status = status
        bottle.response.set_header("Cache-Control", "no-store")
        bottle.response.set_cookie(PRELOGIN_CSRF_COOKIE, csrf_token(), path="/", httponly=True,
                                   samesite="Lax", secure=self.secure_cookies())
        labels = step_labels()
        current = STEP_KEYS.index(step)
        steps = [{"key": key, "label": labels[key], "state": "done" if i < current else
                  ("current" if i == current else "todo")} for i, key in enumerate(STEP_KEYS)]
        context: dict[str, Any] = {"user": None, "menu": [], "flash": None, "path": bottle.request.path,
                                   "csrf_token": csrf_token(), "steps": steps, "step": step}
        context.update(values)
        return self.templates.get_template(f"installer/{template}").render(**context)

    def require_csrf(self) -> None:
        """Refuse a POST without the double-submit token (cookie and form field must match)."""
        if not prelogin_csrf_ok():
            raise bottle.HTTPError(403, _("The form expired or came from another site. Reload the page and try again."))

    def first_missing(self, draft: Draft) -> str | None:
        """The URL of the first step not done yet, or None when all are."""
        if not all(check.ok for check in system_checks(self.settings) if check.blocking):
            return STEP_URLS["check"]
        if not draft.db_url:
            return STEP_URLS["database"]
        if not draft.admin_user:
            return STEP_URLS["admin"]
        if draft.site_domain is None:
            return STEP_URLS["site"]
        return None

    def gate(self, draft: Draft, step: str) -> None:
        """Send the browser back to the first unanswered step before `step`."""
        missing = self.first_missing(draft)
        order = list(STEP_URLS)
        if missing is not None:
            missing_key = next(k for k, url in STEP_URLS.items() if url == missing)
            if order.index(missing_key) < order.index(step):
                bottle.redirect(missing, 303)

    def base_url(self) -> str:
        configured = self.settings["server.base_url"]
        if configured:
            return configured.rstrip("/")
        environ = bottle.request.environ
        scheme = "https" if is_https(environ, self.trusted) else "http"
        host = environ.get("HTTP_HOST", "")
        if not _SAFE_HOST_HEADER.match(host):
            host = f"{environ.get('SERVER_NAME', '127.0.0.1')}:{environ.get('SERVER_PORT', '8080')}"
        return f"{scheme}://{host}"

    # -- steps ------------------------------------------------------------------------------------

    def check_page(self) -> str:
        self.draft()
        checks = system_checks(self.settings)
        blocked = any(not c.ok for c in checks if c.blocking)
        return self.render("check.html", "check", checks=checks, blocked=blocked)

    def database_page(self, form: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                      message: str = "", status: int = 200) -> str:
        draft = self.draft()
        default_path = os.path.join(self.settings["server.data_dir"], "uxwizz.db")
        values = {"engine": "sqlite", "sqlite_path": default_path, "mysql_host": "127.0.0.1",
                  "mysql_port": "3306", "mysql_user": "", "mysql_password": "", "mysql_database": "uxwizz"}
        values.update(draft.db_form)
        values.update(form or {})
        return self.render("database.html", "database", status, form=values, errors=errors or {},
                           message=message, base_dir=self.settings.base_dir)

    def database_submit(self) -> str:
        draft = self.draft()
        fields = ("engine", "sqlite_path", "mysql_host", "mysql_port", "mysql_user", "mysql_password",
                  "mysql_database")
        form = {name: (bottle.request.forms.getunicode(name) or "")[:2048] for name in fields}
        self.require_csrf()
        self.gate(draft, "database")
        url, errors = database_url_from_form(form, self.settings)
        if errors:
            return self.database_page(form, errors, _("Please correct the marked fields."), 422)
        reason = probe_database(url, self.settings.base_dir)
        if reason:
            return self.database_page(form, {"connection": reason}, status=422)
        if bottle.request.forms.get("action") == "test":
            return self.database_page(form, message=_("Connection works."))
        draft.db_form, draft.db_url = form, url
        return bottle.redirect(STEP_URLS["admin"], 303)

    def admin_page(self, username: str = "", errors: dict[str, str] | None = None, message: str = "",
                   status: int = 200) -> str:
        draft = self.draft()
        self.gate(draft, "admin")
        return self.render("admin.html", "admin", status, username=username or draft.admin_user or "admin",
                           errors=errors or {}, message=message)

    def admin_submit(self) -> str:
        draft = self.draft()
        username = (bottle.request.forms.getunicode("admin_user") or "").strip()[:200]
        password = bottle.request.forms.getunicode("admin_password") or ""
        again = bottle.request.forms.getunicode("admin_password2") or ""
        self.require_csrf()
        self.gate(draft, "admin")
        errors: dict[str, str] = {}
        try:
            username = accounts.validate_username(username)
        except accounts.AccountError as exc:
            errors["admin_user"] = str(exc)
        problem = password_problem(password)
        if problem:
            errors["admin_password"] = _(problem)
        elif password != again:
            errors["admin_password2"] = _("The two passwords differ.")
        if errors:
            return self.admin_page(username, errors, _("Please correct the marked fields."), 422)
        draft.admin_user, draft.admin_password = username, password
        return bottle.redirect(STEP_URLS["site"], 303)

    def site_page(self, domain: str | None = None, error: str = "", status: int = 200) -> str:
        draft = self.draft()
        self.gate(draft, "site")
        shown = domain if domain is not None else (draft.site_domain or "")
        return self.render("site.html", "site", status, domain=shown, error=error)

    def site_submit(self) -> str:
        draft = self.draft()
        raw = (bottle.request.forms.getunicode("site_domain") or "").strip()[:300]
        self.require_csrf()
        self.gate(draft, "site")
        domain = ""
        if raw:
            try:
                domain = sites.normalize_domain(raw)
            except sites.SiteError as exc:
                return self.site_page(raw, str(exc), 422)
        draft.site_domain = domain
        return bottle.redirect(STEP_URLS["run"], 303)

    def run_page(self, error: str = "", fix_url: str = "", status: int = 200) -> str:
        draft = self.draft()
        self.gate(draft, "run")
        database = parse_url(draft.db_url, self.settings.base_dir)
        return self.render("run.html", "run", status, database=database.redacted(), engine=database.engine,
                           admin_user=draft.admin_user, site_domain=draft.site_domain or "",
                           config_path=os.path.abspath(self.settings.config_path), error=error,
                           fix_url=fix_url)

    def run_submit(self) -> str:
        draft = self.draft()
        self.require_csrf()
        self.gate(draft, "run")
        with self.install_lock:
            if self.installed:  # the other browser won the race
                raise bottle.HTTPError(404, _("uxwizz is already installed."))
            request = InstallRequest(draft.db_url, draft.admin_user, draft.admin_password,
                                     draft.site_domain or "")
            done: list[str] = []
            try:
                new_settings = perform_install(self.settings, request, done.append)
            except InstallError as exc:
                fix = {"db_url": STEP_URLS["database"], "admin_user": STEP_URLS["admin"],
                       "admin_password": STEP_URLS["admin"], "site_domain": STEP_URLS["site"]}.get(exc.field, "")
                return self.run_page(str(exc), fix, 422)
            self.installed = True
            with self.drafts_lock:
                self.drafts.clear()
        restart_needed = False
        try:
            self.on_installed(new_settings)
        except Exception:  # config.ini is written: a restart picks it up
            log.exception("switching to the dashboard after install failed")
            restart_needed = True
        bottle.response.delete_cookie(DRAFT_COOKIE, path="/install")
        return self.render("done.html", "done", progress=done, admin_user=request.admin_user,
                           site_domain=request.site_domain, snippet=sites.snippet(self.base_url()),
                           restart_needed=restart_needed)


def build_installer(settings: Settings, on_installed: Callable[[Settings], None]) -> bottle.Bottle:
    """The installer app; once it has installed, every installer URL answers 404."""
    installer = Installer(settings, on_installed)
    app = bottle.Bottle(catchall=True)
    app.config["uxwizz.installer"] = installer

    @app.hook("before_request")
    def _locked_after_install() -> None:
        if installer.installed and bottle.request.path.startswith("/install"):
            raise bottle.HTTPError(404)

    @app.get("/static/<path:path>")
    def static(path: str) -> Any:
        return bottle.static_file(path, root=STATIC_DIR)

    app.get("/install")(installer.check_page)
    app.get("/install/database")(lambda: installer.database_page())
    app.post("/install/database")(installer.database_submit)
    app.get("/install/admin")(lambda: installer.admin_page())
    app.post("/install/admin")(installer.admin_submit)
    app.get("/install/site")(lambda: installer.site_page())
    app.post("/install/site")(installer.site_submit)
    app.get("/install/run")(lambda: installer.run_page())
    app.post("/install/run")(installer.run_submit)

    @app.route("/", method="ANY")
    @app.route("/<path:path>", method="ANY")
    def elsewhere(path: str = "") -> Any:
        if path == "install/":
            return bottle.redirect("/install", 302)
        if path.startswith("install/"):
            raise bottle.HTTPError(404)
        return bottle.redirect("/install", 302 if bottle.request.method in ("GET", "HEAD") else 303)

    def error_page(error: bottle.HTTPError) -> str:
        if error.status_code >= 500:
            log.error("installer error on %s %s: %s", bottle.request.method, bottle.request.path,
                      error.traceback or error.exception)
        bottle.response.content_type = "text/html; charset=utf-8"
        message = error.body if error.status_code < 500 and isinstance(error.body, str) and error.body else None
        return installer.templates.get_template("errors/error.html").render(status=error.status_code,
                                                                             message=message)

    for status in (400, 403, 404, 405, 413, 500):
        app.error(status)(error_page)
    return app
