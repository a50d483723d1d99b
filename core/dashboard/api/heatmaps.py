"""/api/v1/sites/{id}/heatmap: click, movement and scroll maps of one page (DESIGN.md §4)."""

from __future__ import annotations

from typing import Any

import bottle

from core.context import AppContext
from core.dashboard.api.spec import QueryParam, ValidationFailed, api_spec
from core.i18n import _
from core.models import Site
from core.queries.heatmaps import MAX_ANCHORS, MAX_ELEMENTS, MAX_POINTS, heatmap_for_params
from core.queries.query import FILTER_NAMES, QueryError
from core.web import ApiError, json_response

_COUNT = {"type": "integer", "minimum": 0}
HEATMAP_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["kind", "url", "points", "elements", "scroll"],
    "properties": {
        "kind": {"type": "string", "enum": ["click", "move", "scroll"]},
        "url": {"type": "string", "description": "The page path asked for (may contain `*`)."},
        "points": {"type": "array", "maxItems": MAX_POINTS, "description":
                   "Page coordinates (CSS px) binned to `bin` px cells, hottest first; x/y are cell centres.",
                   "items": {"type": "object", "required": ["x", "y", "count"],
                             "properties": {"x": _COUNT, "y": _COUNT, "count": _COUNT}}},
        "elements": {"type": "array", "maxItems": MAX_ELEMENTS, "description": "Most-clicked elements.",
                     "items": {"type": "object", "required": ["selector", "count"],
                               "properties": {"selector": {"type": "string"}, "count": _COUNT,
                                              "share": {"type": "number", "description": "% of all clicks"}}}},
        "scroll": {"type": "array", "description": "kind=scroll: share of page views whose deepest scroll "
                   "reached each depth (0-100 % of the page height, in 5 % steps).",
                   "items": {"type": "object", "required": ["depth_pct", "visitors_pct"],
                             "properties": {"depth_pct": _COUNT, "visitors_pct": {"type": "number"}}}},
        "total": {**_COUNT, "description": "Points counted (scroll: page views)."},
        "anchors": {"type": "array", "maxItems": MAX_ANCHORS, "description":
                    "Clicks anchored to elements: the offset inside the element as a fraction 0-1, so a "
                    "player can place them on the element at any width.",
                    "items": {"type": "object", "properties": {"selector": {"type": "string"},
                                                               "ox": {"type": "number"}, "oy": {"type": "number"},
                                                               "count": _COUNT}}},
        "rage": {"type": "array", "description": "Elements with rage clicks (>= 3 clicks within 1 s on one spot).",
                 "items": {"type": "object", "properties": {"selector": {"type": "string"}, "count": _COUNT}}},
        "views": _COUNT,
        "pages": {"type": "array", "items": {"type": "string"}, "description": "The stored paths included."},
        "bin": {**_COUNT, "description": "Cell size in px."},
        "source": {"type": "string", "enum": ["rollup+raw", "raw"]},
        "from": {"type": "string", "format": "date"},
        "to": {"type": "string", "format": "date"},
        "page_height": {**_COUNT, "description": "Typical document height of the page in px (0: unknown)."},
    },
}
QUERY = (
    QueryParam("url", {"type": "string"}, "Page path or full URL; `*` groups pages, e.g. /blog/*.", True),
    QueryParam("kind", {"type": "string", "enum": ["click", "move", "scroll"], "default": "click"}),
    QueryParam("from", {"type": "string", "format": "date"}, "First day (site time zone); default 14 days ago."),
    QueryParam("to", {"type": "string", "format": "date"}, "Last day, inclusive; default today."),
    QueryParam("device", {"type": "string"}, "desktop, tablet or mobile (a comma list narrows to sessions)."),
    QueryParam("width_min", {"type": "integer", "minimum": 0},
               "Viewport width range; snaps to the bands 0/480/768/1024/1280/1440/1920/2560 px."),
    QueryParam("width_max", {"type": "integer", "minimum": 0}),
    *(QueryParam(name, {"type": "string"}, "Segment filter, as for stats.") for name in FILTER_NAMES
      if name != "device"),
)


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    spec = api_spec(ctx)
    schema = spec.schema("Heatmap", HEATMAP_SCHEMA)

    @spec.route(app, "GET", "/api/v1/sites/{site_id}/heatmap", permission="view", tag="heatmaps",
                response=schema, query=QUERY, summary="Click, movement or scroll map of a page",
                description="Counts come from daily rollups plus the newest raw points, so they are exact "
                            "at any moment.")
    def site_heatmap(site_id: int) -> Any:
        site = Site.get_or_none(Site.id == site_id)
        if site is None:
            raise ApiError(404, "not_found", _("No such site."))
        params = {k: bottle.request.query.get(k) for k in bottle.request.query.keys()}
        try:
            data = heatmap_for_params(site.id, site.timezone or "UTC", params, ctx.database.dialect)
        except QueryError as exc:
            raise ValidationFailed(exc.field, str(exc)) from None
        return json_response(data, 200, {"Cache-Control": "private, max-age=30"})
