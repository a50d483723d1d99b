"""The recording list: sessions with a recording in a `Query`'s range, filtered and sorted.

Filters are the usual segment ones (country, device, browser, tag, visited page, referrer
domain) plus recording ones: minimum duration and pages, rage/dead clicks, watched or not,
mode. Sorted by activity by default so the recordings worth watching come first. No Bottle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import peewee

from core.models import Pageview, Session, SessionTag
from core.models.recordings import RecordingSummary, RecordingView
from core.queries.query import Query, QueryError

FILTERS = ("country", "device", "browser", "tag", "page", "referrer", "min_duration", "min_pages", "rage",
           "dead", "watched", "mode")
SORTS = {"activity": "Most active first", "newest": "Newest first", "longest": "Longest first"}
PAGE_SIZE = 50


@dataclass(frozen=True)
class RecordingRow:
    session_id: int
    started_at: Any
    country: str
    device: str
    browser: str
    os: str
    referrer_domain: str
    pages: int
    duration_ms: int
    clicks: int
    rage_clicks: int
    dead_clicks: int
    activity: float
    bytes: int
    mode: str
    watched: bool


def _int_filter(query: Query, name: str) -> int | None:
    raw = query.filters.get(name)
    if raw in (None, ""):
        return None
    try:
        value = int(str(raw))
    except ValueError:
        raise QueryError(name, f"{name} must be a whole number") from None
    if value < 0:
        raise QueryError(name, f"{name} must not be negative")
    return value


def list_recordings(query: Query, user_id: int, sort: str = "activity", limit: int = PAGE_SIZE,
                    offset: int = 0) -> tuple[list[RecordingRow], int]:
    """(rows of this page, total matching)."""
    if sort not in SORTS:
        raise QueryError("sort", f"sort must be one of {', '.join(SORTS)}")
    low, high = query.utc_bounds()
    watched = RecordingView.select(RecordingView.id).where(
        (RecordingView.session == Session.id) & (RecordingView.user == user_id))
    base = (Session.select(Session, RecordingSummary, peewee.fn.EXISTS(watched).alias("seen"))
            .join(RecordingSummary, on=(RecordingSummary.session == Session.id))
            .where((Session.site == query.site_id) & (Session.has_recording == True)  # noqa: E712
                   & (Session.started_at >= low) & (Session.started_at < high)))
    f = query.filters
    for name, column in (("country", Session.country), ("device", Session.device), ("browser", Session.browser),
                         ("referrer", Session.referrer_domain)):
        if f.get(name):
            base = base.where(column == str(f[name]).strip().upper() if name == "country" else column == f[name])
    if f.get("tag"):
        base = base.where(peewee.fn.EXISTS(SessionTag.select(SessionTag.id).where(
            (SessionTag.session == Session.id) & (SessionTag.tag == f["tag"]))))
    if f.get("page"):
        pattern = str(f["page"]).replace("*", "%")
        if "%" not in pattern:
            pattern = f"%{pattern}%"
        base = base.where(peewee.fn.EXISTS(Pageview.select(Pageview.id).where(
            (Pageview.session == Session.id) & (Pageview.path ** pattern))))
    minimum = _int_filter(query, "min_duration")
    if minimum is not None:
        base = base.where(RecordingSummary.duration_ms >= minimum * 1000)
    pages = _int_filter(query, "min_pages")
    if pages is not None:
        base = base.where(RecordingSummary.pages >= pages)
    if str(f.get("rage", "")) in ("1", "yes", "true", "on"):
        base = base.where(RecordingSummary.rage_clicks > 0)
    if str(f.get("dead", "")) in ("1", "yes", "true", "on"):
        base = base.where(RecordingSummary.dead_clicks > 0)
    if f.get("watched") in ("yes", "no"):
        base = base.where(peewee.fn.EXISTS(watched) if f["watched"] == "yes" else ~peewee.fn.EXISTS(watched))
    if f.get("mode") in ("dom", "pointer"):
        base = base.where(RecordingSummary.mode == f["mode"])
    total = base.count()
    order = {
        "activity": (RecordingSummary.activity.desc(), Session.started_at.desc()),
        "newest": (Session.started_at.desc(),),
        "longest": (RecordingSummary.duration_ms.desc(), Session.started_at.desc()),
    }[sort]
    rows = []
    for session in base.order_by(*order, Session.id.desc()).limit(limit).offset(offset):
        summary = session.recordingsummary
        rows.append(RecordingRow(
            session.id, session.started_at, session.country, session.device, session.browser, session.os,
            session.referrer_domain, summary.pages, summary.duration_ms, summary.clicks, summary.rage_clicks,
            summary.dead_clicks, summary.activity, summary.bytes, summary.mode, bool(session.seen),
        ))
    return rows, total
