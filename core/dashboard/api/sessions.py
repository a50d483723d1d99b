"""/api/v1 sessions: the list of a site's sessions (range, segment, sort, paging), one session with its
pageviews, events and tags, tagging, and deletion with everything under it. A session of a site the
token's user cannot see answers 404, exactly like a missing one."""

from __future__ import annotations

from typing import Any

import bottle

from core import accounts
from core.context import AppContext
from core.dashboard.access import current_user
from core.dashboard.api.common import NULLABLE_TIME_SCHEMA, TIME_SCHEMA, iso, json_object_body
from core.dashboard.api.spec import QueryParam, ValidationFailed, api_spec
from core.dashboard.api.stats import FILTER_PARAMS, RANGE_PARAMS, api_query, choice_param, int_param, site_or_404
from core.i18n import _
from core.models import Session, Site
from core.queries import sessions
from core.queries.sessions import SessionError
from core.web import ApiError, json_response

STR = {"type": "string"}
INT = {"type": "integer"}
SESSION_PROPERTIES: dict[str, Any] = {
    "id": INT, "site_id": INT, "started_at": TIME_SCHEMA, "last_seen_at": TIME_SCHEMA,
    "duration": {**INT, "description": "seconds"}, "visitor": {**STR, "description": "plain IP, or the start "
                                                                                      "of the visitor hash"},
    "country": STR, "region": STR, "city": STR, "browser": STR, "browser_version": STR, "os": STR,
    "os_version": STR, "device": STR, "screen": STR, "language": STR, "referrer": STR, "referrer_domain": STR,
    "landing_url": STR, "utm_source": STR, "utm_medium": STR, "utm_campaign": STR, "pageviews": INT,
    "events": INT, "clicks": INT, "has_recording": {"type": "boolean"},
}
SESSION_SCHEMA: dict[str, Any] = {
    "type": "object", "required": list(SESSION_PROPERTIES) + ["tags"],
    "properties": {**SESSION_PROPERTIES, "tags": {"type": "array", "items": STR}},
}
SESSION_LIST_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["items", "total"],
    "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/SessionSummary"}},
                   "total": {**INT, "description": "sessions matching, across all pages"}},
}
PAGEVIEW_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["id", "url", "path", "title", "started_at"],
    "properties": {"id": INT, "url": STR, "path": STR, "title": STR, "referrer": STR, "started_at": TIME_SCHEMA,
                   "active_ms": INT, "visible_ms": INT, "max_scroll_pct": INT, "viewport": STR},
}
EVENT_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["id", "occurred_at", "category", "action"],
    "properties": {"id": INT, "pageview_id": {"type": ["integer", "null"]}, "occurred_at": TIME_SCHEMA,
                   "category": STR, "action": STR, "label": STR, "value": {"type": ["number", "null"]},
                   "value_secondary": {"type": ["number", "null"]}, "item_id": STR,
                   "data": {"description": "any JSON the site sent"}},
}
DETAIL_SCHEMA: dict[str, Any] = {
    "type": "object", "required": [*SESSION_PROPERTIES, "tags", "pageview_count", "event_count"],
    "properties": {
        **SESSION_PROPERTIES,  # "pageviews"/"events" are lists here; their counts are *_count
        "pageview_count": INT, "event_count": INT,
        "pageviews": {"type": "array", "items": {"$ref": "#/components/schemas/Pageview"}},
        "events": {"type": "array", "items": {"$ref": "#/components/schemas/SessionEvent"}},
        "tags": {"type": "array", "items": {"type": "object", "required": ["tag", "created_at"],
                                            "properties": {"tag": STR, "created_at": NULLABLE_TIME_SCHEMA}}},
    },
}
TAG_SCHEMA: dict[str, Any] = {"type": "object", "required": ["tag"], "additionalProperties": False,
                              "properties": {"tag": {"type": "string", "maxLength": sessions.TAG_MAX}}}


def _times(row: dict[str, Any]) -> dict[str, Any]:
    return {k: iso(v) if k in ("started_at", "last_seen_at", "occurred_at", "created_at") else v
            for k, v in row.items()}


def detail_json(session: Session) -> dict[str, Any]:
    detail = sessions.session_detail(session)
    out = _times({k: v for k, v in detail.items()
                  if k not in ("pageviews_list", "events_list", "tags", "timeline", "pageviews", "events")})
    out["pageview_count"], out["event_count"] = detail["pageviews"], detail["events"]
    out["pageviews"] = [_times(p) for p in detail["pageviews_list"]]
    out["events"] = [_times(e) for e in detail["events_list"]]
    out["tags"] = [_times(t) for t in detail["tags"]]
    return out


def visible_session(session_id: int) -> Session:
    user = current_user()
    site_ids = [site.id for site in accounts.visible_sites(user)]
    session = sessions.get_session(site_ids, session_id)
    if session is None:
        raise ApiError(404, "not_found", _("No such session."))
    return session


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    spec = api_spec(ctx)
    database = ctx.database
    summary_ref = spec.schema("SessionSummary", SESSION_SCHEMA)
    spec.schema("Pageview", PAGEVIEW_SCHEMA)
    spec.schema("SessionEvent", EVENT_SCHEMA)
    list_ref = spec.schema("SessionList", SESSION_LIST_SCHEMA)
    detail_ref = spec.schema("SessionDetail", DETAIL_SCHEMA)
    del summary_ref

    @spec.route(app, "GET", "/api/v1/sites/{site_id}/sessions", permission="view", tag="sessions",
                response=list_ref, query=(
                    *RANGE_PARAMS, *FILTER_PARAMS,
                    QueryParam("limit", {"type": "integer", "minimum": 1, "maximum": sessions.MAX_LIMIT,
                                         "default": 50}),
                    QueryParam("offset", {"type": "integer", "minimum": 0, "default": 0}),
                    QueryParam("sort", {"type": "string", "enum": list(sessions.SORTS), "default": "start"}),
                    QueryParam("order", {"type": "string", "enum": ["asc", "desc"], "default": "desc"})),
                summary="Sessions started in the range that match the segment, newest first")
    def session_index(site_id: int) -> Any:
        q = api_query(site_or_404(site_id))
        limit = int_param("limit", 50, 1, sessions.MAX_LIMIT)
        offset = int_param("offset", 0, 0, 100_000_000)
        sort = choice_param("sort", "start", sessions.SORTS)
        order = choice_param("order", "desc", ("asc", "desc"))
        data = sessions.list_sessions(database, q, sort=sort, order=order, limit=limit, offset=offset)
        items = []
        for item in data["items"]:
            item.pop("watched", None)
            item["site_id"] = site_id
            items.append(_times(item))
        return {"items": items, "total": data["total"]}

    @spec.route(app, "GET", "/api/v1/sessions/{session_id}", permission="view", tag="sessions",
                response=detail_ref, summary="One session with its pageviews, events and tags")
    def session_get(session_id: int) -> Any:
        return detail_json(visible_session(session_id))

    @spec.route(app, "DELETE", "/api/v1/sessions/{session_id}", permission="delete_sessions", tag="sessions",
                status=204, summary="Delete a session and everything recorded in it")
    def session_delete(session_id: int) -> Any:
        session = visible_session(session_id)
        site = Site.get_by_id(session.site_id)
        sessions.delete_sessions(database, site.id, site.timezone, [session.id])
        return None

    @spec.route(app, "POST", "/api/v1/sessions/{session_id}/tags", permission="manage_tags", tag="sessions",
                status=201, response=detail_ref, request=spec.schema("TagInput", TAG_SCHEMA),
                summary="Add a tag to a session (a set: adding it twice keeps one)")
    def session_tag_add(session_id: int) -> Any:
        session = visible_session(session_id)
        body = json_object_body()
        extra = sorted(set(body) - {"tag"})
        if extra:
            raise ValidationFailed(extra[0], _("unknown field {name}").format(name=extra[0]))
        if not isinstance(body.get("tag"), str):
            raise ValidationFailed("tag", _("tag must be a string"))
        try:
            sessions.add_tag(session, body["tag"])
        except SessionError as exc:
            raise ValidationFailed(exc.field, str(exc)) from None
        return json_response(detail_json(session), 201)

    @spec.route(app, "DELETE", "/api/v1/sessions/{session_id}/tags/{tag:str}", permission="manage_tags",
                tag="sessions", status=204, summary="Remove a tag from a session")
    def session_tag_remove(session_id: int, tag: str) -> Any:
        session = visible_session(session_id)
        try:
            removed = sessions.remove_tag(session, tag)
        except SessionError as exc:
            raise ValidationFailed(exc.field, str(exc)) from None
        if not removed:
            raise ApiError(404, "not_found", _("The session has no such tag."))
        return None
