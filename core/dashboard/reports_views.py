"""Events and tags report pages (charts over time, breakdown tables), their CSV exports, and the saved
segments page (list, save the current filters under a name, delete).
"""

from __future__ import annotations

import json
from typing import Any

import bottle

from core.context import AppContext
from core.dashboard.access import current_user
from core.dashboard.render import flash, render
from core.dashboard.stats_common import csv_response, helpers, invalid_query_page, site_query
from core.dashboard.stats_views import UNIT_LABELS
from core.i18n import _
from core.models import Site
from core.queries import reports, segments, stats
from core.queries.query import QueryError

GROUP_LABELS = {"category_action": _("Category / action"), "category": _("Category"), "action": _("Action"),
                "label": _("Label")}


def _unit(q: Any) -> str:
    unit = bottle.request.query.get("unit") or stats.default_unit(q)
    if unit not in stats.UNITS:
        raise invalid_query_page("unit", _("must be one of {values}").format(values=", ".join(stats.UNITS)))
    return unit


def _events_params() -> tuple[str, str, str]:
    group = bottle.request.query.get("group") or "category_action"
    if group not in reports.EVENT_GROUPS:
        raise invalid_query_page("group", _("must be one of {values}").format(values=", ".join(reports.EVENT_GROUPS)))
    category = (bottle.request.query.getunicode("category") or "")[:128]
    action = (bottle.request.query.getunicode("action") or "")[:128]
    return group, category, action


def _query(site: Site) -> Any:
    q, field, message = site_query(site)
    if q is None:
        raise invalid_query_page(field or "", message or "")
    return q


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    database = ctx.database

    @app.get("/sites/<site_id:int>/events", permission="view")
    def events_page(site_id: int) -> Any:
        site = Site.get_by_id(site_id)
        q = _query(site)
        unit = _unit(q)
        group, category, action = _events_params()
        report = reports.events_report(database, q, unit, group, category, action)
        chart = json.dumps({"type": "bar", "labels": report["buckets"],
                            "datasets": [{"label": str(_("Events")), "data": report["points"]}]})
        extra = {k: v for k, v in (("group", group), ("category", category), ("action", action), ("unit", unit)) if v}
        return render(ctx, "dashboard/site/events.html", **helpers(site, q, "events", extra), report=report,
                      chart=chart, unit=unit, group=group, category=category, action=action,
                      unit_labels=UNIT_LABELS, group_labels=GROUP_LABELS)

    @app.get("/sites/<site_id:int>/export/events.csv", permission="view")
    def events_csv(site_id: int) -> Any:
        site = Site.get_by_id(site_id)
        q = _query(site)
        group, category, action = _events_params()
        report = reports.events_report(database, q, "day", group, category, action)
        columns = ["category", "action", "label", "count", "sessions", "value_sum", "value_avg",
                   "value_secondary_sum", "value_secondary_avg"]
        return csv_response(f"{site.domain}-events-{q.start}-{q.end}.csv", columns,
                            ([item[c] for c in columns] for item in report["items"]))

    @app.get("/sites/<site_id:int>/tags", permission="view")
    def tags_page(site_id: int) -> Any:
        site = Site.get_by_id(site_id)
        q = _query(site)
        unit = _unit(q)
        report = reports.tags_report(database, q, unit)
        chart = json.dumps({"type": "line", "labels": report["buckets"],
                            "datasets": [{"label": line["tag"], "data": line["points"]} for line in report["series"]]})
        return render(ctx, "dashboard/site/tags.html", **helpers(site, q, "tags", {"unit": unit}), report=report,
                      chart=chart, unit=unit, unit_labels=UNIT_LABELS)

    @app.get("/sites/<site_id:int>/export/tags.csv", permission="view")
    def tags_csv(site_id: int) -> Any:
        site = Site.get_by_id(site_id)
        q = _query(site)
        report = reports.tags_report(database, q, "day")
        return csv_response(f"{site.domain}-tags-{q.start}-{q.end}.csv", ["tag", "sessions", "share_pct"],
                            ([i["tag"], i["sessions"], i["share"]] for i in report["items"]))

    @app.get("/sites/<site_id:int>/segments", permission="view")
    def segments_page(site_id: int) -> Any:
        site = Site.get_by_id(site_id)
        q = _query(site)
        return render(ctx, "dashboard/site/segments.html", **helpers(site, q, "segments"),
                      segment_list=segments.list_segments(site.id))

    @app.post("/sites/<site_id:int>/segments", permission="manage_segments")
    def segment_save(site_id: int) -> Any:
        forms = bottle.request.forms
        params = {key: forms.getunicode(key) or "" for key in forms.keys()}
        page = params.get("next") or "segments"
        if page not in ("overview", "sessions", "events", "tags", "segments"):
            page = "segments"
        try:
            seg = segments.save_segment(site_id, params.get("name"), params, current_user().id)
        except QueryError as exc:
            flash(ctx, _("Segment not saved: {reason}").format(reason=str(exc)), "error")
            return bottle.redirect(f"/sites/{site_id}/{page}", 303)
        flash(ctx, _("Segment {name} saved.").format(name=seg.name), "success")
        from urllib.parse import urlencode

        return bottle.redirect(f"/sites/{site_id}/{page}?{urlencode(seg.filters)}", 303)

    @app.post("/sites/<site_id:int>/segments/<segment_id:int>/delete", permission="manage_segments")
    def segment_delete(site_id: int, segment_id: int) -> Any:
        if segments.delete_segment(site_id, segment_id):
            flash(ctx, _("Segment deleted."), "success")
        else:
            flash(ctx, _("No such segment."), "error")
        return bottle.redirect(f"/sites/{site_id}/segments", 303)
