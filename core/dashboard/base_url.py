"""The public base URL of this server: `server.base_url` if set, else scheme and host of the request."""

from __future__ import annotations

import bottle

from core.context import AppContext
from core.web import is_https


def base_url(ctx: AppContext) -> str:
    configured = (ctx.settings["server.base_url"] or "").strip()
    if configured:
        return configured.rstrip("/")
    environ = bottle.request.environ
    scheme = "https" if is_https(environ, ctx.trusted_proxies) else "http"
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
    return f"{scheme}://{host}"
