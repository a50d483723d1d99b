"""/api/v1 statistics: overview numbers, time series, breakdowns, visitors online, tags and events reports,
saved segments. The same query functions as the dashboard pages, and the same parameters (range and
segment filters), so a dashboard URL's query string works unchanged against the API.
"""

from __future__ import annotations

from typing import Any

import bottle

from core.context import AppContext
from core.dashboard.access import current_user
from core.dashboard.api.common import TIME_SCHEMA, iso, json_object_body
from core.dashboard.api.spec import QueryParam, ValidationFailed, api_spec
from core.i18n import _
from core.models import Site
from core.numbers import parse_whole
from core.queries import reports, segments, stats
from core.queries.query import FILTER_NAMES, PRESETS, Query, QueryError, parse_site_query
from core.web import ApiError, json_response

RANGE_PARAMS = (
    QueryParam("from", {"type": "string", "format": "date"}, "First day (site time zone); default 13 days before `to`."),
    QueryParam("to", {"type": "string", "format": "date"}, "Last day, inclusive; default today."),
    QueryParam("range", {"type": "string", "enum": list(PRESETS)}, "A preset instead of from/to."),
)
FILTER_HELP = {
    "entry": "Landing page path, matched like `page`: the whole path (host, ?query and #fragment ignored), "
             "* wildcard; /pricing matches https://site/pricing?a=1 but not /x/pricing or /pricing/.",
}
FILTER_PARAMS = tuple(
    QueryParam(name, {"type": "string"}, FILTER_HELP.get(name, "Segment filter (comma-separated list; * wildcard in "
                                                                "pages and referrer URLs), as in dashboard URLs."))
    for name in FILTER_NAMES)
UNIT_PARAM = QueryParam("unit", {"type": "string", "enum": list(stats.UNITS)}, "Bucket size; default by range length.")

NUMBER = {"type": "number"}
NULLABLE_NUMBER = {"type": ["number", "null"]}
TOTALS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["visitors", "sessions", "pageviews", "events", "bounces", "bounce_rate", "avg_duration",
                 "pages_per_session"],
    "properties": {
        "visitors": {"type": "integer"}, "sessions": {"type": "integer"}, "pageviews": {"type": "integer"},
        "events": {"type": "integer"}, "bounces": {"type": "integer"},
        "bounce_rate": {**NUMBER, "description": "% of sessions with a single pageview"},
        "avg_duration": {**NUMBER, "description": "seconds"}, "pages_per_session": NUMBER,
    },
}
STATS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["from", "to", "previous_from", "previous_to", "current", "previous", "change"],
    "properties": {
        "from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"},
        "previous_from": {"type": "string", "format": "date"}, "previous_to": {"type": "string", "format": "date"},
        "current": {"$ref": "#/components/schemas/StatsTotals"},
        "previous": {"$ref": "#/components/schemas/StatsTotals"},
        "change": {"type": "object", "description": "% change vs the previous period; null when it was 0",
                   "additionalProperties": NULLABLE_NUMBER},
    },
}
SERIES_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["unit", "timezone", "points"],
    "properties": {
        "unit": {"type": "string", "enum": list(stats.UNITS)}, "timezone": {"type": "string"},
        "points": {"type": "array", "items": {
            "type": "object", "required": ["bucket", "visitors", "sessions", "pageviews", "bounce_rate"],
            "properties": {"bucket": {"type": "string", "description": "YYYY-MM-DD HH:00, YYYY-MM-DD (day or the "
                                                                         "Monday of a week), YYYY-MM or YYYY"},
                           "visitors": {"type": "integer"}, "sessions": {"type": "integer"},
                           "pageviews": {"type": "integer"}, "bounce_rate": NUMBER}}},
    },
}
BREAKDOWN_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["dimension", "total", "items"],
    "properties": {
        "dimension": {"type": "string"}, "total": {"type": "integer", "description": "number of values"},
        "items": {"type": "array", "items": {
            "type": "object", "required": ["value", "sessions", "pageviews", "share", "bounce_rate", "avg_duration"],
            "properties": {"value": {"type": "string"}, "sessions": {"type": "integer"},
                           "pageviews": {"type": "integer"}, "share": NUMBER, "bounce_rate": NUMBER,
                           "avg_duration": {**NUMBER, "description": "session seconds; for pages, active seconds "
                                                                     "per pageview"}}}},
    },
}
TAGS_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["total_sessions", "items", "unit", "buckets", "series"],
    "properties": {
        "total_sessions": {"type": "integer"}, "unit": {"type": "string"},
        "items": {"type": "array", "items": {"type": "object", "required": ["tag", "sessions", "share"],
                                             "properties": {"tag": {"type": "string"}, "sessions": {"type": "integer"},
                                                            "share": NUMBER}}},
        "buckets": {"type": "array", "items": {"type": "string"}},
        "series": {"type": "array", "items": {"type": "object", "required": ["tag", "points"], "properties": {
            "tag": {"type": "string"}, "points": {"type": "array", "items": {"type": "integer"}}}}},
    },
}
EVENTS_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["unit", "group", "total", "items", "buckets", "points"],
    "properties": {
        "unit": {"type": "string"}, "group": {"type": "string", "enum": list(reports.EVENT_GROUPS)},
        "total": {"type": "integer"},
        "items": {"type": "array", "items": {"type": "object", "required": ["count", "sessions"], "properties": {
            "category": {"type": ["string", "null"]}, "action": {"type": ["string", "null"]},
            "label": {"type": ["string", "null"]}, "count": {"type": "integer"}, "sessions": {"type": "integer"},
            "value_sum": NULLABLE_NUMBER, "value_avg": NULLABLE_NUMBER,
            "value_secondary_sum": NULLABLE_NUMBER, "value_secondary_avg": NULLABLE_NUMBER}}},
        "buckets": {"type": "array", "items": {"type": "string"}},
        "points": {"type": "array", "items": {"type": "integer"}},
    },
}
SEGMENT_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["id", "site_id", "name", "filters", "created_at"], "additionalProperties": False,
    "properties": {"id": {"type": "integer"}, "site_id": {"type": "integer"}, "name": {"type": "string"},
                   "filters": {"type": "object", "additionalProperties": {"type": "string"}},
                   "created_at": TIME_SCHEMA},
}
SEGMENT_CREATE_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["name", "filters"], "additionalProperties": False,
    "properties": {"name": {"type": "string", "maxLength": segments.NAME_MAX},
                   "filters": {"type": "object", "description": "Filter name → value, as in dashboard URLs.",
                               "properties": {name: {"type": "string"} for name in FILTER_NAMES},
                               "additionalProperties": False}},
}


def site_or_404(site_id: int) -> Site:
    site = Site.get_or_none(Site.id == site_id)
    if site is None:
        raise ApiError(404, "not_found", _("No such site."))
    return site


def request_params() -> dict[str, str]:
    return {key: bottle.request.query.getunicode(key) or "" for key in bottle.request.query.keys()}


def api_query(site: Site) -> Query:
    try:
        return parse_site_query(site.id, site.timezone, request_params())
    except QueryError as exc:
        raise ValidationFailed(exc.field, str(exc)) from None


def int_param(name: str, default: int, low: int, high: int) -> int:
    raw = (bottle.request.query.get(name) or "").strip()
    if not raw:
        return default
    magnitude = parse_whole(raw.removeprefix("-"))
    number = None if magnitude is None else (-magnitude if raw.startswith("-") else magnitude)
    if number is None or not low <= number <= high:
        raise ValidationFailed(name, f"{name} must be a whole number from {low} to {high}")
    return number


def choice_param(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = (bottle.request.query.get(name) or "").strip() or default
    if value not in choices:
        raise ValidationFailed(name, f"{name} must be one of {', '.join(choices)}")
    return value


def segment_json(segment: Any) -> dict[str, Any]:
    out = segments.segment_json(segment)
    out["created_at"] = iso(out["created_at"])
    return out


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    spec = api_spec(ctx)
    database = ctx.database
    spec.schema("StatsTotals", TOTALS_SCHEMA)
    stats_ref = spec.schema("Stats", STATS_SCHEMA)
    series_ref = spec.schema("TimeSeries", SERIES_SCHEMA)
    breakdown_ref = spec.schema("Breakdown", BREAKDOWN_SCHEMA)
    tags_ref = spec.schema("TagsReport", TAGS_SCHEMA)
    events_ref = spec.schema("EventsReport", EVENTS_SCHEMA)
    segment_ref = spec.schema("Segment", SEGMENT_SCHEMA)
    segment_list = spec.schema("SegmentList", {"type": "object", "required": ["items"],
                                               "properties": {"items": {"type": "array", "items": segment_ref}}})
    common = (*RANGE_PARAMS, *FILTER_PARAMS)

    @spec.route(app, "GET", "/api/v1/sites/{site_id}/stats", permission="view", tag="stats", response=stats_ref,
                query=common, summary="Visitors, sessions, pageviews, bounce rate, average length, pages per "
                                      "session, with the previous period and the change")
    def site_stats(site_id: int) -> Any:
        return stats.overview(database, api_query(site_or_404(site_id)))

    @spec.route(app, "GET", "/api/v1/sites/{site_id}/timeseries", permission="view", tag="stats",
                response=series_ref, query=(*common, UNIT_PARAM),
                summary="Visitors, sessions, pageviews and bounce rate per hour/day/week/month/year (site zone)")
    def site_timeseries(site_id: int) -> Any:
        q = api_query(site_or_404(site_id))
        unit = choice_param("unit", stats.default_unit(q), stats.UNITS)
        return stats.timeseries(database, q, unit)

    @spec.route(app, "GET", "/api/v1/sites/{site_id}/breakdowns/{dimension:str}", permission="view", tag="stats",
                response=breakdown_ref, query=(
                    *common, QueryParam("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 10}),
                    QueryParam("offset", {"type": "integer", "minimum": 0, "default": 0}),
                    QueryParam("sort", {"type": "string", "enum": list(stats.SORTS), "default": "sessions"})),
                summary="Top values of a dimension",
                description="Dimensions: " + ", ".join(stats.DIMENSIONS) + ".")
    def site_breakdown(site_id: int, dimension: str) -> Any:
        site = site_or_404(site_id)
        if dimension not in stats.DIMENSIONS:
            raise ApiError(404, "not_found", _("No such breakdown."))
        q = api_query(site)
        return stats.breakdown(database, q, dimension, limit=int_param("limit", 10, 1, 1000),
                               offset=int_param("offset", 0, 0, 10_000_000),
                               sort=choice_param("sort", "sessions", stats.SORTS))

    @spec.route(app, "GET", "/api/v1/sites/{site_id}/online", permission="view", tag="stats",
                response={"type": "object", "required": ["online"], "properties": {"online": {"type": "integer"}}},
                summary="Sessions active in the last 5 minutes")
    def site_online(site_id: int) -> Any:
        return {"online": stats.online_now(database, site_or_404(site_id).id)}

    @spec.route(app, "GET", "/api/v1/sites/{site_id}/tags", permission="view", tag="stats", response=tags_ref,
                query=(*common, UNIT_PARAM), summary="Sessions per tag, and the top tags over time")
    def site_tags(site_id: int) -> Any:
        q = api_query(site_or_404(site_id))
        return reports.tags_report(database, q, choice_param("unit", stats.default_unit(q), stats.UNITS))

    @spec.route(app, "GET", "/api/v1/sites/{site_id}/events", permission="view", tag="stats", response=events_ref,
                query=(*common, UNIT_PARAM,
                       QueryParam("group", {"type": "string", "enum": list(reports.EVENT_GROUPS)}),
                       QueryParam("category", {"type": "string"}, "Only events of this category (exact)."),
                       QueryParam("action", {"type": "string"}, "Only events with this action (exact).")),
                summary="Event counts over time and by category/action/label, with value sums and averages")
    def site_events(site_id: int) -> Any:
        q = api_query(site_or_404(site_id))
        unit = choice_param("unit", stats.default_unit(q), stats.UNITS)
        group = choice_param("group", "category_action", reports.EVENT_GROUPS)
        category = (bottle.request.query.getunicode("category") or "")[:128]
        action = (bottle.request.query.getunicode("action") or "")[:128]
        return reports.events_report(database, q, unit, group, category, action)

    @spec.route(app, "GET", "/api/v1/sites/{site_id}/segments", permission="view", tag="segments",
                response=segment_list, summary="Saved segments of a site")
    def segment_index(site_id: int) -> Any:
        return {"items": [segment_json(s) for s in segments.list_segments(site_or_404(site_id).id)]}

    @spec.route(app, "POST", "/api/v1/sites/{site_id}/segments", permission="manage_segments", tag="segments",
                status=201, response=segment_ref, request=spec.schema("SegmentCreate", SEGMENT_CREATE_SCHEMA),
                summary="Save (or replace) a named segment")
    def segment_create(site_id: int) -> Any:
        site = site_or_404(site_id)
        body = json_object_body()
        filters = body.get("filters")
        if not isinstance(filters, dict) or not all(isinstance(v, str) for v in filters.values()):
            raise ValidationFailed("filters", _("filters must be an object of strings"))
        unknown = sorted(set(filters) - set(FILTER_NAMES))
        if unknown:
            raise ValidationFailed("filters", _("unknown filter {name}").format(name=unknown[0]))
        extra = sorted(set(body) - {"name", "filters"})
        if extra:
            raise ValidationFailed(extra[0], _("unknown field {name}").format(name=extra[0]))
        try:
            seg = segments.save_segment(site.id, body.get("name"), filters, current_user().id)
        except QueryError as exc:
            raise ValidationFailed(exc.field, str(exc)) from None
        return json_response(segment_json(seg), 201)

    @spec.route(app, "DELETE", "/api/v1/sites/{site_id}/segments/{segment_id}", permission="manage_segments",
                tag="segments", status=204, summary="Delete a saved segment")
    def segment_remove(site_id: int, segment_id: int) -> Any:
        if not segments.delete_segment(site_or_404(site_id).id, segment_id):
            raise ApiError(404, "not_found", _("No such segment."))
        return None
