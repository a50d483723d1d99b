"""The site overview page (numbers vs the previous period, time-series chart, breakdown tables),
full breakdown pages, and their CSV exports. Registers the site tabs and the rollups job.
"""

from __future__ import annotations

import json
from typing import Any

import bottle

from core.context import AppContext
from core.dashboard.menu import SiteNavLink
from core.dashboard.render import render
from core.dashboard.stats_common import csv_response, helpers, invalid_query_page, site_query
from core.i18n import _
from core.models import Site
from core.numbers import parse_whole
from core.plugins.panels import render_panels
from core.queries import rollups, stats

OVERVIEW_TABLES = (
    ("page", _("Top pages")), ("entry", _("Entry pages")), ("exit", _("Exit pages")),
    ("referrer_domain", _("Referrers")), ("utm_source", _("UTM sources")), ("utm_campaign", _("UTM campaigns")),
    ("country", _("Countries")), ("city", _("Cities")), ("browser", _("Browsers")), ("os", _("Operating systems")),
    ("device", _("Devices")), ("screen", _("Screen sizes")), ("language", _("Languages")),
)
DIMENSION_LABELS = {
    "country": _("Country"), "city": _("City"), "browser": _("Browser"), "os": _("Operating system"),
    "device": _("Device"), "screen": _("Screen size"), "language": _("Language"), "referrer_domain": _("Referrer"),
    "referrer": _("Referrer URL"), "utm_source": _("UTM source"), "utm_medium": _("UTM medium"),
    "utm_campaign": _("UTM campaign"), "entry": _("Entry page"), "page": _("Page"), "exit": _("Exit page"),
}
# Clicking a breakdown row narrows the segment with this filter (None: not filterable).
DIMENSION_FILTER = {"country": "country", "browser": "browser", "os": "os", "device": "device",
                    "language": "language", "referrer_domain": "referrer", "utm_source": "utm_source",
                    "utm_medium": "utm_medium", "utm_campaign": "utm_campaign", "page": "page", "entry": "entry",
                    "exit": "page", "city": None, "screen": None, "referrer": "referrer"}
METRIC_LABELS = {"visitors": _("Visitors"), "sessions": _("Sessions"), "pageviews": _("Pageviews"),
                 "bounce_rate": _("Bounce rate"), "avg_duration": _("Avg. session length"),
                 "pages_per_session": _("Pages per session")}
UNIT_LABELS = {"hour": _("Hourly"), "day": _("Daily"), "week": _("Weekly"), "month": _("Monthly"),
               "year": _("Yearly")}
PAGE_SIZE = 50


def register_site_tabs(ctx: AppContext) -> None:
    nav = ctx.services.setdefault("site_nav", [])
    for link in (SiteNavLink(_("Overview"), "overview", "view", 10), SiteNavLink(_("Sessions"), "sessions", "view", 20),
                 SiteNavLink(_("Events"), "events", "view", 40), SiteNavLink(_("Tags"), "tags", "view", 50),
                 SiteNavLink(_("Segments"), "segments", "view", 60)):
        if all(existing.suffix != link.suffix for existing in nav):
            nav.append(link)


def dimension_display(dimension: str, value: str) -> str:
    if value == "":
        if dimension in ("utm_source", "utm_medium", "utm_campaign"):
            return _("(none)")
        return {"referrer_domain": _("(direct)"), "referrer": _("(direct)")}.get(dimension, _("(unknown)"))
    if dimension == "city":
        country, _sep, city = value.partition("|")
        return f"{city}, {country}" if country else city
    return value


def filter_value(dimension: str, value: str) -> str | None:
    if DIMENSION_FILTER.get(dimension) is None:
        return None
    if dimension in ("referrer_domain", "referrer") and value == "":
        return "direct"
    if dimension == "country" and value == "":
        return "--"
    if value == "" or "," in value:
        return None  # the filter syntax cannot express it
    return value


def chart_json(series: dict[str, Any], metric: str) -> str:
    """The chart's data for static/js/dashboard-charts.js (sent in a data- attribute, escaped by Jinja)."""
    metric = metric if metric in ("visitors", "sessions", "pageviews", "bounce_rate") else "visitors"
    return json.dumps({
        "type": "line",
        "labels": [p["bucket"] for p in series["points"]],
        "datasets": [{"label": str(METRIC_LABELS[metric]), "data": [p[metric] for p in series["points"]]}],
    })


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    register_site_tabs(ctx)
    rollups.register_jobs(ctx)
    database = ctx.database

    @app.get("/sites/<site_id:int>/overview", permission="view")
    def overview(site_id: int) -> Any:
        site = Site.get_by_id(site_id)
        q, field, message = site_query(site)
        if q is None:
            raise invalid_query_page(field or "", message or "")
        unit = bottle.request.query.get("unit") or stats.default_unit(q)
        if unit not in stats.UNITS:
            raise invalid_query_page("unit", _("unit must be one of {units}").format(units=", ".join(stats.UNITS)))
        metric = bottle.request.query.get("metric") or "visitors"
        series = stats.timeseries(database, q, unit)
        tables = [{"dimension": dim, "title": title, "data": stats.breakdown(database, q, dim, limit=8)}
                  for dim, title in OVERVIEW_TABLES]
        return render(
            ctx, "dashboard/site/overview.html", **helpers(site, q, "overview"),
            summary=stats.overview(database, q), series=series, unit=unit, metric=metric,
            chart=chart_json(series, metric), tables=tables, online=stats.online_now(database, site.id),
            metric_labels=METRIC_LABELS, unit_labels=UNIT_LABELS, dimension_display=dimension_display,
            filter_value=filter_value, dimension_filter=DIMENSION_FILTER,
            panels=render_panels(ctx, q, site),
        )

    @app.get("/sites/<site_id:int>/breakdown/<dimension>", permission="view")
    def breakdown_page(site_id: int, dimension: str) -> Any:
        site = Site.get_by_id(site_id)
        if dimension not in stats.DIMENSIONS:
            raise bottle.HTTPError(404, _("No such breakdown."))
        q, field, message = site_query(site)
        if q is None:
            raise invalid_query_page(field or "", message or "")
        offset = _int_param("offset", 0)
        sort = bottle.request.query.get("sort") or "sessions"
        data = stats.breakdown(database, q, dimension, limit=PAGE_SIZE, offset=offset, sort=sort)
        return render(
            ctx, "dashboard/site/breakdown.html", **helpers(site, q, f"breakdown/{dimension}"),
            dimension=dimension, title=DIMENSION_LABELS[dimension], data=data, offset=offset, page_size=PAGE_SIZE,
            sort=sort, dimension_display=dimension_display, filter_value=filter_value,
            dimension_filter=DIMENSION_FILTER,
        )

    @app.get("/sites/<site_id:int>/export/breakdown-<dimension>.csv", permission="view")
    def breakdown_csv(site_id: int, dimension: str) -> Any:
        site = Site.get_by_id(site_id)
        if dimension not in stats.DIMENSIONS:
            raise bottle.HTTPError(404, _("No such breakdown."))
        q, field, message = site_query(site)
        if q is None:
            raise invalid_query_page(field or "", message or "")
        data = stats.breakdown(database, q, dimension, limit=1_000_000)
        return csv_response(
            f"{site.domain}-{dimension}-{q.start}-{q.end}.csv",
            [dimension, "sessions", "pageviews", "share_pct", "bounce_rate_pct", "avg_duration_s"],
            ([i["value"], i["sessions"], i["pageviews"], i["share"], i["bounce_rate"], i["avg_duration"]]
             for i in data["items"]))

    @app.get("/sites/<site_id:int>/export/timeseries.csv", permission="view")
    def timeseries_csv(site_id: int) -> Any:
        site = Site.get_by_id(site_id)
        q, field, message = site_query(site)
        if q is None:
            raise invalid_query_page(field or "", message or "")
        unit = bottle.request.query.get("unit") or stats.default_unit(q)
        if unit not in stats.UNITS:
            raise invalid_query_page("unit", _("unit must be one of {units}").format(units=", ".join(stats.UNITS)))
        series = stats.timeseries(database, q, unit)
        return csv_response(
            f"{site.domain}-{unit}-{q.start}-{q.end}.csv", [unit, "visitors", "sessions", "pageviews", "bounce_rate_pct"],
            ([p["bucket"], p["visitors"], p["sessions"], p["pageviews"], p["bounce_rate"]] for p in series["points"]))


def _int_param(name: str, default: int, maximum: int = 10_000_000) -> int:
    raw = bottle.request.query.get(name) or ""
    if not raw:
        return default
    number = parse_whole(raw, maximum)
    if number is None:
        raise invalid_query_page(name, _("must be a whole number"))
    return number
