"""uxwizz's own parts as built-in plugins: they register through the hooks third parties use.

Each built-in module keeps its `register(app, ctx)`; the wrapper here hands it the root app
through `uxwizz_routes` (built-ins own root paths, plugins get `/p/<name>/`). The top menu's
built-in links and the `plugins` command arrive the same way.
"""

from __future__ import annotations

import importlib
from typing import Any

from core.plugins import hookimpl

# Mounted in this order, before the dashboard; the scheduler stays outside (core/app.py), last.
CORE_MODULES = ("core.health", "core.tracker_assets", "core.ab_script", "core.ingest", "core.recordings")


class ModulePlugin:
    """A built-in module mounted through `uxwizz_routes` (its routes, site tabs and jobs)."""

    def __init__(self, module: str):
        self.module = module

    @hookimpl
    def uxwizz_routes(self, routes: Any, ctx: Any) -> None:
        importlib.import_module(self.module).register(routes.app, ctx)


class MenuPlugin:
    """The built-in top-menu links (Sites, Users, API tokens, …)."""

    @hookimpl
    def uxwizz_menu_links(self) -> list[Any]:
        from core.dashboard.menu import BUILTIN_LINKS

        return list(BUILTIN_LINKS)


class CliPlugin:
    """The `plugins list` command."""

    @hookimpl
    def uxwizz_cli_commands(self, subparsers: Any, common: Any) -> None:
        from core.plugins.cli import add_plugins_command

        add_plugins_command(subparsers, common)


def builtin_plugins() -> list[tuple[str, object]]:
    """(name, plugin) for every built-in part, in mounting order."""
    from core import dashboard

    plugins: list[tuple[str, object]] = [
        (f"builtin.{path.rsplit('.', 1)[1]}", ModulePlugin(path)) for path in CORE_MODULES
    ]
    plugins += [(f"builtin.dashboard.{path.rsplit('.', 1)[1]}", ModulePlugin(path)) for path in dashboard.MODULES]
    plugins += [("builtin.menu", MenuPlugin()), ("builtin.cli", CliPlugin())]
    return plugins
