"""The `retention` job: each site's session cap and age limit, enforced by deleting whole sessions.

Oldest sessions (by start time) go first. Sessions are deleted in batches of BATCH_SESSIONS,
each batch one transaction that removes everything under its sessions (heatmap points,
recording chunks, events, tags, pageviews, then the sessions; any other table that references a
session or pageview goes by its ON DELETE CASCADE). A batch is small enough (500 sessions ≈ a
few tens of ms) that the collection flusher never waits long, and a run stopped half-way leaves
only whole sessions deleted. After the deletions, the "orphan cleaners" other parts register in
`ctx.services["orphan_cleaners"]` (callables `cleaner(ctx) -> int`, e.g. page snapshots no
pageview uses any more) run once.

Heatmap rollups keep the aggregated history of deleted sessions (anonymous counts per page, day
and 10-px cell), except that the age limit also drops rolled-up days older than it. The job
takes its own named lock, so a run from the dashboard or the CLI never overlaps the scheduler's.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

import peewee

from core import sites
from core.context import AppContext
from core.models import Event, HeatmapPoint, Pageview, RecordingChunk, Session, SessionTag, Site, utcnow
from core.queries.query import today_in

log = logging.getLogger("uxwizz.retention")
BATCH_SESSIONS = 500
LOCK_NAME = "retention"
# Rough bytes per row (data + index) for the storage estimate; measured on SQLite with seed data.
ROW_BYTES = {"sessions": 420, "pageviews": 330, "events": 220, "heatmap_points": 110}
# Children first, so neither engine has to cascade from sessions (SQLite would scan child tables
# without an index on the foreign key); the order follows the foreign keys.
CHILDREN: tuple[type[peewee.Model], ...] = (HeatmapPoint, RecordingChunk, Event, SessionTag, Pageview)
Progress = Callable[[int, int, str], None]


def orphan_cleaners(ctx: AppContext) -> list[Callable[[AppContext], int]]:
    """The hook other parts append to: run after every retention pass."""
    return ctx.services.setdefault("orphan_cleaners", [])


def _delete_rows(session_ids: list[int]) -> Counter:
    removed: Counter = Counter()
    for model in CHILDREN:
        removed[model._meta.table_name] += model.delete().where(model.session << session_ids).execute()
    removed["sessions"] += Session.delete().where(Session.id << session_ids).execute()
    return removed


def delete_sessions(db: peewee.Database, session_ids: list[int]) -> Counter:
    """Delete these sessions and everything under them, in one transaction."""
    if not session_ids:
        return Counter()
    with db.atomic():
        return _delete_rows(session_ids)


def _oldest(site_id: int, limit: int, before: dt.datetime | None = None) -> list[int]:
    query = Session.select(Session.id).where(Session.site == site_id)
    if before is not None:
        query = query.where(Session.started_at < before)
    return [sid for (sid,) in query.order_by(Session.started_at, Session.id).limit(limit).tuples()]


def plan(site: Site, now: dt.datetime) -> tuple[dt.datetime | None, int, int]:
    """(age cutoff or None, sessions older than it, sessions over the cap after that)."""
    settings = sites.tracking_settings(site)
    max_age = int(settings.get("max_age_days") or 0)
    cap = int(settings.get("max_sessions") or 0)
    cutoff = now - dt.timedelta(days=max_age) if max_age > 0 else None
    too_old = (Session.select().where((Session.site == site.id) & (Session.started_at < cutoff)).count()
               if cutoff is not None else 0)
    total = Session.select().where(Session.site == site.id).count()
    over_cap = max(0, total - too_old - cap) if cap > 0 else 0
    return cutoff, too_old, over_cap


def enforce_site(db: peewee.Database, site: Site, now: dt.datetime, removed: Counter,
                 advance: Callable[[int], None]) -> int:
    cutoff, too_old, over_cap = plan(site, now)
    deleted = 0
    if cutoff is not None:
        while True:
            ids = _oldest(site.id, BATCH_SESSIONS, before=cutoff)
            if not ids:
                break
            removed.update(delete_sessions(db, ids))
            deleted += len(ids)
            advance(len(ids))
        from core.heatmaps.rollup import forget_days_before
        from core.queries import rollups

        max_age = (now - cutoff).days
        first_kept = today_in(site.timezone or "UTC", now.replace(tzinfo=dt.UTC)) - dt.timedelta(days=max_age)
        with db.atomic():
            # Aggregates outlive sessions removed by the cap, but not the age limit.
            removed["heatmap_rollup_rows"] += forget_days_before(site.id, first_kept)
            removed["stats_rollup_rows"] += rollups.forget_days_before(site.id, first_kept)
    left = over_cap
    while left > 0:
        ids = _oldest(site.id, min(BATCH_SESSIONS, left))
        if not ids:
            break
        removed.update(delete_sessions(db, ids))
        deleted += len(ids)
        left -= len(ids)
        advance(len(ids))
    return deleted


def run_retention(ctx: AppContext, *, progress: Progress | None = None, now: dt.datetime | None = None) -> str:
    """The job: every site's limits, then the orphan cleaners."""
    db, dialect = ctx.database.db, ctx.database.dialect
    handle = dialect.acquire_lock(db, LOCK_NAME, ctx.settings.data_dir)
    if handle is None:
        return "skipped: retention is running in another process"
    try:
        now = now or utcnow()
        all_sites = list(Site.select().order_by(Site.id))
        total = sum(p[1] + p[2] for p in (plan(site, now) for site in all_sites))
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            if progress is not None:
                progress(min(done, total), max(total, done), "")

        if progress is not None:
            progress(0, total, "")
        removed: Counter = Counter()
        sessions = 0
        for site in all_sites:
            sessions += enforce_site(db, site, now, removed, advance)
        orphans = 0
        for cleaner in list(orphan_cleaners(ctx)):
            try:
                orphans += int(cleaner(ctx) or 0)
            except Exception:  # one failing cleaner must not hide the others' work
                log.exception("orphan cleaner %r failed", cleaner)
        if progress is not None:
            progress(total, total, "")
    finally:
        dialect.release_lock(db, handle)
    parts = [f"deleted {sessions} session(s)"]
    parts += [f"{n} {table}" for table, n in sorted(removed.items()) if table != "sessions" and n]
    if orphans:
        parts.append(f"{orphans} orphaned row(s)")
    return ", ".join(parts)


def site_storage(site: Site) -> dict[str, Any]:
    """Row counts and an estimate of the bytes a site's data takes."""
    counts = {
        "sessions": Session.select().where(Session.site == site.id).count(),
        "pageviews": Pageview.select().where(Pageview.site == site.id).count(),
        "events": Event.select().where(Event.site == site.id).count(),
        "heatmap_points": HeatmapPoint.select().where(HeatmapPoint.site == site.id).count(),
    }
    recording_bytes = int(RecordingChunk.select(peewee.fn.SUM(RecordingChunk.size))
                          .where(RecordingChunk.site == site.id).scalar() or 0)
    estimate = sum(ROW_BYTES[name] * n for name, n in counts.items()) + recording_bytes
    oldest = Session.select(peewee.fn.MIN(Session.started_at)).where(Session.site == site.id).scalar()
    return {**counts, "recording_bytes": recording_bytes, "bytes": estimate, "oldest": oldest}


def register(ctx: AppContext) -> None:
    from core.tasks import Job, add_jobs

    orphan_cleaners(ctx)
    add_jobs(ctx, Job("retention", run_retention,
                      "Delete sessions over each site's cap or older than its age limit.",
                      cron={"hour": 3, "minute": 41}))
