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
CANONICAL_CASE = ("country", "device")  # stored in one case; `core.queries.query` parses them to it


def like_pattern(field: Any, pattern: str) -> peewee.Expression:
    """`*` is the only wildcard; `%`, `_` and `\\` match themselves. With a `*`, case-insensitive on
    both engines (peewee renders ILIKE as LIKE there: SQLite LIKE and MySQL _ci collations ignore ASCII
    case); without one, a plain `=` (segment filters use `text_match`, which ignores case there too)."""
    if "*" not in pattern:
        return field == pattern
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace("*", "%")
    return peewee.Expression(field, peewee.OP.ILIKE, peewee.NodeList((
        peewee.Value(escaped, converter=False), peewee.SQL("ESCAPE"), peewee.Value("\\", converter=False))))


def text_match(field: Any, patterns: list[str], dialect: Dialect, scope: Any = None) -> peewee.Expression:
    """`field` matching any of `patterns` (exact values, or `*` wildcards), ignoring upper/lower case on
    both engines. `scope`: equalities on the columns an index has before `field` (see
    `Dialect.equal_ignoring_case`), so exact values stay a seek on that index."""
    exact = [p for p in patterns if "*" not in p]
    wild = [like_pattern(field, p) for p in patterns if "*" in p]
    if not wild:
        return dialect.equal_ignoring_case(field, exact, scope)
    # A wildcard reads every row of the scope anyway: no seek to keep for the exact values.
    either = _any(wild + ([dialect.equal_ignoring_case(field, exact)] if exact else []))
    return either if scope is None else scope & either


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
        if name in CANONICAL_CASE:
            # Stored and parsed in one case (country codes upper, devices lower): a plain IN already
            # ignores the case typed, and keeps the (country, device, site, …) index usable.
            conds.append(field.in_(["" if v == "--" else v for v in values]))
        else:
            conds.append(text_match(field, values, dialect))
    for tag in _values(q, "tag"):  # AND: one sub-select per tag
        conds.append(Session.id.in_(SessionTag.select(SessionTag.session).where(
            text_match(SessionTag.tag, [tag], dialect, scope=SessionTag.site == site))))
    no_tags = _values(q, "no_tag")
    if no_tags:
        conds.append(Session.id.not_in(SessionTag.select(SessionTag.session).where(
            text_match(SessionTag.tag, no_tags, dialect, scope=SessionTag.site == site))))
    pages = _values(q, "page")
    if pages:
        conds.append(Session.id.in_(Pageview.select(Pageview.session).where(
            text_match(Pageview.path, pages, dialect, scope=Pageview.site == site))))
    entry = q.filters.get("entry")
    if entry:
        # The landing URL is stored whole: match its path exactly as `page` matches Pageview.path
        # (a suffix match on the URL let /pricing match /x/pricing).
        # A session without a landing URL has no entry page (the path of "" would read as "/").
        conds.append((Session.landing_url != "") & text_match(dialect.url_path(Session.landing_url), [entry], dialect))
    refs = _values(q, "referrer")
    if refs:
        options = []
        for ref in refs:
            if ref == "direct":
                options.append(Session.referrer_domain == "")
            elif "/" in ref or "*" in ref:
                options.append(text_match(Session.referrer, [ref], dialect))
            else:  # domains are stored in lower case
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
        if category:  # (site, category, action) is indexed: seek on the category
            where = text_match(Event.category, [category], dialect, scope=where)
        if action:
            where &= text_match(Event.action, [action], dialect)
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
