"""/api/v1/sessions/{id}/recording: a session's replay data (DESIGN.md §4)."""

from __future__ import annotations

from typing import Any

import bottle

from core import accounts
from core.context import AppContext
from core.dashboard.access import current_user
from core.dashboard.api.spec import api_spec
from core.i18n import _
from core.models import Session
from core.recordings import replay
from core.web import ApiError, json_response

RECORDING_ITEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["pageview_id", "url", "mode", "events"],
    "properties": {
        "pageview_id": {"type": "integer"},
        "url": {"type": "string"},
        "mode": {"type": "string", "enum": ["pointer", "dom"],
                 "description": "dom: full-page recording, `events` are rrweb events; pointer: tracker "
                                "pointer events (click, move, scroll, resize, select, input)."},
        "events": {"type": "array", "items": {"type": "object"}, "description": "In recorded order."},
    },
}


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    spec = api_spec(ctx)
    item = spec.schema("RecordingPage", RECORDING_ITEM_SCHEMA)
    recording = spec.schema("Recording", {
        "type": "object", "required": ["items"],
        "properties": {"items": {"type": "array", "items": item}},
    })

    @spec.route(app, "GET", "/api/v1/sessions/{session_id}/recording", permission="view", tag="recordings",
                response=recording, summary="A session's recording, page by page",
                description="One item per page view in order; empty `items` when nothing was recorded.")
    def session_recording(session_id: int) -> Any:
        session = Session.get_or_none(Session.id == session_id)
        if session is None or not accounts.can_see_site(current_user(), session.site_id):
            raise ApiError(404, "not_found", _("No such session."))
        return json_response({"items": replay.api_items(session)}, 200, {"Cache-Control": "no-store"})
