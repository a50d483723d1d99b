"""Sessions pages: the list of a segment (sortable, paginated, bulk delete), one session's timeline with
tags to add/remove, the per-user "watched" marker, and the CSV export of the list.
"""

from __future__ import annotations

from typing import Any

import bottle

from core.context import AppContext
from core.dashboard.access import current_user
from core.dashboard.render import flash, render
from core.dashboard.stats_common import csv_response, helpers, invalid_query_page, site_query
from core.i18n import _, ngettext
from core.models import Site
from core.numbers import parse_whole
from core.queries import sessions
from core.queries.sessions import SessionError

PAGE_SIZE = 50
EXPORT_MAX = 100_000


def _list_params() -> tuple[str, str, int]:
    sort = bottle.request.query.get("sort") or "start"
    order = bottle.request.query.get("order") or "desc"
    raw = bottle.request.query.get("offset") or "0"
    if parse_whole(raw) is None:
        raise invalid_query_page("offset", _("must be a whole number"))
    if sort not in sessions.SORTS:
        raise invalid_query_page("sort", _("must be one of {values}").format(values=", ".join(sessions.SORTS)))
    if order not in ("asc", "desc"):
        raise invalid_query_page("order", _("must be asc or desc"))
    return sort, order, int(raw)


def _session_of(site_id: int, session_id: int) -> Any:
    session = sessions.get_session([site_id], session_id)
    if session is None:
        raise bottle.HTTPError(404, _("No such session."))
    return session


def _back(site_id: int, default: str) -> Any:
    target = bottle.request.forms.getunicode("next") or ""
    # Only pages of this site: never an open redirect.
    if not target.startswith(f"/sites/{site_id}/") or "//" in target or "\\" in target:
        target = default
    return bottle.redirect(target, 303)


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    database = ctx.database

    @app.get("/sites/<site_id:int>/sessions", permission="view")
    def session_list(site_id: int) -> Any:
        site = Site.get_by_id(site_id)
        q, field, message = site_query(site)
        if q is None:
            raise invalid_query_page(field or "", message or "")
        sort, order, offset = _list_params()
        data = sessions.list_sessions(database, q, sort=sort, order=order, limit=PAGE_SIZE, offset=offset,
                                      user_id=current_user().id)
        extra = {k: v for k, v in (("sort", sort), ("order", order)) if v not in ("start", "desc")}
        return render(ctx, "dashboard/site/sessions.html", **helpers(site, q, "sessions", extra), data=data,
                      sort=sort, order=order, offset=offset, page_size=PAGE_SIZE)

    @app.get("/sites/<site_id:int>/export/sessions.csv", permission="view")
    def session_csv(site_id: int) -> Any:
        site = Site.get_by_id(site_id)
        q, field, message = site_query(site)
        if q is None:
            raise invalid_query_page(field or "", message or "")
        sort, order, _offset = _list_params()
        columns = ["id", "started_at", "duration", "pageviews", "events", "visitor", "country", "city", "browser",
                   "os", "device", "screen", "language", "referrer", "landing_url", "utm_source", "utm_medium",
                   "utm_campaign", "tags"]

        def rows() -> Any:
            offset = 0
            while offset < EXPORT_MAX:
                page = sessions.list_sessions(database, q, sort=sort, order=order, limit=500, offset=offset)
                for item in page["items"]:
                    item["tags"] = " ".join(item["tags"])
                    yield [item[c] for c in columns]
                offset += 500
                if offset >= page["total"]:
                    break

        return csv_response(f"{site.domain}-sessions-{q.start}-{q.end}.csv", columns, list(rows()))

    @app.post("/sites/<site_id:int>/sessions/delete", permission="delete_sessions")
    def session_bulk_delete(site_id: int) -> Any:
        site = Site.get_by_id(site_id)
        raw = bottle.request.forms.getall("session")
        ids = [n for n in map(parse_whole, raw) if n is not None]
        if not ids:
            flash(ctx, _("Select at least one session to delete."), "error")
        else:
            count = sessions.delete_sessions(database, site.id, site.timezone, ids)
            flash(ctx, ngettext("Deleted {n} session and everything recorded in it.",
                                "Deleted {n} sessions and everything recorded in them.", count).format(n=count),
                  "success")
        return _back(site_id, f"/sites/{site_id}/sessions")

    @app.get("/sites/<site_id:int>/sessions/<session_id:int>", permission="view")
    def session_page(site_id: int, session_id: int) -> Any:
        site = Site.get_by_id(site_id)
        session = _session_of(site_id, session_id)
        sessions.mark_watched(current_user().id, session.id)
        q, _field, _message = site_query(site, {})  # the default range: always valid
        assert q is not None
        return render(ctx, "dashboard/site/session.html", **helpers(site, q, "sessions"),
                      detail=sessions.session_detail(session), tag_max=sessions.TAG_MAX)

    @app.post("/sites/<site_id:int>/sessions/<session_id:int>/tags", permission="manage_tags")
    def session_tag_add(site_id: int, session_id: int) -> Any:
        session = _session_of(site_id, session_id)
        try:
            tag = sessions.add_tag(session, bottle.request.forms.getunicode("tag"))
            flash(ctx, _("Tag {tag} added.").format(tag=tag), "success")
        except SessionError as exc:
            flash(ctx, str(exc), "error")
        return bottle.redirect(f"/sites/{site_id}/sessions/{session_id}", 303)

    @app.post("/sites/<site_id:int>/sessions/<session_id:int>/tags/remove", permission="manage_tags")
    def session_tag_remove(site_id: int, session_id: int) -> Any:
        session = _session_of(site_id, session_id)
        try:
            sessions.remove_tag(session, bottle.request.forms.getunicode("tag"))
            flash(ctx, _("Tag removed."), "success")
        except SessionError as exc:
            flash(ctx, str(exc), "error")
        return bottle.redirect(f"/sites/{site_id}/sessions/{session_id}", 303)

    @app.post("/sites/<site_id:int>/sessions/<session_id:int>/delete", permission="delete_sessions")
    def session_delete(site_id: int, session_id: int) -> Any:
        site = Site.get_by_id(site_id)
        session = _session_of(site_id, session_id)
        sessions.delete_sessions(database, site.id, site.timezone, [session.id])
        flash(ctx, _("Session deleted with everything recorded in it."), "success")
        return bottle.redirect(f"/sites/{site_id}/sessions", 303)
