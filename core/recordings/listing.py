"""The recording list: sessions with a recording in a `Query`'s range, filtered and sorted.

Filters are the dashboard's segment filters (core.queries.filters: tags, pages, referrer, country,
device, browser, session length, pages, events…) plus recording ones: rage clicks, dead clicks,
watched or not, mode. Sorted by activity by default so the recordings worth watching come first.
No Bottle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import peewee

from core.dialect import Dialect
from core.models import Session
from core.models.recordings import RecordingSummary, RecordingView
from core.queries.filters import session_filters
from core.queries.query import FILTER_NAMES, Query, QueryError

RECORDING_FILTERS = ("rage", "dead", "watched", "mode")
FILTERS = (*FILTER_NAMES, *RECORDING_FILTERS)
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


def list_recordings(query: Query, dialect: Dialect, user_id: int, sort: str = "activity",
                    limit: int = PAGE_SIZE, offset: int = 0) -> tuple[list[RecordingRow], int]:
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
    for condition in session_filters(query, dialect):
        base = base.where(condition)
    f = query.filters
    if str(f.get("rage", "")) in ("1", "yes", "true", "on"):
        base = base.where(RecordingSummary.rage_clicks > 0)
    if str(f.get("dead", "")) in ("1", "yes", "true", "on"):
        base = base.where(RecordingSummary.dead_clicks > 0)
    if f.get("watched") not in (None, "", "yes", "no"):
        raise QueryError("watched", "watched must be yes or no")
    if f.get("mode") not in (None, "", "dom", "pointer"):
        raise QueryError("mode", "mode must be dom or pointer")
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
