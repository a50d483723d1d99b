"""What the player and the REST API read: a session's replay with markers, and share links.

No Bottle here: the dashboard page, the public share page and `GET /api/v1/sessions/{id}/recording`
all call these functions.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from core.models import Event, Session, SessionTag, utcnow
from core.models.recordings import RecordingShare, RecordingView
from core.recordings import analysis, store

SHARE_TOKEN_BYTES = 24


def api_items(session: Session) -> list[dict[str, Any]]:
    """DESIGN.md §4 items: pageview_id, url, mode, events (and nothing the contract does not name)."""
    return [{"pageview_id": i["pageview_id"], "url": i["url"], "mode": i["mode"], "events": i["events"]}
            for i in store.session_recording(session)]


def player_data(session: Session) -> dict[str, Any]:
    """Everything the player needs in one document: pages with events, markers, local assets."""
    items = store.session_recording(session)
    extra: list[dict[str, Any]] = []
    pages_by_id = {item["pageview_id"]: index for index, item in enumerate(items)}
    for event in Event.select().where(Event.session == session.id).order_by(Event.occurred_at):
        extra.append({"t": store.naive_ms(event.occurred_at), "kind": "event",
                      "label": f"{event.category} / {event.action}" + (f" / {event.label}" if event.label else ""),
                      "page": pages_by_id.get(event.pageview_id)})
    for tag in SessionTag.select().where(SessionTag.session == session.id).order_by(SessionTag.created_at):
        extra.append({"t": store.naive_ms(tag.created_at), "kind": "tag", "label": tag.tag, "page": None})
    assets = store.asset_map(session.site_id, [item["pageview_id"] for item in items])
    for item in items:
        item.pop("pointer", None)  # pointer data beside a full-page recording: the player does not use it
        if item["mode"] == "dom":
            item["events"] = [_local_assets(event, assets) for event in item["events"]]
    return {
        "session": {"id": session.id, "site_id": session.site_id, "device": session.device,
                    "browser": session.browser, "os": session.os, "country": session.country,
                    "screen": [session.screen_w, session.screen_h]},
        "pages": items,
        "markers": analysis.markers(items, extra),
        "summary": analysis.summarise(items),
    }


def _local_assets(event: dict[str, Any], assets: dict[str, str]) -> dict[str, Any]:
    """Point stylesheet links of rrweb node trees at the server's copies (the origin may be gone)."""
    if not assets or event.get("type") not in (2, 3):
        return event

    def walk(node: Any) -> None:
        if not isinstance(node, dict):
            return
        attributes = node.get("attributes")
        if isinstance(attributes, dict):
            href = attributes.get("href")
            if node.get("tagName") == "link" and isinstance(href, str) and href in assets:
                attributes["href"] = assets[href]
            css = attributes.get("_cssText")
            if isinstance(css, str):
                for url, local in assets.items():
                    if url in css:
                        css = css.replace(url, local)
                attributes["_cssText"] = css
        for child in node.get("childNodes", []) or []:
            walk(child)

    data = event.get("data") or {}
    if event["type"] == 2:
        walk(data.get("node"))
    elif data.get("source") == 0:
        for add in data.get("adds", []) or []:
            walk(add.get("node") if isinstance(add, dict) else None)
    return event


def mark_watched(session_id: int, user_id: int) -> None:
    RecordingView.insert(session=session_id, user=user_id, viewed_at=utcnow()).on_conflict_ignore().execute()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_share(session: Session, user_id: int | None) -> str:
    """A new public link token (shown once; only its hash is stored)."""
    token = secrets.token_urlsafe(SHARE_TOKEN_BYTES)
    RecordingShare.create(session=session.id, site=session.site_id, token_hash=_token_hash(token),
                          created_by=user_id, created_at=utcnow())
    return token


def find_share(token: str) -> RecordingShare | None:
    """The live share for a token; None if unknown or revoked."""
    if not token or len(token) > 100:
        return None
    share = RecordingShare.get_or_none(RecordingShare.token_hash == _token_hash(token))
    return share if share is not None and share.revoked_at is None else None


def revoke_share(share_id: int, session_id: int) -> bool:
    return bool(RecordingShare.update(revoked_at=utcnow())
                .where((RecordingShare.id == share_id) & (RecordingShare.session == session_id)
                       & RecordingShare.revoked_at.is_null()).execute())


def active_shares(session_id: int) -> list[RecordingShare]:
    return list(RecordingShare.select().where((RecordingShare.session == session_id)
                                              & RecordingShare.revoked_at.is_null())
                .order_by(RecordingShare.created_at))
