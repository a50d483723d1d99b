"""Site statistics: overview numbers with the previous period, time series, breakdowns, visitors online.

A session and everything in it (pageviews, events) count in the range where the session *started*,
so every number on a page adds up. Without segment filters, complete days come from the daily
rollups (core.queries.rollups) and only the remaining days (usually today) are read raw; with
filters, everything is read raw. Functions return plain dicts and lists.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import peewee
from peewee import fn

from core.db import Database
from core.models import DailyBreakdown, DailyStat, Pageview, Session
from core.models.analytics import SESSIONS_BY_START
from core.queries import sketch
from core.queries.filters import local_time, session_where
from core.queries.query import Query

METRICS = ("visitors", "sessions", "pageviews", "bounce_rate", "avg_duration", "pages_per_session")
UNITS = ("hour", "day", "week", "month", "year")
ONLINE_MINUTES = 5
# Up to this many sessions in a range, visitors are counted exactly (a distinct over ≤ 50 k index rows
# takes ~30 ms); above it, the rollups' HyperLogLog sketches are merged (±1.6 %).
EXACT_VISITORS_LIMIT = 50_000

# dimension -> label; `session` dimensions group sessions, `page` dimensions group pageviews.
SESSION_DIMENSIONS = {
    "country": "Country", "city": "City", "browser": "Browser", "os": "Operating system",
    "device": "Device", "screen": "Screen size", "language": "Language",
    "referrer_domain": "Referrer", "referrer": "Referrer URL", "utm_source": "UTM source",
    "utm_medium": "UTM medium", "utm_campaign": "UTM campaign", "entry": "Entry page",
}
PAGE_DIMENSIONS = {"page": "Page", "exit": "Exit page"}
DIMENSIONS = {**SESSION_DIMENSIONS, **PAGE_DIMENSIONS}


def visitor_key() -> Any:
    """Who a visitor is: the keyed IP+UA hash, else the plain IP, else the session itself."""
    return fn.COALESCE(Session.visitor_hash, Session.ip, Session.token)


def _empty_totals() -> dict[str, Any]:
    return {"sessions": 0, "pageviews": 0, "bounces": 0, "duration_sum": 0, "events": 0}


def _derive(totals: dict[str, Any], visitors: int) -> dict[str, Any]:
    sessions = totals["sessions"]
    return {
        "visitors": visitors,
        "sessions": sessions,
        "pageviews": totals["pageviews"],
        "events": totals["events"],
        "bounces": totals["bounces"],
        "bounce_rate": round(100.0 * totals["bounces"] / sessions, 1) if sessions else 0.0,
        "avg_duration": round(totals["duration_sum"] / sessions, 1) if sessions else 0.0,
        "pages_per_session": round(totals["pageviews"] / sessions, 2) if sessions else 0.0,
    }


def _raw_totals(database: Database, q: Query) -> dict[str, Any]:
    d = database.dialect
    row = (Session.select(
        fn.COUNT(Session.id),
        fn.SUM(Session.pageview_count),
        fn.SUM(peewee.Case(None, [(Session.pageview_count <= 1, 1)], 0)),
        fn.SUM(d.seconds_between(Session.started_at, Session.last_seen_at)),
        fn.SUM(Session.event_count),
    ).where(session_where(q, d)).tuples().get())
    return {"sessions": int(row[0] or 0), "pageviews": int(row[1] or 0), "bounces": int(row[2] or 0),
            "duration_sum": int(row[3] or 0), "events": int(row[4] or 0)}


def _raw_visitors(database: Database, q: Query) -> int:
    return int(Session.select(fn.COUNT(fn.DISTINCT(visitor_key()))).where(
        session_where(q, database.dialect)).scalar() or 0)


def _raw_visitor_keys(database: Database, q: Query) -> Iterable[str]:
    return (row[0] for row in Session.select(visitor_key()).where(session_where(q, database.dialect)).tuples())


def rolled_days(q: Query) -> dict[dt.date, DailyStat]:
    """Complete rollup rows of the range, rolled up in the site's current time zone."""
    if q.filters:
        return {}
    rows = DailyStat.select().where(
        (DailyStat.site == q.site_id) & (DailyStat.day >= q.start) & (DailyStat.day <= q.end)
        & (DailyStat.complete == True) & (DailyStat.timezone == q.timezone))  # noqa: E712
    return {_as_date(row.day): row for row in rows}


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def missing_runs(q: Query, have: Iterable[dt.date]) -> list[Query]:
    """The days of `q` without a rollup, as consecutive sub-ranges."""
    have = set(have)
    runs: list[Query] = []
    day = q.start
    while day <= q.end:
        if day in have:
            day += dt.timedelta(days=1)
            continue
        first = day
        while day <= q.end and day not in have:
            day += dt.timedelta(days=1)
        runs.append(replace(q, start=first, end=day - dt.timedelta(days=1)))
    return runs


def _single_days(runs: list[Query]) -> list[Query]:
    out = []
    for run in runs:
        day = run.start
        while day <= run.end:
            out.append(replace(run, start=day, end=day))
            day += dt.timedelta(days=1)
    return out


def totals(database: Database, q: Query) -> dict[str, Any]:
    """Visitors, sessions, pageviews, events, bounces, bounce rate, average length, pages per session."""
    rolled = rolled_days(q)
    if not rolled:
        return _derive(_raw_totals(database, q), _raw_visitors(database, q))
    out = _empty_totals()
    for row in rolled.values():
        for key in out:
            out[key] += getattr(row, key)
    registers = sketch.new()
    for row in rolled.values():
        if row.visitor_sketch:
            sketch.merge(registers, bytes(row.visitor_sketch))
    for run in missing_runs(q, rolled):
        raw = _raw_totals(database, run)
        for key in out:
            out[key] += raw[key]
        sketch.add_all(registers, _raw_visitor_keys(database, run))
    if q.days == 1:
        visitors = rolled[next(iter(rolled))].visitors
    elif out["sessions"] <= EXACT_VISITORS_LIMIT:
        visitors = _raw_visitors(database, q)
    else:
        visitors = sketch.estimate(registers)
    return _derive(out, visitors)


def _change(current: float, previous: float) -> float | None:
    if not previous:
        return None
    return round(100.0 * (current - previous) / previous, 1)


def _raw_totals_both(database: Database, q: Query) -> tuple[dict[str, Any], dict[str, Any]]:
    """`totals` of `q` and of its previous period in one pass over both ranges: the segment's sessions
    are read once, not four times (totals and distinct visitors, twice)."""
    d = database.dialect
    prev = q.previous()
    split = q.utc_bounds()[0]  # == the previous period's end: the ranges touch
    period = peewee.Case(None, [(Session.started_at >= split, 1)], 0)
    where = session_where(replace(q, start=prev.start), d)  # both ranges
    found = {0: [0] * 6, 1: [0] * 6}
    for row in (Session.select(period.alias("is_current"), fn.COUNT(Session.id), fn.SUM(Session.pageview_count),
                               fn.SUM(peewee.Case(None, [(Session.pageview_count <= 1, 1)], 0)),
                               fn.SUM(d.seconds_between(Session.started_at, Session.last_seen_at)),
                               fn.SUM(Session.event_count), fn.COUNT(fn.DISTINCT(visitor_key())))
                .from_(d.ignoring_index(Session, SESSIONS_BY_START))  # the covering indexes serve this
                .where(where).group_by(peewee.SQL("is_current")).tuples()):
        found[int(row[0])] = [int(n or 0) for n in row[1:]]
    out = []
    for numbers in (found[1], found[0]):
        raw = dict(zip(("sessions", "pageviews", "bounces", "duration_sum", "events"), numbers[:5], strict=True))
        out.append(_derive(raw, numbers[5]))
    return out[0], out[1]


def overview(database: Database, q: Query) -> dict[str, Any]:
    """The headline numbers of `q` and of the same number of days just before, with % change."""
    if not rolled_days(q) and not rolled_days(q.previous()):
        current, previous = _raw_totals_both(database, q)
    else:
        current = totals(database, q)
        previous = totals(database, q.previous())
    return {
        "from": q.start.isoformat(), "to": q.end.isoformat(),
        "previous_from": q.previous().start.isoformat(), "previous_to": q.previous().end.isoformat(),
        "current": current, "previous": previous,
        "change": {name: _change(current[name], previous[name]) for name in METRICS},
    }


# -- time series ------------------------------------------------------------------------------------

def bucket_keys(q: Query, unit: str) -> list[str]:
    """Every bucket of the range, so days without visits show as zero."""
    keys: list[str] = []
    if unit == "hour":
        day = q.start
        while day <= q.end:
            keys += [f"{day.isoformat()} {hour:02d}:00" for hour in range(24)]
            day += dt.timedelta(days=1)
        return keys
    day = q.start
    while day <= q.end:
        if unit == "day":
            key = day.isoformat()
        elif unit == "week":
            key = (day - dt.timedelta(days=day.weekday())).isoformat()
        elif unit == "month":
            key = day.strftime("%Y-%m")
        else:
            key = day.strftime("%Y")
        if not keys or keys[-1] != key:
            keys.append(key)
        day += dt.timedelta(days=1)
    return keys


def bucket_of_day(day: dt.date, unit: str) -> str:
    if unit == "day":
        return day.isoformat()
    if unit == "week":
        return (day - dt.timedelta(days=day.weekday())).isoformat()
    return day.strftime("%Y-%m") if unit == "month" else day.strftime("%Y")


def _raw_series(database: Database, q: Query, unit: str) -> dict[str, dict[str, int]]:
    d = database.dialect
    bucket = d.bucket_expr(local_time(Session.started_at, q, d), unit)
    rows = (Session.select(bucket.alias("b"), fn.COUNT(Session.id), fn.COUNT(fn.DISTINCT(visitor_key())),
                           fn.SUM(Session.pageview_count),
                           fn.SUM(peewee.Case(None, [(Session.pageview_count <= 1, 1)], 0)))
            .where(session_where(q, d)).group_by(peewee.SQL("b")).tuples())
    return {str(b): {"sessions": int(s), "visitors": int(v), "pageviews": int(p or 0), "bounces": int(x or 0)}
            for b, s, v, p, x in rows}


def timeseries(database: Database, q: Query, unit: str = "day") -> dict[str, Any]:
    """Visitors, sessions, pageviews and bounce rate per hour/day/week/month/year, in the site's zone."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}")
    rolled = rolled_days(q) if unit != "hour" else {}
    if not rolled:
        found = _raw_series(database, q, unit)
    else:
        found = {}
        sketches: dict[str, bytearray] = {}
        for day, row in rolled.items():
            key = bucket_of_day(day, unit)
            slot = found.setdefault(key, {"sessions": 0, "visitors": 0, "pageviews": 0, "bounces": 0})
            slot["sessions"] += row.sessions
            slot["pageviews"] += row.pageviews
            slot["bounces"] += row.bounces
            slot["visitors"] += row.visitors
            if unit != "day" and row.visitor_sketch:
                sketch.merge(sketches.setdefault(key, sketch.new()), bytes(row.visitor_sketch))
        for day_q in _single_days(missing_runs(q, rolled)):
            for key, raw in _raw_series(database, day_q, unit).items():
                slot = found.setdefault(key, {"sessions": 0, "visitors": 0, "pageviews": 0, "bounces": 0})
                for name in slot:
                    slot[name] += raw[name]
                if unit != "day":  # one day lies in one bucket: its visitors join that bucket's sketch
                    sketch.add_all(sketches.setdefault(key, sketch.new()), _raw_visitor_keys(database, day_q))
        for key, registers in sketches.items():
            found[key]["visitors"] = sketch.estimate(registers)
        if unit != "day" and sum(slot["sessions"] for slot in found.values()) <= EXACT_VISITORS_LIMIT:
            found = _raw_series(database, q, unit)  # small enough to count visitors exactly
    points = []
    for key in bucket_keys(q, unit):
        slot = found.get(key, {"sessions": 0, "visitors": 0, "pageviews": 0, "bounces": 0})
        sessions = slot["sessions"]
        points.append({"bucket": key, "visitors": slot["visitors"], "sessions": sessions,
                       "pageviews": slot["pageviews"],
                       "bounce_rate": round(100.0 * slot["bounces"] / sessions, 1) if sessions else 0.0})
    return {"unit": unit, "timezone": q.timezone, "points": points}


def default_unit(q: Query) -> str:
    if q.days <= 2:
        return "hour"
    if q.days <= 92:
        return "day"
    return "week" if q.days <= 400 else "month"


# -- breakdowns -------------------------------------------------------------------------------------

def path_of(url: str) -> str:
    try:
        return urlsplit(url).path or "/"
    except ValueError:
        return url[:512]


def _add(into: dict[str, list[int]], value: str, sessions: int, pageviews: int, bounces: int,
         duration: int) -> None:
    slot = into.setdefault(value, [0, 0, 0, 0])
    slot[0] += sessions
    slot[1] += pageviews
    slot[2] += bounces
    slot[3] += duration


def _raw_breakdown(database: Database, q: Query, dimension: str) -> dict[str, list[int]]:
    """value -> [sessions, pageviews, bounces, duration] from the raw tables (duration: session seconds;
    for page dimensions the pageviews' active milliseconds)."""
    d = database.dialect
    where = session_where(q, d)
    out: dict[str, list[int]] = {}
    if dimension in PAGE_DIMENSIONS:
        query = (Pageview.select(Pageview.path, fn.COUNT(fn.DISTINCT(Pageview.session)), fn.COUNT(Pageview.id),
                                 fn.SUM(peewee.Case(None, [(Session.pageview_count <= 1, 1)], 0)),
                                 fn.SUM(Pageview.active_ms))
                 .join(Session, on=(Pageview.session == Session.id)).where(where))
        if dimension == "exit":
            # The last pageview(s) of each session: one grouped pass, joined back (a correlated
            # MAX per row took 100x longer on 1 M sessions).
            last = Pageview.alias("last")
            ends = (last.select(last.session.alias("sid"), fn.MAX(last.started_at).alias("at"))
                    .join(Session, on=(last.session == Session.id)).where(where).group_by(last.session))
            query = query.join(ends, on=((ends.c.sid == Pageview.session) & (ends.c.at == Pageview.started_at)))
        for path, sessions, pageviews, bounces, active in query.group_by(Pageview.path).tuples():
            _add(out, path, int(sessions), int(pageviews), int(bounces or 0), int(active or 0))  # ms
        return out
    columns = {"city": (Session.country, Session.city), "screen": (Session.screen_w, Session.screen_h),
               "entry": (Session.landing_url,)}.get(dimension, (getattr(Session, dimension, None),))
    if columns[0] is None:
        raise ValueError(f"unknown dimension {dimension}")
    rows = (Session.select(*columns, fn.COUNT(Session.id), fn.SUM(Session.pageview_count),
                           fn.SUM(peewee.Case(None, [(Session.pageview_count <= 1, 1)], 0)),
                           fn.SUM(d.seconds_between(Session.started_at, Session.last_seen_at)))
            .where(where).group_by(*columns).tuples())
    for row in rows:
        keys, numbers = row[:len(columns)], row[len(columns):]
        _add(out, dimension_value(dimension, keys), *(int(n or 0) for n in numbers))
    return out


def dimension_value(dimension: str, keys: tuple[Any, ...]) -> str:
    """The stored/grouped value of a dimension from its columns."""
    if dimension == "city":
        return f"{keys[0]}|{keys[1]}" if keys[1] else ""
    if dimension == "screen":
        return f"{keys[0]}x{keys[1]}" if keys[0] else ""
    if dimension == "entry":
        return path_of(keys[0]) if keys[0] else ""
    return str(keys[0] or "")


def _rolled_breakdown(q: Query, dimension: str, days: Iterable[dt.date]) -> dict[str, list[int]]:
    days = sorted(days)
    out: dict[str, list[int]] = {}
    if not days:
        return out
    rows = (DailyBreakdown.select(DailyBreakdown.value, fn.SUM(DailyBreakdown.sessions),
                                  fn.SUM(DailyBreakdown.pageviews), fn.SUM(DailyBreakdown.bounces),
                                  fn.SUM(DailyBreakdown.duration_sum))
            .where((DailyBreakdown.site == q.site_id) & (DailyBreakdown.dimension == dimension)
                   & DailyBreakdown.day.in_(days))
            .group_by(DailyBreakdown.value).tuples())
    for value, *numbers in rows:
        _add(out, value, *(int(n or 0) for n in numbers))
    return out


SORTS = ("sessions", "pageviews", "bounce_rate", "avg_duration", "value")


def breakdown(database: Database, q: Query, dimension: str, limit: int = 10, offset: int = 0,
              sort: str = "sessions") -> dict[str, Any]:
    """Top values of a dimension: sessions (pages: sessions that viewed it), pageviews, bounce rate and
    average duration (pages: average active seconds per pageview), with the total number of values."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"dimension must be one of {', '.join(DIMENSIONS)}")
    rolled = rolled_days(q)
    merged = _rolled_breakdown(q, dimension, rolled)
    for run in missing_runs(q, rolled) if rolled else [q]:
        for value, numbers in _raw_breakdown(database, run, dimension).items():
            _add(merged, value, *numbers)
    whole = 1 if dimension in PAGE_DIMENSIONS else 0  # share of pageviews for pages, else of sessions
    all_count = sum(n[whole] for n in merged.values()) or 1
    items: list[dict[str, Any]] = []
    for value, (sessions, pageviews, bounces, stored) in merged.items():
        if dimension in PAGE_DIMENSIONS:  # average active time per pageview; stored in ms
            per, duration = pageviews, stored / 1000.0
        else:
            per, duration = sessions, float(stored)
        items.append({
            "value": value, "sessions": sessions, "pageviews": pageviews,
            "share": round(100.0 * (pageviews if whole else sessions) / all_count, 1),
            "bounce_rate": round(100.0 * bounces / sessions, 1) if sessions else 0.0,
            "avg_duration": round(duration / per, 1) if per else 0.0,
        })
    key = sort if sort in SORTS else "sessions"
    if key == "value":
        items.sort(key=lambda item: item["value"])
    else:
        items.sort(key=lambda item: (-item[key], item["value"]))
    return {"dimension": dimension, "total": len(items), "items": items[offset:offset + limit]}


def online_now(database: Database, site_id: int, now: dt.datetime | None = None) -> int:
    """Sessions active in the last 5 minutes (the start bound keeps the index on (site, started_at))."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    since = now - dt.timedelta(minutes=ONLINE_MINUTES)
    return Session.select().where(
        (Session.site == site_id) & (Session.started_at >= now - dt.timedelta(hours=12))
        & (Session.started_at <= now) & (Session.last_seen_at >= since)).count()
