"""The app factory: `create_app(settings)` builds and owns everything one running server needs.

Before installation it serves only the web installer; the moment the installer finishes, the
same process swaps in the full app (no restart).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

import bottle

from core import migrations
from core.config import Settings
from core.context import AppContext
from core.db import open_database
from core.i18n import _
from core.templating import STATIC_DIR, make_environment
from core.web import json_response, parse_networks, security_headers

log = logging.getLogger("uxwizz")


class PendingMigrations(RuntimeError):
    """The database schema is behind the code; `migrate up` or `--automigrate` fixes it."""


class UxwizzApp:
    """The root WSGI callable. Dispatches to the installer or the main app, with security headers."""

    def __init__(self, settings: Settings, *, automigrate: bool = False):
        self.settings = settings
        self.automigrate = automigrate
        self.ctx: AppContext | None = None
        self._lock = threading.Lock()
        self._wsgi: Callable[..., Any]
        if settings.installed:
            self._wsgi = self._build_main(settings)
        else:
            from installer.app import build_installer

            self._wsgi = build_installer(settings, on_installed=self._installed)
        self._started = False

    @property
    def installed(self) -> bool:
        return self.ctx is not None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        ctx = self.ctx
        if ctx is not None:
            fast = ctx.fast_paths.get(environ.get("PATH_INFO", ""))
            if fast is not None:
                return fast(environ, start_response)
        return security_headers(self._wsgi)(environ, start_response)

    # -- lifecycle ------------------------------------------------------------------------------

    def fork_workers(self) -> None:
        """Serve, before the listening socket and any thread exist: fork helper processes."""
        if self.ctx is None:
            return
        for forker in self.ctx.services.get("forkers", []):
            forker()

    def start_background(self) -> None:
        """Start scheduled jobs and background writers (serve does this; tests call what they need)."""
        if self.ctx is None or self._started:
            return
        for starter in self.ctx.services.get("starters", []):
            starter()
        self._started = True

    def shutdown(self) -> None:
        if self.ctx is None:
            return
        for hook in reversed(self.ctx.shutdown_hooks):
            try:
                hook()
            except Exception:  # one failing hook must not stop the rest (the flusher must run)
                log.exception("shutdown hook failed")
        self.ctx.database.close()

    def _installed(self, settings: Settings) -> None:
        """Called by the installer once config.ini is written: switch to the full app."""
        with self._lock:
            self.settings = settings
            self._wsgi = self._build_main(settings)
            self.start_background()

    # -- building -------------------------------------------------------------------------------

    def _build_main(self, settings: Settings) -> bottle.Bottle:
        database = open_database(settings["database.url"], settings.base_dir)
        todo = migrations.pending(database.db)
        if todo and not self.automigrate:
            database.close()
            raise PendingMigrations(
                _("{n} database migration(s) pending ({names}); run `python uxwizz.py migrate up` "
                  "or start with --automigrate").format(n=len(todo), names=", ".join(todo))
            )
        if todo:
            migrations.migrate_up(database.db)
        ctx = AppContext(
            settings=settings,
            database=database,
            templates=make_environment(),
            trusted_proxies=parse_networks(settings["server.trusted_proxies"]),
        )
        app = build_bottle(ctx)
        self.ctx = ctx
        return app


def build_bottle(ctx: AppContext) -> bottle.Bottle:
    from core import scheduler
    from core.dashboard.access import AccessPlugin
    from core.plugins.manager import plugin_manager

    app = bottle.Bottle(catchall=True)
    # `<x:int>` matches only ids a BIGINT can hold: 20-digit ids would overflow SQLite (a 500).
    app.router.add_filter("int", lambda _conf: (r"\d{1,18}", int, lambda x: str(int(x))))
    app.config["uxwizz.ctx"] = ctx
    app.install(AccessPlugin(ctx))
    _install_db_connection_handling(app, ctx)
    _install_error_pages(app, ctx)

    @app.get("/static/<path:path>", permission="public")
    def static(path: str) -> Any:
        response = bottle.static_file(path, root=STATIC_DIR)
        response.set_header("Cache-Control", "public, max-age=3600")
        return response

    # Built-in parts (core/plugins/builtin.py) and the enabled plugins, all through the plugin
    # hooks; the scheduler comes last so it stops first on shutdown.
    plugin_manager(ctx.settings).mount(app, ctx)
    scheduler.register(app, ctx)
    return app


def _install_db_connection_handling(app: bottle.Bottle, ctx: AppContext) -> None:
    db = ctx.database.db

    @app.hook("before_request")
    def _connect() -> None:
        db.connect(reuse_if_open=True)

    @app.hook("after_request")
    def _release() -> None:
        # Pooled MySQL: return the connection to the pool. SQLite: keep the thread's connection.
        if hasattr(db, "close_all") and not db.is_closed():
            db.close()


def _install_error_pages(app: bottle.Bottle, ctx: AppContext) -> None:
    def handler(error: bottle.HTTPError) -> Any:
        if bottle.request.path.startswith("/api/"):
            code = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
                    405: "method_not_allowed", 413: "too_large", 422: "invalid"}.get(
                error.status_code, "error")
            detail = error.body if isinstance(error.body, str) and error.status_code < 500 else _(
                "Internal error; it has been logged.")
            response = json_response({"error": code, "detail": detail}, error.status_code)
            bottle.response.content_type = "application/json"
            return response.body
        if error.status_code >= 500:
            log.error("unhandled error on %s %s: %s", bottle.request.method, bottle.request.path,
                      error.traceback or error.exception)
        bottle.response.content_type = "text/html; charset=utf-8"
        return ctx.templates.get_template("errors/error.html").render(
            status=error.status_code,
            message=error.body if error.status_code < 500 and isinstance(error.body, str) else None,
        )

    for status in (400, 401, 403, 404, 405, 413, 422, 429, 500):
        app.error(status)(handler)


def create_app(settings: Settings, *, automigrate: bool = False) -> UxwizzApp:
    os.makedirs(settings.data_dir, exist_ok=True)
    return UxwizzApp(settings, automigrate=automigrate)
