"""`/sites/<id>` (leads to the statistics overview) and the tracking code page `/sites/<id>/snippet`."""

from __future__ import annotations

from typing import Any

import bottle

from core import __version__, sites
from core.context import AppContext
from core.dashboard.base_url import base_url
from core.dashboard.menu import SiteNavLink
from core.dashboard.render import render
from core.i18n import _
from core.models import Site


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    ctx.services.setdefault("site_nav", []).append(SiteNavLink(_("Tracking code"), "snippet", "view", 90))

    @app.get("/sites/<site_id:int>", permission="view")
    def site_home(site_id: int) -> Any:
        return bottle.redirect(f"/sites/{site_id}/overview")  # the statistics overview (stats_views)

    @app.get("/sites/<site_id:int>/snippet", permission="view")
    def site_snippet(site_id: int) -> Any:
        site = Site.get_by_id(site_id)
        base = base_url(ctx)
        return render(
            ctx, "dashboard/site_snippet.html", site=site, base_url=base,
            snippet=sites.snippet(base), recording_snippet=sites.snippet(base, recording=True),
            full_page=sites.tracking_settings(site)["full_page_recording"],
            nextjs=nextjs_snippet(base),
        )


def nextjs_snippet(base: str) -> str:
    """The same stub for Next.js, with next/script (the App Router's root layout or _app)."""
    return (
        'import Script from "next/script";\n\n'
        "// inside <body> of app/layout.tsx (or in pages/_app.tsx)\n"
        '<Script id="uxwizz-stub" strategy="afterInteractive">\n'
        "  {`UST_CT = []; UST = { s: Date.now(), addTag: function(tag) { UST_CT.push(tag) } };"
        " UST.addEvent = UST.addTag;`}\n"
        "</Script>\n"
        f'<Script src="{base.rstrip("/")}/server/ust.min.js?v={__version__}" strategy="afterInteractive" />'
    )
