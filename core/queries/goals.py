"""Goal conversions for a `Query`: how many of the segment's sessions met a goal, in total and over time.

A session converts when it has a page view whose path matches the goal's pattern (`*` wildcards),
an event with the goal's category (and action, when set), or the goal's tag — at any time during the
session. Matching ignores upper/lower case on both engines, like the segment filters
(`filters.text_match`). Sessions are those of `core.queries.filters.session_where` (started in the range, in the
segment), so a conversion rate here and a session count on the overview agree.
"""

from __future__ import annotations

from typing import Any

import peewee
from peewee import fn

from core.db import Database
from core.dialect import Dialect
from core.models import Event, Goal, Pageview, Session, SessionTag
from core.queries.filters import local_time, session_where, text_match
from core.queries.query import Query
from core.queries.stats import UNITS, bucket_keys


def goal_condition(goal: Goal, q: Query, dialect: Dialect) -> peewee.Expression:
    """`Session.id IN (…)`: the sessions of `q`'s site that met `goal` (from the range start on)."""
    low, _high = q.utc_bounds()
    site = q.site_id
    inner: Any
    if goal.kind == "page":
        inner = Pageview.select(Pageview.session).where(
            text_match(Pageview.path, [goal.path], dialect, Pageview.site == site) & (Pageview.started_at >= low))
    elif goal.kind == "event":
        where = text_match(Event.category, [goal.category], dialect, Event.site == site) & (Event.occurred_at >= low)
        if goal.action:
            where &= text_match(Event.action, [goal.action], dialect)
        inner = Event.select(Event.session).where(where)
    elif goal.kind == "tag":
        inner = SessionTag.select(SessionTag.session).where(
            text_match(SessionTag.tag, [goal.tag], dialect, SessionTag.site == site))
    else:
        raise ValueError(f"unknown goal kind {goal.kind!r}")
    return Session.id.in_(inner)


def rate(part: int, whole: int) -> float:
    """Percent with two decimals; 0.0 for no sessions."""
    return round(100.0 * part / whole, 2) if whole else 0.0


def conversions(database: Database, q: Query, goal: Goal, unit: str = "day") -> dict[str, Any]:
    """Sessions, conversions and rate for the range, and the same per bucket in the site's zone."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}")
    d = database.dialect
    where = session_where(q, d)
    met = goal_condition(goal, q, d)
    bucket = d.bucket_expr(local_time(Session.started_at, q, d), unit)
    found: dict[str, tuple[int, int]] = {}
    for key, sessions, converted in (
            Session.select(bucket.alias("b"), fn.COUNT(Session.id),
                           fn.SUM(peewee.Case(None, [(met, 1)], 0)))
            .where(where).group_by(peewee.SQL("b")).tuples()):
        found[str(key)] = (int(sessions), int(converted or 0))
    points = []
    for key in bucket_keys(q, unit):
        sessions, converted = found.get(key, (0, 0))
        points.append({"bucket": key, "sessions": sessions, "conversions": converted,
                       "rate": rate(converted, sessions)})
    total = sum(p["sessions"] for p in points)
    done = sum(p["conversions"] for p in points)
    return {"goal_id": goal.id, "from": q.start.isoformat(), "to": q.end.isoformat(), "timezone": q.timezone,
            "sessions": total, "conversions": done, "rate": rate(done, total), "unit": unit, "points": points}


def goals_summary(database: Database, q: Query, goals: list[Goal]) -> dict[int, dict[str, Any]]:
    """{goal id: {"sessions", "conversions", "rate"}} for a list of goals (one COUNT per goal)."""
    where = session_where(q, database.dialect)
    total = Session.select().where(where).count()
    out: dict[int, dict[str, Any]] = {}
    for goal in goals:
        done = Session.select().where(where & goal_condition(goal, q, database.dialect)).count() if total else 0
        out[goal.id] = {"sessions": total, "conversions": done, "rate": rate(done, total)}
    return out
