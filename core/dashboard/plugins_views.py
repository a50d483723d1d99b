"""`/settings/plugins`: every plugin folder with its version, range, state (and why it is not running),
hooks, menu links and routes; uxwizz's own built-in parts listed apart. Read-only: enabling a plugin
is a `plugins.enabled` change in the configuration, which takes a restart.
"""

from __future__ import annotations

from typing import Any

import bottle

from core.context import AppContext
from core.dashboard.render import render
from core.plugins.manager import SERVICE_KEY
from core.plugins.report import plugin_report

# Install-wide settings pages (sites, retention) need level 4 (admin): the same here.
PERMISSION = "manage_sites"


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    @app.get("/settings/plugins", permission=PERMISSION)
    def plugins_page() -> Any:
        # Read at request time: third-party plugins are mounted after this built-in part.
        report = plugin_report(ctx.services[SERVICE_KEY])
        return render(ctx, "dashboard/plugins.html", report=report, config_path=ctx.settings.config_path)
