"""Turn a `Query` (range + segment filters) into SQL conditions, and local-time bucket expressions.

Every statistic selects sessions the same way: this site, started inside the range, matching every
segment filter. Pageview/event statistics keep rows whose own time is in the range and whose session
matches the filters. Engine differences (durations, date shifting) go through `core.dialect`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import peewee

from core.dialect import Dialect
from core.models import Event, Pageview, Session, SessionTag
from core.queries.query import Query

SESSION_LEVEL = ("country", "city", "device", "browser", "os", "language", "utm_source", "utm_medium",
                 "utm_campaign")


def like_pattern(field: Any, pattern: str) -> peewee.Expression:
    """`*` is the only wildcard; `%`, `_` and `\\` match themselves. Case-insensitive on both engines
    (peewee renders ILIKE as LIKE there: SQLite LIKE and MySQL _ci collations ignore ASCII case)."""
    if "*" not in pattern:
        return field == pattern
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace("*", "%")
    return peewee.Expression(field, peewee.OP.ILIKE, peewee.NodeList((
        peewee.Value(escaped, converter=False), peewee.SQL("ESCAPE"), peewee.Value("\\", converter=False))))


def _any(conditions: list[peewee.Expression]) -> peewee.Expression:
    out = conditions[0]
    for condition in conditions[1:]:
        out = out | condition
    return out


def _values(q: Query, name: str) -> list[str]:
    raw = q.filters.get(name) or ""
    return [item for item in str(raw).split(",") if item]


def has_session_filters(q: Query) -> bool:
    return bool(q.filters)


def session_filters(q: Query, dialect: Dialect) -> list[peewee.Expression]:
    """Conditions on `Session` for every segment filter of `q` (not the date range)."""
    conds: list[peewee.Expression] = []
    site = q.site_id
    for name in SESSION_LEVEL:
        values = _values(q, name)
        if not values:
            continue
        field = getattr(Session, name)
        if name == "country":
            values = ["" if v == "--" else v for v in values]
        conds.append(field.in_(values) if "*" not in "".join(values) else _any([like_pattern(field, v)
                                                                               for v in values]))
    for tag in _values(q, "tag"):  # AND: one sub-select per tag
        conds.append(Session.id.in_(SessionTag.select(SessionTag.session).where(
            (SessionTag.site == site) & (SessionTag.tag == tag))))
    no_tags = _values(q, "no_tag")
    if no_tags:
        conds.append(Session.id.not_in(SessionTag.select(SessionTag.session).where(
            (SessionTag.site == site) & SessionTag.tag.in_(no_tags))))
    pages = _values(q, "page")
    if pages:
        conds.append(Session.id.in_(Pageview.select(Pageview.session).where(
            (Pageview.site == site) & _any([like_pattern(Pageview.path, p) for p in pages]))))
    entry = q.filters.get("entry")
    if entry:
        # The landing URL is stored whole: match its path exactly as `page` matches Pageview.path
        # (a suffix match on the URL let /pricing match /x/pricing).
        # A session without a landing URL has no entry page (the path of "" would read as "/").
        conds.append((Session.landing_url != "") & like_pattern(dialect.url_path(Session.landing_url), entry))
    refs = _values(q, "referrer")
    if refs:
        options = []
        for ref in refs:
            if ref == "direct":
                options.append(Session.referrer_domain == "")
            elif "/" in ref or "*" in ref:
                options.append(like_pattern(Session.referrer, ref))
            else:
                options.append(Session.referrer_domain == ref.lower().removeprefix("www."))
        conds.append(_any(options))
    if "min_duration" in q.filters or "max_duration" in q.filters:
        length = dialect.seconds_between(Session.started_at, Session.last_seen_at)
        if "min_duration" in q.filters:
            conds.append(length >= int(q.filters["min_duration"]))
        if "max_duration" in q.filters:
            conds.append(length <= int(q.filters["max_duration"]))
    if "min_pages" in q.filters:
        conds.append(Session.pageview_count >= int(q.filters["min_pages"]))
    category, action = q.filters.get("event_category"), q.filters.get("event_action")
    if category or action:
        where = Event.site == site
        if category:
            where &= like_pattern(Event.category, category)
        if action:
            where &= like_pattern(Event.action, action)
        conds.append(Session.id.in_(Event.select(Event.session).where(where)))
    return conds


def session_where(q: Query, dialect: Dialect) -> peewee.Expression:
    """This site's sessions started in the range and matching the segment."""
    low, high = q.utc_bounds()
    where = (Session.site == q.site_id) & (Session.started_at >= low) & (Session.started_at < high)
    for cond in session_filters(q, dialect):
        where &= cond
    return where


def matching_sessions(q: Query, dialect: Dialect) -> peewee.ModelSelect:
    """Sub-select of the ids of matching sessions, for pageview/event/tag statistics."""
    return Session.select(Session.id).where(session_where(q, dialect))


def offset_segments(timezone: str, low: dt.datetime, high: dt.datetime) -> list[tuple[dt.datetime, int]]:
    """[(utc_from, offset_seconds)] covering [low, high): the zone's UTC offset and where it changes.

    DST changes happen at most a few times a year, so a day-by-day walk with a 15-minute refinement
    costs ~4000 zoneinfo calls for a 10-year range.
    """
    zone = ZoneInfo(timezone)

    def offset(moment: dt.datetime) -> int:
        delta = moment.replace(tzinfo=dt.UTC).astimezone(zone).utcoffset()
        return int(delta.total_seconds()) if delta else 0

    segments = [(low, offset(low))]
    cursor = low
    while cursor < high:
        step = min(high, cursor + dt.timedelta(days=1))
        if offset(step) != segments[-1][1] or step == high and offset(step - dt.timedelta(minutes=15)) != \
                segments[-1][1]:
            probe = cursor
            while probe < step:
                probe += dt.timedelta(minutes=15)
                if offset(probe) != segments[-1][1]:
                    segments.append((probe, offset(probe)))
                    break
        cursor = step
    return segments


def local_time(column: Any, q: Query, dialect: Dialect) -> Any:
    """`column` (naive UTC) as local wall time of the site's zone, exact across DST changes."""
    low, high = q.utc_bounds()
    segments = offset_segments(q.timezone, low - dt.timedelta(days=1), high + dt.timedelta(days=1))
    if len(segments) == 1:
        return dialect.shift_seconds(column, segments[0][1]) if segments[0][1] else column
    cases = [(column < start, segments[i - 1][1]) for i, (start, _off) in enumerate(segments) if i > 0]
    return dialect.shift_seconds(column, peewee.Case(None, cases, segments[-1][1]))
