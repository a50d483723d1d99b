"""The dashboard (read side, HTTP-facing): auth, pages and the JSON API."""

from __future__ import annotations

import bottle

from core.context import AppContext


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    from core.dashboard import auth_views, home, site_page, sites_views, tokens_views, users_views
    from core.dashboard.api import register as register_api
    from core.dashboard.menu import build_menu

    ctx.services["menu"] = build_menu(ctx.services.get("extra_menu_links", []))
    for module in (auth_views, home, site_page, sites_views, users_views, tokens_views):
        module.register(app, ctx)
    from core.dashboard.recording_views import register as register_recordings
    register_recordings(app, ctx)
    from core.dashboard import heatmap_views, retention_views
    heatmap_views.register(app, ctx)
    retention_views.register(app, ctx)
    from core.dashboard import reports_views, sessions_views, stats_views
    stats_views.register(app, ctx)
    sessions_views.register(app, ctx)
    reports_views.register(app, ctx)
    from core.dashboard import abtest_views, goals_views
    goals_views.register(app, ctx)
    abtest_views.register(app, ctx)
    register_api(app, ctx)
