"""Build and keep the daily rollups that the statistics and the tags/events reports read
(`rollup_daily`, `rollup_breakdowns`, `rollup_events`, `rollup_event_days`, `rollup_tags`).

A day is rolled up in the site's time zone from the raw tables, with exactly the definitions of the
raw queries in core.queries.stats (sessions count on the day they started). The `rollups` job rolls
today every few minutes and back-fills days without a complete row (yesterday too, until an hour after
midnight); deleting sessions calls `invalidate` so their days are read raw until rolled again.
A time-zone change makes every row stale, so the job redoes them; `jobs run rollups --rebuild` forces it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any
from zoneinfo import ZoneInfo

import peewee

from core.models import (
    EVENT_GRAINS,
    DailyBreakdown,
    DailyEvent,
    DailyEventTime,
    DailyStat,
    DailyTag,
    Event,
    Pageview,
    Session,
    SessionTag,
    Site,
    utcnow,
)
from core.queries import sketch
from core.queries.query import Query, today_in
from core.queries.stats import SESSION_DIMENSIONS, dimension_value, visitor_key

GRACE = dt.timedelta(hours=1)  # late pageviews of sessions that started just before midnight
MAX_DAYS_PER_RUN = 400  # back-fill in slices so one job run stays short
Progress = Callable[[int, int, str], None]

_SESSION_COLUMNS = {
    "city": ("country", "city"), "screen": ("screen_w", "screen_h"), "entry": ("landing_url",),
}


def roll_day(db: peewee.Database, site: Site, day: dt.date, now: dt.datetime | None = None) -> DailyStat:
    """(Re)compute one local day of one site and store it, replacing what was there."""
    now = now or utcnow()
    q = Query(site.id, site.timezone, day, day)
    low, high = q.utc_bounds()
    in_day = (Session.site == site.id) & (Session.started_at >= low) & (Session.started_at < high)
    fields = [Session.id, visitor_key(), Session.started_at, Session.last_seen_at, Session.pageview_count,
              Session.event_count]
    names = sorted({col for dim in SESSION_DIMENSIONS for col in _SESSION_COLUMNS.get(dim, (dim,))})
    fields += [getattr(Session, name) for name in names]
    totals = {"sessions": 0, "pageviews": 0, "bounces": 0, "duration_sum": 0, "events": 0}
    breakdowns: dict[tuple[str, str], list[int]] = {}
    visitors: set[str] = set()
    bounce_of: dict[int, int] = {}

    def add(dim: str, value: str, numbers: tuple[int, int, int, int]) -> None:
        slot = breakdowns.setdefault((dim, value), [0, 0, 0, 0])
        for i, n in enumerate(numbers):
            slot[i] += n

    for row in Session.select(*fields).where(in_day).tuples().iterator():
        sid, visitor, started, last_seen, pages, events = row[:6]
        columns = dict(zip(names, row[6:], strict=True))
        duration = int((_dt(last_seen) - _dt(started)).total_seconds())
        bounce = 1 if pages <= 1 else 0
        bounce_of[sid] = bounce
        totals["sessions"] += 1
        totals["pageviews"] += pages
        totals["bounces"] += bounce
        totals["duration_sum"] += duration
        totals["events"] += events
        visitors.add(str(visitor))
        for dim in SESSION_DIMENSIONS:
            keys = tuple(columns[c] for c in _SESSION_COLUMNS.get(dim, (dim,)))
            add(dim, dimension_value(dim, keys), (1, pages, bounce, duration))

    pages_seen: dict[str, set[int]] = {}
    last_page: dict[int, list[tuple[Any, str, int]]] = {}
    views = (Pageview.select(Pageview.session, Pageview.path, Pageview.started_at, Pageview.active_ms)
             .join(Session, on=(Pageview.session == Session.id)).where(in_day).tuples().iterator())
    for sid, path, started, active_ms in views:
        bounce = bounce_of.get(sid, 0)
        add("page", path, (0, 1, bounce, int(active_ms or 0)))
        pages_seen.setdefault(path, set()).add(sid)
        moment = _dt(started)
        current = last_page.get(sid)
        if current is None or moment > current[0][0]:
            last_page[sid] = [(moment, path, int(active_ms or 0))]
        elif moment == current[0][0]:
            current.append((moment, path, int(active_ms or 0)))
    for path, sessions in pages_seen.items():
        breakdowns[("page", path)][0] = len(sessions)
    exits: dict[str, set[int]] = {}
    for sid, entries in last_page.items():
        for _moment, path, active_ms in entries:
            add("exit", path, (0, 1, bounce_of.get(sid, 0), active_ms))
            exits.setdefault(path, set()).add(sid)
    for path, sessions in exits.items():
        breakdowns[("exit", path)][0] = len(sessions)

    registers = sketch.add_all(sketch.new(), visitors)
    report_rows = _report_rows(site, day, in_day)
    with db.atomic():
        _delete_days(site.id, [day])
        stat = DailyStat.create(site=site.id, day=day, timezone=site.timezone, visitors=len(visitors),
                                visitor_sketch=bytes(registers), complete=now >= high + GRACE, rolled_at=now,
                                has_reports=True, **totals)
        rows = [{"site": site.id, "day": day, "dimension": dim, "value": value[:2048], "sessions": n[0],
                 "pageviews": n[1], "bounces": n[2], "duration_sum": n[3]}
                for (dim, value), n in breakdowns.items()]
        _insert_rows(((DailyBreakdown, rows), *report_rows))
    return stat


def roll_reports(db: peewee.Database, site: Site, day: dt.date) -> None:
    """Add the events and tags rollups to a day rolled before they existed, keeping its totals."""
    low, high = Query(site.id, site.timezone, day, day).utc_bounds()
    in_day = (Session.site == site.id) & (Session.started_at >= low) & (Session.started_at < high)
    report_rows = _report_rows(site, day, in_day)
    with db.atomic():
        for model in REPORT_TABLES:
            model.delete().where((model.site == site.id) & (model.day == day)).execute()
        _insert_rows(report_rows)
        DailyStat.update(has_reports=True).where((DailyStat.site == site.id) & (DailyStat.day == day)).execute()


def _insert_rows(tables: Iterable[tuple[type[peewee.Model], list[dict[str, Any]]]]) -> None:
    for model, rows in tables:
        for start in range(0, len(rows), 500):
            model.insert_many(rows[start:start + 500]).execute()


def _report_rows(site: Site, day: dt.date, in_day: Any) -> list[tuple[type[peewee.Model], list[dict[str, Any]]]]:
    event_rows, event_days = _event_rows(site, day, in_day)
    tag_rows = [{"site": site.id, "day": day, "tag": tag, "sessions": int(n)} for tag, n in
                SessionTag.select(SessionTag.tag, peewee.fn.COUNT(SessionTag.id))
                .join(Session, on=(SessionTag.session == Session.id)).where(in_day)
                .group_by(SessionTag.tag).tuples()]
    return [(DailyEvent, event_rows), (DailyEventTime, event_days), (DailyTag, tag_rows)]


def _event_rows(site: Site, day: dt.date, in_day: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`rollup_events` rows (one per grain and value set) and `rollup_event_days` rows of the events of
    the day's sessions, with the raw report's definitions (core.queries.reports)."""
    zone = ZoneInfo(site.timezone)
    grains: dict[tuple[str, str, str, str], list[Any]] = {}  # (grain, c, a, l) -> numbers + session set
    by_day: dict[tuple[dt.date, str, str], int] = {}
    events = (Event.select(Event.session, Event.occurred_at, Event.category, Event.action, Event.label, Event.value,
                           Event.value_secondary)
              .join(Session, on=(Event.session == Session.id)).where(in_day).tuples().iterator())
    for sid, occurred, category, action, label, value, second in events:
        local = _dt(occurred).replace(tzinfo=dt.UTC).astimezone(zone).date()
        by_day[(local, category, action)] = by_day.get((local, category, action), 0) + 1
        for grain in EVENT_GRAINS:
            key = (grain, category if "c" in grain else "", action if "a" in grain else "",
                   label if "l" in grain else "")
            slot = grains.get(key)
            if slot is None:
                slot = grains[key] = [0, set(), 0.0, 0, 0.0, 0]
            slot[0] += 1
            slot[1].add(sid)
            if value is not None:
                slot[2] += float(value)
                slot[3] += 1
            if second is not None:
                slot[4] += float(second)
                slot[5] += 1
    rows = [{"site": site.id, "day": day, "grain": grain, "category": c, "action": a, "label": label[:256],
             "events": n[0], "sessions": len(n[1]), "value_sum": n[2], "value_count": n[3],
             "value_secondary_sum": n[4], "value_secondary_count": n[5]}
            for (grain, c, a, label), n in grains.items()]
    days = [{"site": site.id, "day": day, "occurred_day": local, "category": c, "action": a, "events": n}
            for (local, c, a), n in by_day.items()]
    return rows, days


REPORT_TABLES = (DailyEvent, DailyEventTime, DailyTag)
ROLLUP_TABLES = (DailyStat, DailyBreakdown, *REPORT_TABLES)


def _delete_days(site_id: int, days: list[dt.date] | None = None, before: dt.date | None = None) -> int:
    """Delete the site's rows of every rollup table for these days (all days when neither is given);
    returns how many `rollup_daily` rows went."""
    deleted = 0
    for model in reversed(ROLLUP_TABLES):  # rollup_daily last: its count is the answer
        where = model.site == site_id
        if days is not None:
            where &= model.day.in_(days)
        if before is not None:
            where &= model.day < before
        deleted = model.delete().where(where).execute()
    return deleted


def _dt(value: Any) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def days_to_roll(site: Site, now: dt.datetime | None = None, rebuild: bool = False) -> list[dt.date]:
    """Today, plus every earlier day since the first session without a complete row (yesterday stays
    incomplete until an hour after midnight, so late pageviews of its sessions are still counted)."""
    now = now or utcnow()
    today = today_in(site.timezone, now.replace(tzinfo=dt.UTC))
    first = Session.select(peewee.fn.MIN(Session.started_at)).where(Session.site == site.id).scalar()
    if first is None:
        return []
    first_day = today_in(site.timezone, _dt(first).replace(tzinfo=dt.UTC))
    done = set() if rebuild else {
        row.day if isinstance(row.day, dt.date) else dt.date.fromisoformat(str(row.day))
        for row in DailyStat.select(DailyStat.day).where(
            (DailyStat.site == site.id) & (DailyStat.complete == True)  # noqa: E712
            & (DailyStat.timezone == site.timezone))}
    days = []
    day = first_day
    while day <= today:
        if day not in done or day == today:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def rebuild_site(db: peewee.Database, site_id: int, progress: Progress | None = None,
                 rebuild: bool = True) -> int:
    site = Site.get_by_id(site_id)
    if rebuild:
        _delete_days(site.id)
    days = days_to_roll(site, rebuild=rebuild)
    if not rebuild:
        days = days[-MAX_DAYS_PER_RUN:]
    for index, day in enumerate(days, start=1):
        roll_day(db, site, day)
        if progress:
            progress(index, len(days), f"{site.domain} {day.isoformat()}")
    for day in days_without_reports(site)[-MAX_DAYS_PER_RUN:]:
        roll_reports(db, site, day)
    return len(days)


def days_without_reports(site: Site) -> list[dt.date]:
    """Rolled days (of the current time zone) without events and tags rollups: rolled before 0030."""
    return sorted(_as_date(row[0]) for row in DailyStat.select(DailyStat.day).where(
        (DailyStat.site == site.id) & (DailyStat.has_reports == False)  # noqa: E712
        & (DailyStat.timezone == site.timezone)).tuples())


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def invalidate(site_id: int, moments: Iterable[dt.datetime], timezone: str) -> int:
    """Drop the rollups of the local days of `moments` (sessions' start times): read raw until rolled again."""
    days = {today_in(timezone, moment.replace(tzinfo=dt.UTC)) for moment in moments}
    if not days:
        return 0
    return _delete_days(site_id, sorted(days))


def forget_days_before(site_id: int, day: dt.date) -> int:
    """Drop the site's statistics rollups of days before `day` (retention's age limit)."""
    return _delete_days(site_id, before=day)


def rollup_job(ctx: Any, *, rebuild: bool = False, progress: Progress | None = None) -> str:
    """The scheduled job: roll recent days and back-fill missing ones for every site."""
    db = ctx.database.db
    total = 0
    for site in Site.select().order_by(Site.id):
        total += rebuild_site(db, site.id, progress=progress, rebuild=rebuild)
    return f"rolled up {total} site-day(s)"


def register_jobs(ctx: Any) -> None:
    from core.tasks import Job, add_jobs

    if "rollups" not in ctx.services.get("jobs", {}):
        add_jobs(ctx, Job("rollups", rollup_job, "Roll up daily statistics (today and days without a complete rollup).",
                          seconds=300, supports_rebuild=True))
