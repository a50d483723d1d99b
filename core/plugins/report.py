"""What the plugin manager found and mounted, as plain data: the Plugins page and GET /api/v1/plugins.

Read-only: it describes the running app (a change to `plugins.enabled` takes a restart). Plugins that
were never imported (not enabled, refused before import) have no known hooks: `hooks` is None.
"""

from __future__ import annotations

import sys
from typing import Any

from core.plugins.manager import PluginManager
from core.plugins.types import PluginInfo


def implemented_hooks(manager: PluginManager, info: PluginInfo) -> list[str] | None:
    """The hook names the plugin's module (or built-in object) implements; None if never imported."""
    target = info.module
    if target is None:
        return None
    return sorted(name for name in dir(target)
                  if name.startswith("uxwizz_") and manager.pm.parse_hookimpl_opts(target, name) is not None)


def _description(info: PluginInfo) -> str:
    # A built-in module plugin's own docstring says less than the module it mounts.
    module = sys.modules.get(getattr(info.module, "module", None) or "") if info.builtin else None
    if module is not None and module.__doc__:
        return " ".join(module.__doc__.strip().split("\n\n")[0].split())  # its first paragraph
    return info.description


def _tab_href(suffix: str) -> str:
    return suffix if suffix.startswith("/") else f"/sites/{{site_id}}/{suffix}".rstrip("/")


def describe(manager: PluginManager, info: PluginInfo, enabled: list[str]) -> dict[str, Any]:
    return {
        "name": info.name,
        "version": info.version,
        "description": _description(info),
        "requires": info.requires,
        "state": info.state,
        "reason": info.reason,
        "enabled": info.name in enabled,
        "hooks": implemented_hooks(manager, info),
        "menu_links": [{"label": str(link.label), "href": link.href, "permission": link.permission}
                       for link in info.menu_links],
        "site_tabs": [{"label": str(tab.label), "href": _tab_href(tab.suffix), "permission": tab.permission}
                      for tab in info.site_tabs],
        "routes": [{"method": method, "path": rule, "permission": permission}
                   for method, rule, permission in info.routes],
    }


def plugin_report(manager: PluginManager) -> dict[str, Any]:
    """Every plugin folder (and enabled name without one), by name; the built-in parts apart, in mount order."""
    enabled = list(manager.settings["plugins.enabled"]) if manager.settings is not None else []
    infos = list(manager.infos.values())
    return {
        "folder": manager.folder or "",
        "enabled": enabled,
        "plugins": [describe(manager, info, enabled) for info in sorted(infos, key=lambda i: i.name)
                    if not info.builtin],
        "builtin": [describe(manager, info, enabled) for info in infos if info.builtin],
    }
