"""REST API under /api/v1: one module per resource, each adding its routes to the shared table."""

from __future__ import annotations

import bottle

from core.context import AppContext


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    from core.dashboard.api import abtests, goals, heatmaps, me, openapi, plugins, recordings, sites, users
    from core.dashboard.api.spec import api_spec

    api_spec(ctx)  # created before any resource adds to it
    for module in (openapi, me, sites, users, plugins, recordings, heatmaps, goals, abtests):
        module.register(app, ctx)
    from core.dashboard.api import sessions as api_sessions
    from core.dashboard.api import stats as api_stats
    api_stats.register(app, ctx)
    api_sessions.register(app, ctx)
