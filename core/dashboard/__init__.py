"""The dashboard (read side, HTTP-facing): auth, pages and the JSON API.

Each module below is mounted as a built-in plugin (core/plugins/builtin.py), through the same
hooks a third-party plugin uses: a new page module gets one line in MODULES, in mounting order
(its `register(app, ctx)` adds routes, site tabs and jobs as before).
"""

from __future__ import annotations

MODULES = (
    "core.dashboard.auth_views",
    "core.dashboard.home",
    "core.dashboard.site_page",
    "core.dashboard.sites_views",
    "core.dashboard.users_views",
    "core.dashboard.tokens_views",
    "core.dashboard.plugins_views",
    "core.dashboard.recording_views",
    "core.dashboard.heatmap_views",
    "core.dashboard.retention_views",
    "core.dashboard.stats_views",
    "core.dashboard.sessions_views",
    "core.dashboard.reports_views",
    "core.dashboard.goals_views",
    "core.dashboard.abtest_views",
    "core.dashboard.api",
)
