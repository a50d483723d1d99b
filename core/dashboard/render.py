"""The one context builder for dashboard pages, plus flash messages carried in a signed cookie."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import bottle

from core.context import AppContext
from core.dashboard.access import cookie_secure, csrf_token, current_user_or_none

FLASH_COOKIE = "uxwizz_flash"


def _sign(ctx: AppContext, payload: str) -> str:
    key = ctx.settings["security.secret_key"].encode()
    return hmac.new(key, b"flash:" + payload.encode(), hashlib.sha256).hexdigest()[:32]


def flash(ctx: AppContext, message: str, kind: str = "info") -> None:
    payload = base64.urlsafe_b64encode(json.dumps([kind, message[:500]]).encode()).decode()
    bottle.response.set_cookie(
        FLASH_COOKIE, f"{payload}.{_sign(ctx, payload)}", path="/", httponly=True, samesite="Lax",
        secure=cookie_secure(ctx), max_age=60,
    )


def _take_flash(ctx: AppContext) -> dict[str, str] | None:
    raw = bottle.request.get_cookie(FLASH_COOKIE)
    if not raw:
        return None
    bottle.response.delete_cookie(FLASH_COOKIE, path="/")
    payload, _sep, signature = raw.rpartition(".")
    if not payload or not hmac.compare_digest(signature, _sign(ctx, payload)):
        return None
    try:
        kind, message = json.loads(base64.urlsafe_b64decode(payload.encode()))
    except ValueError:
        return None
    return {"kind": str(kind), "message": str(message)}


def render(ctx: AppContext, template: str, **values: Any) -> str:
    """Render a dashboard template with what every page needs: user, CSRF token, menu, flash."""
    user = current_user_or_none()
    menu = ctx.services.get("menu")
    context: dict[str, Any] = {
        "user": user,
        "csrf_token": csrf_token(),
        "path": bottle.request.path,
        "menu": menu(user) if (menu and user) else [],
        "flash": _take_flash(ctx),
    }
    context.update(values)
    site = values.get("site")
    if user is not None and site is not None and "site_nav" not in values:
        from core.dashboard.menu import site_nav_for

        context["site_nav"] = site_nav_for(ctx.services.get("site_nav", []), user, site.id)
    return ctx.templates.get_template(template).render(**context)
