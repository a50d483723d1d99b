"""Tags and events reports: sessions per tag and over time; event counts over time, breakdowns by
category/action/label with sums and averages of `value` and `value_secondary`.

Like every statistic, tags and events belong to the range in which their session started, and the
segment filters select the sessions. Without segment filters (and for units of a day or longer),
complete days come from the daily rollups (`rollup_tags`, `rollup_events`, `rollup_event_days`, kept
by core.queries.rollups with the overview's) and only the other days (usually today) are read raw:
at 1 M sessions the events report over 14 days takes 30-90 ms instead of 3-11 s (docs/performance.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import peewee
from peewee import fn

from core.db import Database
from core.models import DailyEvent, DailyEventTime, DailyStat, DailyTag, Event, Session, SessionTag
from core.queries.filters import local_time, session_where
from core.queries.query import Query
from core.queries.stats import UNITS, bucket_keys, bucket_of_day, missing_runs, rolled_days

EVENT_GROUPS = ("category", "action", "label", "category_action")
SERIES_TOP = 8  # lines drawn on a chart; the table lists every value


def _rolled(q: Query, unit: str) -> dict[dt.date, DailyStat]:
    """The complete rolled-up days of `q` the report may read (none with a segment or by the hour)."""
    if unit == "hour":
        return {}
    return {day: stat for day, stat in sorted(rolled_days(q).items()) if stat.has_reports}


def _raw_runs(q: Query, rolled: Iterable[dt.date]) -> list[Query]:
    return missing_runs(q, rolled) if rolled else [q]


# -- tags -------------------------------------------------------------------------------------------

def _raw_tags(database: Database, q: Query, unit: str) -> tuple[int, dict[str, int], dict[tuple[str, str], int]]:
    """Sessions, sessions per tag, sessions per (tag, bucket) of `q`, from the raw tables."""
    d = database.dialect
    where = session_where(q, d)
    total = int(Session.select(fn.COUNT(Session.id)).where(where).scalar() or 0)
    per_tag = {tag: int(n) for tag, n in (SessionTag.select(SessionTag.tag, fn.COUNT(SessionTag.id))
                                          .join(Session, on=(SessionTag.session == Session.id)).where(where)
                                          .group_by(SessionTag.tag).tuples())}
    series: dict[tuple[str, str], int] = {}
    if per_tag:
        bucket = d.bucket_expr(local_time(Session.started_at, q, d), unit)
        for tag, key, n in (SessionTag.select(SessionTag.tag, bucket.alias("b"), fn.COUNT(SessionTag.id))
                            .join(Session, on=(SessionTag.session == Session.id)).where(where)
                            .group_by(SessionTag.tag, peewee.SQL("b")).tuples()):
            series[(tag, str(key))] = int(n)
    return total, per_tag, series


def tags_report(database: Database, q: Query, unit: str = "day") -> dict[str, Any]:
    """Sessions per tag (share of all sessions of the segment) and the top tags over time."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}")
    rolled = _rolled(q, unit)
    total = sum(stat.sessions for stat in rolled.values())
    per_tag: dict[str, int] = {}
    series: dict[tuple[str, str], int] = {}
    if rolled:
        for day, tag, n in (DailyTag.select(DailyTag.day, DailyTag.tag, DailyTag.sessions)
                            .where((DailyTag.site == q.site_id) & DailyTag.day.in_(list(rolled))).tuples()):
            per_tag[tag] = per_tag.get(tag, 0) + int(n)
            key = (tag, bucket_of_day(_as_date(day), unit))
            series[key] = series.get(key, 0) + int(n)
    for run in _raw_runs(q, rolled):
        run_total, run_tags, run_series = _raw_tags(database, run, unit)
        total += run_total
        _add_counts(per_tag, run_tags.items())
        _add_counts(series, run_series.items())
    items = [{"tag": tag, "sessions": n, "share": round(100.0 * n / total, 1) if total else 0.0}
             for tag, n in sorted(per_tag.items(), key=lambda kv: (-kv[1], kv[0]))]
    top = [item["tag"] for item in items[:SERIES_TOP]]
    keys = bucket_keys(q, unit)
    return {
        "total_sessions": total, "items": items, "unit": unit, "buckets": keys,
        "series": [{"tag": tag, "points": [series.get((tag, k), 0) for k in keys]} for tag in top],
    }


def _add_counts(into: dict[Any, int], pairs: Iterable[tuple[Any, int]]) -> None:
    for key, n in pairs:
        into[key] = into.get(key, 0) + n


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


# -- events -----------------------------------------------------------------------------------------

_GROUP_LETTERS = {"category": "c", "action": "a", "label": "l", "category_action": "ca"}


def _group_columns(group: str) -> tuple[Any, ...]:
    return {"category": (Event.category,), "action": (Event.action,), "label": (Event.label,),
            "category_action": (Event.category, Event.action)}[group]


def _raw_events(database: Database, q: Query, unit: str, group: str, category: str,
                action: str) -> tuple[dict[tuple[Any, ...], list[float]], dict[str, int]]:
    """(group values -> [count, sessions, value sum, value count, secondary sum, secondary count],
    bucket -> count) of `q` from the raw tables."""
    d = database.dialect
    where = session_where(q, d)
    if category:
        where &= Event.category == category
    if action:
        where &= Event.action == action
    base = Event.select().join(Session, on=(Event.session == Session.id))
    columns = _group_columns(group)
    groups: dict[tuple[Any, ...], list[float]] = {}
    for row in (base.select(*columns, fn.COUNT(Event.id), fn.COUNT(fn.DISTINCT(Event.session)),
                            fn.SUM(Event.value), fn.COUNT(Event.value), fn.SUM(Event.value_secondary),
                            fn.COUNT(Event.value_secondary))
                .where(where).group_by(*columns).tuples()):
        groups[tuple(row[:len(columns)])] = [float(n or 0) for n in row[len(columns):]]
    bucket = d.bucket_expr(local_time(Event.occurred_at, q, d), unit)
    counts = {str(key): int(n) for key, n in base.select(bucket.alias("b"), fn.COUNT(Event.id))
              .where(where).group_by(peewee.SQL("b")).tuples()}
    return groups, counts


def _rolled_events(q: Query, days: list[dt.date], unit: str, group: str, category: str,
                   action: str) -> tuple[dict[tuple[Any, ...], list[float]], dict[str, int]]:
    """The same numbers as `_raw_events` from the rollups of `days`: the rows of the grain made of the
    grouped and the narrowed columns, so each session is counted once per group and day."""
    letters = _GROUP_LETTERS[group] + ("c" if category else "") + ("a" if action else "")
    grain = "".join(letter for letter in "cal" if letter in letters)
    columns = [getattr(DailyEvent, name) for name in ("category", "action", "label")
               if name[0] in _GROUP_LETTERS[group]]
    where = (DailyEvent.site == q.site_id) & DailyEvent.day.in_(days) & (DailyEvent.grain == grain)
    if category:
        where &= DailyEvent.category == category
    if action:
        where &= DailyEvent.action == action
    groups: dict[tuple[Any, ...], list[float]] = {}
    for row in (DailyEvent.select(*columns, fn.SUM(DailyEvent.events), fn.SUM(DailyEvent.sessions),
                                  fn.SUM(DailyEvent.value_sum), fn.SUM(DailyEvent.value_count),
                                  fn.SUM(DailyEvent.value_secondary_sum), fn.SUM(DailyEvent.value_secondary_count))
                .where(where).group_by(*columns).tuples()):
        groups[tuple(row[:len(columns)])] = [float(n or 0) for n in row[len(columns):]]
    where = (DailyEventTime.site == q.site_id) & DailyEventTime.day.in_(days)
    if category:
        where &= DailyEventTime.category == category
    if action:
        where &= DailyEventTime.action == action
    counts: dict[str, int] = {}
    for day, n in (DailyEventTime.select(DailyEventTime.occurred_day, fn.SUM(DailyEventTime.events))
                   .where(where).group_by(DailyEventTime.occurred_day).tuples()):
        key = bucket_of_day(_as_date(day), unit)
        counts[key] = counts.get(key, 0) + int(n)
    return groups, counts


def events_report(database: Database, q: Query, unit: str = "day", group: str = "category_action",
                  category: str = "", action: str = "") -> dict[str, Any]:
    """Event counts over time and a breakdown (count, sessions, value sum/avg, value_secondary sum/avg).

    `category`/`action` narrow the report to one kind of event (exact match)."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}")
    if group not in EVENT_GROUPS:
        raise ValueError(f"group must be one of {', '.join(EVENT_GROUPS)}")
    rolled = _rolled(q, unit)
    groups, counts = _rolled_events(q, list(rolled), unit, group, category, action) if rolled else ({}, {})
    for run in _raw_runs(q, rolled):
        run_groups, run_counts = _raw_events(database, run, unit, group, category, action)
        for key, numbers in run_groups.items():
            slot = groups.setdefault(key, [0.0] * 6)
            for i, n in enumerate(numbers):
                slot[i] += n
        _add_counts(counts, run_counts.items())
    items = []
    for keys, (count, sessions, vsum, vcount, ssum, scount) in sorted(
            groups.items(), key=lambda kv: (-kv[1][0], *(str(k) for k in kv[0]))):
        items.append({
            "category": keys[0] if group in ("category", "category_action") else None,
            "action": keys[-1] if group in ("action", "category_action") else None,
            "label": keys[0] if group == "label" else None,
            "count": int(count), "sessions": int(sessions),
            "value_sum": round(vsum, 4) if vcount else None,
            "value_avg": round(vsum / vcount, 4) if vcount else None,
            "value_secondary_sum": round(ssum, 4) if scount else None,
            "value_secondary_avg": round(ssum / scount, 4) if scount else None,
        })
    keys = bucket_keys(q, unit)
    return {
        "unit": unit, "group": group, "total": sum(item["count"] for item in items), "items": items,
        "buckets": keys, "points": [counts.get(k, 0) for k in keys],
    }
