"""Authentication and access checks for every dashboard and API route, as one Bottle plugin.

Each route declares `permission=` (a key of core.permissions.PERMISSIONS, or "public"/"login");
a route without one makes the app refuse to build. Site-scoped routes (a `site_id` URL
argument) also require access to that site. Cookie-authenticated state changes need the CSRF
token; bearer-token requests don't (no ambient credential to ride on).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import bottle

from core import accounts
from core.context import AppContext
from core.i18n import _
from core.models import User
from core.permissions import PERMISSIONS, allows
from core.web import ApiError, is_https, json_error

SESSION_COOKIE = "uxwizz_session"
PRELOGIN_CSRF_COOKIE = "uxwizz_csrf"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
SPECIAL = {"public", "login"}


def current_user() -> User:
    return bottle.request.environ["uxwizz.user"]


def current_user_or_none() -> User | None:
    return bottle.request.environ.get("uxwizz.user")


def csrf_token() -> str:
    """The token to embed in forms: the login session's, or a pre-login double-submit token."""
    session = bottle.request.environ.get("uxwizz.login_session")
    if session is not None:
        return session.csrf_token
    token = bottle.request.environ.get("uxwizz.prelogin_csrf")
    if token is None:
        token = bottle.request.get_cookie(PRELOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
        bottle.request.environ["uxwizz.prelogin_csrf"] = token
    return token


def set_prelogin_csrf_cookie(ctx: AppContext) -> None:
    bottle.response.set_cookie(
        PRELOGIN_CSRF_COOKIE, csrf_token(), path="/", httponly=True, samesite="Lax",
        secure=cookie_secure(ctx),
    )


def submitted_csrf() -> str:
    return bottle.request.headers.get("X-CSRF-Token") or bottle.request.forms.get("csrf_token") or ""


def prelogin_csrf_ok() -> bool:
    cookie = bottle.request.get_cookie(PRELOGIN_CSRF_COOKIE) or ""
    sent = submitted_csrf()
    return bool(cookie) and hmac.compare_digest(cookie, sent)


def cookie_secure(ctx: AppContext) -> bool:
    mode = ctx.settings["security.secure_cookies"]
    if mode == "auto":
        return is_https(bottle.request.environ, ctx.trusted_proxies)
    return mode == "always"


def wants_json(route: bottle.Route) -> bool:
    return bool(route.config.get("api")) or route.rule.startswith("/api/")


def authenticate_request(ctx: AppContext) -> tuple[User | None, str]:
    """(user, how): how is "bearer", "cookie" or "" when nobody is logged in."""
    header = bottle.request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return accounts.user_for_api_token(header[7:].strip()), "bearer"
    token = bottle.request.get_cookie(SESSION_COOKIE)
    if token:
        session = accounts.find_login_session(token)
        if session is not None:
            bottle.request.environ["uxwizz.login_session"] = session
            return session.user, "cookie"
    return None, ""


class AccessPlugin:
    name = "uxwizz_access"
    api = 2

    def __init__(self, ctx: AppContext):
        self.ctx = ctx

    def apply(self, callback: Callable[..., Any], route: bottle.Route) -> Callable[..., Any]:
        permission = route.config.get("permission")
        if permission is None:
            raise RuntimeError(f"route {route.method} {route.rule} declares no permission")
        if permission not in PERMISSIONS and permission not in SPECIAL:
            raise RuntimeError(f"route {route.method} {route.rule}: unknown permission {permission!r}")
        as_json = wants_json(route)
        ctx = self.ctx

        def deny(status: int, code: str, detail: str) -> Any:
            if as_json:
                return json_error(status, code, detail)
            if status == 401:
                target = quote(bottle.request.fullpath + ("?" + bottle.request.query_string
                                                          if bottle.request.query_string else ""))
                return bottle.redirect(f"/login?next={target}")
            return bottle.HTTPError(status, detail)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                if permission == "public":
                    return callback(*args, **kwargs)
                user, how = authenticate_request(ctx)
                if user is None:
                    if how == "bearer":
                        return deny(401, "invalid_token", _("The API token is invalid or revoked."))
                    return deny(401, "unauthenticated", _("Log in to continue."))
                bottle.request.environ["uxwizz.user"] = user
                if bottle.request.method not in SAFE_METHODS and how == "cookie":
                    session = bottle.request.environ["uxwizz.login_session"]
                    if not hmac.compare_digest(session.csrf_token, submitted_csrf()):
                        return deny(403, "csrf", _("The form expired or came from another site. Reload the page and try again."))
                if permission != "login" and not allows(user.level, permission):
                    return deny(403, "forbidden", _("Your access level does not allow this."))
                site_id = kwargs.get("site_id")
                if site_id is not None and not accounts.can_see_site(user, int(site_id)):
                    return deny(404, "not_found", _("No such site."))
                return callback(*args, **kwargs)
            except ApiError as exc:
                if as_json:
                    return json_error(exc.status, exc.code, exc.detail)
                return bottle.HTTPError(exc.status, exc.detail)

        return wrapper
