"""Rendering plugin panels on a site page, each isolated: one failing panel shows an error box.

The overview view calls `render_panels(ctx, query, site)` and passes the result as `panels` to
its template, which includes `partials/_panels.html`.
"""

from __future__ import annotations

import logging
from typing import Any

from markupsafe import Markup

from core.context import AppContext
from core.i18n import _
from core.permissions import allows
from core.plugins.types import RegisteredPanel, RenderedPanel

log = logging.getLogger("uxwizz.plugins")
PANELS_KEY = "panels"  # ctx.services[PANELS_KEY]: list[RegisteredPanel], in display order


def registered_panels(ctx: AppContext) -> list[RegisteredPanel]:
    return ctx.services.get(PANELS_KEY, [])


def render_panels(ctx: AppContext, query: Any, site: Any, user: Any = None) -> list[RenderedPanel]:
    """Every panel the user may see, rendered for this query; errors are contained per panel.

    `user` defaults to the logged-in user of the current request.
    """
    if user is None:
        from core.dashboard.access import current_user_or_none

        user = current_user_or_none()
    out = []
    for entry in registered_panels(ctx):
        panel = entry.panel
        if user is None or not allows(user.level, panel.permission):
            continue
        try:
            data = panel.data(query)
            html = ctx.templates.get_template(panel.template).render(
                panel=panel, data=data, query=query, site=site, user=user,
            )
        except Exception:
            log.exception("plugin %s: panel %r failed for site %s", entry.plugin, panel.title,
                          getattr(site, "id", site))
            out.append(RenderedPanel(entry.id, entry.plugin, panel.title,
                                     error=_("This panel could not be shown; the error has been logged.")))
            continue
        # Rendered by the autoescaping environment, so the HTML is already safe to embed.
        out.append(RenderedPanel(entry.id, entry.plugin, panel.title, html=Markup(html)))
    return out
