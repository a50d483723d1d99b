"""404 pages: which missing pages visitors reach, from `UST.addEvent({category: "404", …})`.

A report page per site (/p/404_pages/sites/<id>, also a site tab), an index over every site the
user may see (/p/404_pages/, in the top menu) and a panel on the site overview.
"""

from __future__ import annotations

from typing import Any

from core.plugins.api import (
    MenuLink,
    Panel,
    Routes,
    Site,
    SiteNavLink,
    _,
    current_user,
    hookimpl,
    parse_query,
    render,
    site_query,
)

from . import queries

NAME = "404_pages"


@hookimpl
def uxwizz_routes(routes: Routes, ctx: Any) -> None:
    @routes.get("/", permission="view")
    def index() -> Any:
        from core import accounts

        rows = []
        for site in accounts.visible_sites(current_user()):
            query = parse_query(site.id, site.timezone or "UTC", {})
            rows.append({"site": site, **queries.not_found_totals(query)})
        return render(ctx, f"{NAME}/index.html", rows=rows)

    @routes.get("/sites/<site_id:int>", permission="view")
    def report(site_id: int) -> Any:
        site = Site.get_by_id(site_id)
        query = site_query(site)
        return render(ctx, f"{NAME}/report.html", site=site, query=query,
                      pages=queries.not_found_pages(query, limit=200), totals=queries.not_found_totals(query))


@hookimpl
def uxwizz_menu_links() -> list[MenuLink]:
    return [MenuLink(_("404 pages"), f"/p/{NAME}/", "view", 60)]


@hookimpl
def uxwizz_site_tabs() -> list[SiteNavLink]:
    return [SiteNavLink(_("404 pages"), f"/p/{NAME}/sites/{{site_id}}", "view", 70)]


@hookimpl
def uxwizz_panels() -> list[Panel]:
    def data(query: Any) -> dict[str, Any]:
        return {"pages": queries.not_found_pages(query, limit=5), "totals": queries.not_found_totals(query)}

    return [Panel(_("404 pages"), data, f"{NAME}/panel.html", key="top", order=50)]
