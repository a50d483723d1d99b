"""Tags and events reports: sessions per tag and over time; event counts over time, breakdowns by
category/action/label with sums and averages of `value` and `value_secondary`.

Like every statistic, tags and events belong to the range in which their session started, and the
segment filters select the sessions.
"""

from __future__ import annotations

from typing import Any

import peewee
from peewee import fn

from core.db import Database
from core.models import Event, Session, SessionTag
from core.queries.filters import local_time, session_where
from core.queries.query import Query
from core.queries.stats import UNITS, bucket_keys

EVENT_GROUPS = ("category", "action", "label", "category_action")
SERIES_TOP = 8  # lines drawn on a chart; the table lists every value


def tags_report(database: Database, q: Query, unit: str = "day") -> dict[str, Any]:
    """Sessions per tag (share of all sessions of the segment) and the top tags over time."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}")
    d = database.dialect
    where = session_where(q, d)
    total = Session.select().where(where).count()
    rows = (SessionTag.select(SessionTag.tag, fn.COUNT(SessionTag.id))
            .join(Session, on=(SessionTag.session == Session.id)).where(where)
            .group_by(SessionTag.tag).order_by(fn.COUNT(SessionTag.id).desc(), SessionTag.tag).tuples())
    items = [{"tag": tag, "sessions": int(n), "share": round(100.0 * int(n) / total, 1) if total else 0.0}
             for tag, n in rows]
    top = [item["tag"] for item in items[:SERIES_TOP]]
    series: dict[str, dict[str, int]] = {tag: {} for tag in top}
    if top:
        bucket = d.bucket_expr(local_time(Session.started_at, q, d), unit)
        for tag, key, n in (SessionTag.select(SessionTag.tag, bucket.alias("b"), fn.COUNT(SessionTag.id))
                            .join(Session, on=(SessionTag.session == Session.id))
                            .where(where & SessionTag.tag.in_(top))
                            .group_by(SessionTag.tag, peewee.SQL("b")).tuples()):
            series[tag][str(key)] = int(n)
    keys = bucket_keys(q, unit)
    return {
        "total_sessions": total, "items": items, "unit": unit, "buckets": keys,
        "series": [{"tag": tag, "points": [series[tag].get(k, 0) for k in keys]} for tag in top],
    }


def _group_columns(group: str) -> tuple[Any, ...]:
    return {"category": (Event.category,), "action": (Event.action,), "label": (Event.label,),
            "category_action": (Event.category, Event.action)}[group]


def events_report(database: Database, q: Query, unit: str = "day", group: str = "category_action",
                  category: str = "", action: str = "") -> dict[str, Any]:
    """Event counts over time and a breakdown (count, sessions, value sum/avg, value_secondary sum/avg).

    `category`/`action` narrow the report to one kind of event (exact match)."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}")
    if group not in EVENT_GROUPS:
        raise ValueError(f"group must be one of {', '.join(EVENT_GROUPS)}")
    d = database.dialect
    where = session_where(q, d)
    if category:
        where &= Event.category == category
    if action:
        where &= Event.action == action
    base = Event.select().join(Session, on=(Event.session == Session.id))
    columns = _group_columns(group)
    rows = (base.select(*columns, fn.COUNT(Event.id), fn.COUNT(fn.DISTINCT(Event.session)),
                        fn.SUM(Event.value), fn.COUNT(Event.value), fn.SUM(Event.value_secondary),
                        fn.COUNT(Event.value_secondary))
            .where(where).group_by(*columns).order_by(fn.COUNT(Event.id).desc(), *columns).tuples())
    items = []
    for row in rows:
        keys = row[:len(columns)]
        count, sessions, vsum, vcount, ssum, scount = row[len(columns):]
        items.append({
            "category": keys[0] if group in ("category", "category_action") else None,
            "action": keys[-1] if group in ("action", "category_action") else None,
            "label": keys[0] if group == "label" else None,
            "count": int(count), "sessions": int(sessions),
            "value_sum": round(float(vsum), 4) if vcount else None,
            "value_avg": round(float(vsum) / int(vcount), 4) if vcount else None,
            "value_secondary_sum": round(float(ssum), 4) if scount else None,
            "value_secondary_avg": round(float(ssum) / int(scount), 4) if scount else None,
        })
    bucket = d.bucket_expr(local_time(Event.occurred_at, q, d), unit)
    counts = {str(key): int(n) for key, n in base.select(bucket.alias("b"), fn.COUNT(Event.id))
              .where(where).group_by(peewee.SQL("b")).tuples()}
    keys = bucket_keys(q, unit)
    return {
        "unit": unit, "group": group, "total": sum(item["count"] for item in items), "items": items,
        "buckets": keys, "points": [counts.get(k, 0) for k in keys],
    }
