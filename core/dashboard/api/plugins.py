"""GET /api/v1/plugins: the Plugins settings page as JSON (admins): every plugin folder and built-in part."""

from __future__ import annotations

from typing import Any

import bottle

from core.context import AppContext
from core.dashboard.api.spec import api_spec
from core.dashboard.plugins_views import PERMISSION
from core.plugins.manager import SERVICE_KEY
from core.plugins.report import plugin_report
from core.plugins.types import STATES

_STRINGS = {"type": "array", "items": {"type": "string"}}
_LINK: dict[str, Any] = {
    "type": "object", "required": ["label", "href", "permission"], "additionalProperties": False,
    "properties": {"label": {"type": "string"}, "permission": {"type": "string"},
                   "href": {"type": "string", "description": "Site tabs: {site_id} stands for the site's id."}},
}
PLUGIN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "version", "description", "requires", "state", "reason", "enabled", "hooks",
                 "menu_links", "site_tabs", "routes"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "version": {"type": "string", "description": "From plugin.ini; empty when it could not be read."},
        "description": {"type": "string"},
        "requires": {"type": "string", "description": "Compatible uxwizz versions, e.g. >=0.1,<1."},
        "state": {"type": "string", "enum": list(STATES),
                  "description": "loaded (running), disabled (not in plugins.enabled), refused (bad manifest, "
                                 "incompatible version or import error), failed (raised while starting), "
                                 "missing (enabled, no folder), builtin (part of uxwizz)."},
        "reason": {"type": "string", "description": "Why it is not running (refused, failed, missing, disabled)."},
        "enabled": {"type": "boolean", "description": "Named in plugins.enabled."},
        "hooks": {"type": ["array", "null"], "items": {"type": "string"},
                  "description": "Hooks it implements; null when it was never imported."},
        "menu_links": {"type": "array", "items": _LINK},
        "site_tabs": {"type": "array", "items": _LINK},
        "routes": {"type": "array", "items": {
            "type": "object", "required": ["method", "path", "permission"], "additionalProperties": False,
            "properties": {"method": {"type": "string"}, "path": {"type": "string"},
                           "permission": {"type": "string"}}}},
    },
}


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    spec = api_spec(ctx)
    plugin_ref = spec.schema("Plugin", PLUGIN_SCHEMA)
    response = {
        "type": "object", "required": ["folder", "enabled", "plugins", "builtin"], "additionalProperties": False,
        "properties": {
            "folder": {"type": "string", "description": "plugins.path, where plugin folders are found."},
            "enabled": {**_STRINGS, "description": "plugins.enabled, in load order."},
            "plugins": {"type": "array", "items": plugin_ref, "description": "Plugin folders, by name."},
            "builtin": {"type": "array", "items": plugin_ref, "description": "uxwizz's own parts, in mount order."},
        },
    }

    @spec.route(app, "GET", "/api/v1/plugins", permission=PERMISSION, tag="plugins", response=response,
                summary="Plugins found, their state (and why one is not running), hooks, links and routes")
    def plugin_index() -> Any:
        return plugin_report(ctx.services[SERVICE_KEY])
