"""The route helper a plugin's `uxwizz_routes` hook receives: Bottle-style decorators, prefixed.

Routes are collected first and mounted on the one root app only when the whole hook succeeded,
so a plugin that fails half-way leaves nothing behind. Mounting on the root app (not a mounted
sub-app) is what makes the access plugin check every plugin route like a built-in one.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import bottle

from core.i18n import _
from core.permissions import PERMISSIONS
from core.web import ApiError

log = logging.getLogger("uxwizz.plugins")
SPECIAL_PERMISSIONS = ("public", "login")
Handler = Callable[..., Any]


@dataclass
class _Pending:
    path: str
    method: str
    callback: Handler
    permission: str
    name: str | None
    config: dict[str, Any] = field(default_factory=dict)


class Routes:
    """`routes.get("/report", permission="view")` etc.; paths are relative to `prefix`."""

    def __init__(self, app: bottle.Bottle, plugin: str, prefix: str, *, isolate: bool = True):
        self.app = app  # the root app; built-in plugins (prefix "") hand it to register(app, ctx)
        self.plugin = plugin
        self.prefix = prefix.rstrip("/")
        self.isolate = isolate
        self._pending: list[_Pending] = []

    def url(self, path: str = "/") -> str:
        """The absolute path of one of this plugin's routes, for links and redirects."""
        return self.prefix + path

    def route(self, path: str, method: str | list[str] = "GET", callback: Handler | None = None, *,
              permission: str | None = None, name: str | None = None, **config: Any) -> Any:
        if not path.startswith("/"):
            raise ValueError(f"plugin {self.plugin}: route path {path!r} must start with /")
        if permission is None:
            raise ValueError(f"plugin {self.plugin}: route {path} declares no permission=")
        if permission not in PERMISSIONS and permission not in SPECIAL_PERMISSIONS:
            raise ValueError(f"plugin {self.plugin}: route {path} has unknown permission {permission!r}")
        methods = [method] if isinstance(method, str) else list(method)

        def decorate(func: Handler) -> Handler:
            for one in methods:
                self._pending.append(_Pending(path, one.upper(), func, permission, name, config))
            return func

        return decorate(callback) if callback is not None else decorate

    def get(self, path: str, callback: Handler | None = None, **options: Any) -> Any:
        return self.route(path, "GET", callback, **options)

    def post(self, path: str, callback: Handler | None = None, **options: Any) -> Any:
        return self.route(path, "POST", callback, **options)

    def put(self, path: str, callback: Handler | None = None, **options: Any) -> Any:
        return self.route(path, "PUT", callback, **options)

    def patch(self, path: str, callback: Handler | None = None, **options: Any) -> Any:
        return self.route(path, "PATCH", callback, **options)

    def delete(self, path: str, callback: Handler | None = None, **options: Any) -> Any:
        return self.route(path, "DELETE", callback, **options)

    @property
    def pending(self) -> list[tuple[str, str]]:
        return [(p.method, self.prefix + p.path) for p in self._pending]

    def mount(self) -> None:
        """Add the collected routes to the root app (called by the manager once the hook succeeded)."""
        for item in self._pending:
            callback = _isolated(self.plugin, item.callback) if self.isolate else item.callback
            self.app.route(self.prefix + item.path, item.method, callback, name=item.name,
                           permission=item.permission, plugin=self.plugin, **item.config)
        self._pending.clear()


def _isolated(plugin: str, func: Handler) -> Handler:
    """A plugin route that raises answers 500 for that request only, logged with the plugin name."""

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (bottle.HTTPResponse, ApiError):  # redirects, aborts and API errors are answers
            raise
        except Exception as exc:
            log.exception("plugin %s: %s %s failed", plugin, bottle.request.method, bottle.request.path)
            raise bottle.HTTPError(500, _("This plugin page failed; the error has been logged."),
                                   exception=exc) from None

    return guarded
