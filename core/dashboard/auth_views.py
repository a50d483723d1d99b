"""Login and logout pages."""

from __future__ import annotations

from typing import Any

import bottle

from core import accounts
from core.context import AppContext
from core.dashboard.access import (
    SESSION_COOKIE,
    cookie_secure,
    prelogin_csrf_ok,
    set_prelogin_csrf_cookie,
)
from core.dashboard.render import render
from core.dashboard.throttle import LoginThrottle
from core.i18n import _
from core.web import client_ip


def safe_next(target: str | None) -> str:
    """Only same-site paths: `//evil.com` and `https://…` are open redirects."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    throttle = LoginThrottle(ctx.settings["security.login_max_failures"],
                             ctx.settings["security.login_lockout_seconds"])
    ctx.services["login_throttle"] = throttle

    def login_page(error: str | None = None, status: int = 200, username: str = "") -> Any:
        set_prelogin_csrf_cookie(ctx)
        bottle.response.status = status
        return render(ctx, "dashboard/login.html", error=error, username=username,
                      next=safe_next(bottle.request.query.get("next")))

    @app.get("/login", permission="public")
    def login_form() -> Any:
        return login_page()

    @app.post("/login", permission="public")
    def login_submit() -> Any:
        username = (bottle.request.forms.getunicode("username") or "").strip()[:64]
        password = bottle.request.forms.getunicode("password") or ""
        if not prelogin_csrf_ok():
            return login_page(_("The form expired. Please try again."), 403, username)
        ip = client_ip(bottle.request.environ, ctx.trusted_proxies)
        wait = throttle.retry_after(username, ip)
        if wait:
            bottle.response.set_header("Retry-After", str(wait))
            return login_page(_("Too many failed attempts. Try again in {n} seconds.").format(n=wait),
                              429, username)
        user = accounts.authenticate(username, password)
        if user is None:
            throttle.failed(username, ip)
            return login_page(_("Wrong user name or password."), 401, username)
        throttle.succeeded(username, ip)
        hours = ctx.settings["security.session_hours"]
        token, _session = accounts.start_login_session(user, hours)
        bottle.response.set_cookie(
            SESSION_COOKIE, token, path="/", httponly=True, samesite="Lax",
            secure=cookie_secure(ctx), max_age=hours * 3600,
        )
        return bottle.redirect(safe_next(bottle.request.forms.getunicode("next")), 303)

    @app.post("/logout", permission="login")
    def logout() -> Any:
        accounts.end_login_session(bottle.request.get_cookie(SESSION_COOKIE) or "")
        bottle.response.delete_cookie(SESSION_COOKIE, path="/")
        return bottle.redirect("/login", 303)
