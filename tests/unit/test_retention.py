"""Retention: the cap and the age limit delete exactly the right sessions and everything under them."""

from __future__ import annotations

import datetime as dt

import pytest

from core import retention, sites
from core.heatmaps.rollup import run_rollup
from core.models import Event, HeatmapPoint, Pageview, RecordingChunk, Session, SessionTag
from core.models.heatmaps import HeatmapGrid
from core.queries.heatmaps import HeatmapFilter, heatmap
from core.queries.query import Query
from tests.unit.test_heatmap_data import full_session, make_site

NOW = dt.datetime(2026, 11, 30, 12, 0, 0)
CHILD_MODELS = (Pageview, Event, SessionTag, HeatmapPoint, RecordingChunk)


def rows_of(session_ids) -> int:
    return sum(m.select().where(m.session << list(session_ids)).count() for m in CHILD_MODELS)


def orphans() -> int:
    """Rows whose session no longer exists (must always be 0)."""
    live = Session.select(Session.id)
    return sum(m.select().where(m.session.not_in(live)).count() for m in CHILD_MODELS)


def sessions_at(site, days_ago: list[int]) -> list[Session]:
    return [full_session(site, NOW - dt.timedelta(days=d, minutes=i)) for i, d in enumerate(days_ago)]


def test_cap_removes_the_oldest_sessions_and_everything_under_them(app):
    site = make_site("cap.example")
    other = make_site("other.example")
    sites.update_site(site, settings={"max_sessions": 3})
    made = sessions_at(site, [1, 5, 2, 9, 3])  # oldest: 9 and 5 days ago
    kept_elsewhere = sessions_at(other, [40, 50])
    doomed = {made[3].id, made[1].id}
    assert rows_of(doomed) == 2 * 7  # 1 pageview, 1 event, 1 tag, 3 points, 1 chunk per session
    result = retention.run_retention(app.ctx, now=NOW)
    assert result.startswith("deleted 2 session(s)")
    left = {s.id for s in Session.select().where(Session.site == site.id)}
    assert left == {s.id for s in made} - doomed
    assert rows_of(doomed) == 0 and orphans() == 0
    assert rows_of(left) == 3 * 7
    assert Session.select().where(Session.site == other.id).count() == len(kept_elsewhere)  # default cap 100k


def test_age_limit_deletes_older_sessions_and_old_rollup_days(app):
    site = make_site("age.example")
    sites.update_site(site, settings={"max_age_days": 10})
    made = sessions_at(site, [11, 30, 9, 0])
    run_rollup(app.ctx, settle_seconds=0, scroll_settle_seconds=0)
    assert HeatmapGrid.select().where(HeatmapGrid.day < dt.date(2026, 11, 20)).count() > 0
    retention.run_retention(app.ctx, now=NOW)
    assert {s.id for s in Session.select().where(Session.site == site.id)} == {made[2].id, made[3].id}
    assert orphans() == 0
    assert HeatmapGrid.select().where(HeatmapGrid.day < dt.date(2026, 11, 20)).count() == 0
    # Rolled-up history of the remaining days is kept: the 9-day-old session's clicks still show.
    query = Query(site.id, "UTC", dt.date(2026, 11, 21), dt.date(2026, 11, 21))
    assert heatmap(query, HeatmapFilter("/pricing"))["total"] == 1


def test_cap_counts_after_the_age_limit(app):
    site = make_site("both.example")
    sites.update_site(site, settings={"max_age_days": 20, "max_sessions": 2})
    made = sessions_at(site, [25, 15, 10, 5])
    retention.run_retention(app.ctx, now=NOW)
    assert {s.id for s in Session.select().where(Session.site == site.id)} == {made[2].id, made[3].id}


def test_interrupted_run_leaves_whole_sessions_only(app, monkeypatch):
    site = make_site("crash.example")
    sites.update_site(site, settings={"max_sessions": 1})
    made = sessions_at(site, [10, 9, 8, 7, 6, 5])
    monkeypatch.setattr(retention, "BATCH_SESSIONS", 2)
    real, calls = retention._delete_rows, []

    def failing(ids):
        calls.append(ids)
        removed = real(ids)
        if len(calls) == 2:
            raise RuntimeError("connection lost")  # inside the batch's transaction
        return removed

    monkeypatch.setattr(retention, "_delete_rows", failing)
    with pytest.raises(RuntimeError):
        retention.run_retention(app.ctx, now=NOW)
    left = {s.id for s in Session.select().where(Session.site == site.id)}
    assert left == {s.id for s in made[2:]}  # the first batch (two oldest) went, the second rolled back
    assert rows_of(left) == 4 * 7 and orphans() == 0
    monkeypatch.setattr(retention, "_delete_rows", real)
    retention.run_retention(app.ctx, now=NOW)
    assert {s.id for s in Session.select().where(Session.site == site.id)} == {made[5].id}
    assert orphans() == 0


def test_orphan_cleaners_run_and_one_failing_does_not_stop_the_rest(app):
    calls = []

    def broken(ctx):
        raise ValueError("boom")

    retention.orphan_cleaners(app.ctx).extend([broken, lambda ctx: calls.append(ctx) or 7])
    assert retention.run_retention(app.ctx, now=NOW).endswith("7 orphaned row(s)")
    assert calls == [app.ctx]


def test_a_second_run_at_the_same_time_is_skipped(app):
    ctx = app.ctx
    handle = ctx.database.dialect.acquire_lock(ctx.database.db, retention.LOCK_NAME, ctx.settings.data_dir)
    try:
        assert retention.run_retention(ctx, now=NOW).startswith("skipped")
    finally:
        ctx.database.dialect.release_lock(ctx.database.db, handle)
    assert retention.run_retention(ctx, now=NOW).startswith("deleted 0")


def test_storage_estimate_counts_rows(app):
    site = make_site("storage.example")
    sessions_at(site, [1, 2])
    info = retention.site_storage(site)
    assert (info["sessions"], info["pageviews"], info["events"], info["heatmap_points"]) == (2, 2, 2, 6)
    assert info["recording_bytes"] == 6 and info["bytes"] > 6


def test_statistics_rollups_outlive_the_cap_but_not_the_age_limit(app):
    from core.models import DailyStat
    from core.queries import rollups

    capped = make_site("capstats.example")
    sites.update_site(capped, settings={"max_sessions": 1})
    aged = make_site("agestats.example")
    sites.update_site(aged, settings={"max_age_days": 10})
    sessions_at(capped, [3, 2])
    sessions_at(aged, [20, 2])
    for site in (capped, aged):
        for day in (dt.date(2026, 11, 10), dt.date(2026, 11, 27), dt.date(2026, 11, 28)):
            rollups.roll_day(app.ctx.database.db, site, day, now=NOW)

    def rolled_sessions(site) -> dict:
        rows = DailyStat.select().where(DailyStat.site == site.id)
        return {row.day: row.sessions for row in rows if row.sessions}

    assert rolled_sessions(capped) == {dt.date(2026, 11, 27): 1, dt.date(2026, 11, 28): 1}
    assert rolled_sessions(aged) == {dt.date(2026, 11, 10): 1, dt.date(2026, 11, 28): 1}
    retention.run_retention(app.ctx, now=NOW)
    assert Session.select().where(Session.site == capped.id).count() == 1
    assert rolled_sessions(capped) == {dt.date(2026, 11, 27): 1, dt.date(2026, 11, 28): 1}  # history kept
    assert rolled_sessions(aged) == {dt.date(2026, 11, 28): 1}  # the 20-day-old day is forgotten
