"""`core.seed`: the demo data is consistent with itself (counters match rows) and deterministic."""

from __future__ import annotations

import datetime as dt
import json
import zlib

import peewee

from core import migrations
from core.db import open_database
from core.models import Event, HeatmapPoint, Pageview, RecordingChunk, Session, SessionTag, Site
from core.queries import reports, rollups, stats
from core.queries.query import parse_site_query
from core.seed import SeedPlan, seed_site

END = dt.datetime(2026, 11, 30, 12, 0)


def test_seeded_rows_agree_with_the_session_counters(make_db_url):
    database = open_database(make_db_url("seed"))
    migrations.migrate_up(database.db)
    site = Site.create(domain="demo.example", settings={})
    seen = []
    result = seed_site(database.db, site, SeedPlan(sessions=300, days=10, end=END, recording_share=0.2,
                                                   batch_size=120), progress=lambda d, t, n: seen.append((d, t)))
    assert seen == [(120, 300), (240, 300), (300, 300)]
    assert Session.select().count() == result.sessions == 300
    assert Pageview.select().count() == result.pageviews == Session.select(peewee.fn.SUM(Session.pageview_count)).scalar()
    assert Event.select().count() == result.events == Session.select(peewee.fn.SUM(Session.event_count)).scalar()
    assert SessionTag.select().count() == result.tags > 0
    assert HeatmapPoint.select().count() == result.points > 0
    assert 3 <= result.pageviews / result.sessions <= 7  # ~5 pages per session
    low = END - dt.timedelta(days=10)
    assert Session.select().where((Session.started_at < low) | (Session.started_at > END)).count() == 0
    assert {e.category for e in Event.select(Event.category).distinct()} >= {"video", "form", "error"}
    recorded = Session.select().where(Session.has_recording == True).count()  # noqa: E712
    assert recorded > 0 and RecordingChunk.select().count() == result.chunks > 0
    chunk = RecordingChunk.select().first()
    entries = json.loads(zlib.decompress(bytes(chunk.data)))
    assert len(entries) == chunk.event_count and chunk.mode == "pointer"
    assert all(e["k"] in ("click", "move", "scroll") and e["pid"] for e in entries)
    assert [e["t"] for e in entries] == sorted(e["t"] for e in entries)
    assert (chunk.first_t, chunk.last_t) == (entries[0]["t"], entries[-1]["t"])
    # Bounce share is realistic and the rollups agree with the raw tables.
    q = parse_site_query(site.id, "UTC", {"from": "2026-11-20", "to": "2026-11-30"})
    raw = stats.overview(database, q)["current"]
    assert 25 <= raw["bounce_rate"] <= 55 and raw["sessions"] == 300
    rollups.rebuild_site(database.db, site.id)
    assert stats.overview(database, q)["current"] == raw
    database.close()


def test_the_same_seed_gives_the_same_data(make_db_url):
    tokens = []
    for label in ("a", "b"):
        database = open_database(make_db_url(label))
        migrations.migrate_up(database.db)
        site = Site.create(domain="demo.example", settings={})
        seed_site(database.db, site, SeedPlan(sessions=50, days=3, end=END, seed=7))
        tokens.append([(s.token, s.started_at, s.pageview_count) for s in Session.select().order_by(Session.id)])
        database.close()
    assert tokens[0] == tokens[1] and len(tokens[0]) == 50


def test_report_rollups_equal_the_raw_reports_on_seeded_data(make_db_url):
    database = open_database(make_db_url("seed-reports"))
    migrations.migrate_up(database.db)
    site = Site.create(domain="demo.example", timezone="America/New_York", settings={})
    seed_site(database.db, site, SeedPlan(sessions=600, days=12, end=END))
    now = END + dt.timedelta(days=1)
    for day in rollups.days_to_roll(site, now=now):
        rollups.roll_day(database.db, site, day, now=now)
    params = {"from": "2026-11-20", "to": "2026-11-29"}
    q = parse_site_query(site.id, site.timezone, params)
    raw = parse_site_query(site.id, site.timezone, {**params, "min_pages": "0"})  # same sessions, raw path
    assert len(stats.rolled_days(q)) == 10
    for unit in ("day", "week", "month"):
        assert reports.tags_report(database, q, unit) == reports.tags_report(database, raw, unit)
        for group in reports.EVENT_GROUPS:
            for narrow in ({}, {"category": "video"}, {"category": "video", "action": "play"}, {"action": "answer"}):
                rolled = reports.events_report(database, q, unit, group, **narrow)
                assert rolled == reports.events_report(database, raw, unit, group, **narrow), (unit, group, narrow)
                assert rolled["total"] > 0
    # The numbers themselves, counted here from the rows: events of sessions started in the range.
    low, high = q.utc_bounds()
    in_range = (Session.site == site.id) & (Session.started_at >= low) & (Session.started_at < high)
    plays = list(Event.select(Event.session, Event.value).join(Session, on=(Event.session == Session.id))
                 .where(in_range & (Event.category == "video") & (Event.action == "play")).tuples())
    report = reports.events_report(database, q, "day", "category", category="video", action="play")
    (video,) = report["items"]
    assert video["count"] == len(plays) and video["sessions"] == len({sid for sid, _v in plays})
    assert video["value_sum"] == round(sum(v for _sid, v in plays), 4)
    tagged = (SessionTag.select().join(Session, on=(SessionTag.session == Session.id))
              .where(in_range & (SessionTag.tag == "customer")).count())
    tags = {item["tag"]: item["sessions"] for item in reports.tags_report(database, q, "day")["items"]}
    assert tags["customer"] == tagged > 0
    assert reports.tags_report(database, q)["total_sessions"] == Session.select().where(in_range).count()
    # The overview of a segment, in one pass, equals each period alone.
    segment = parse_site_query(site.id, site.timezone, {**params, "country": "DE,US", "device": "desktop"})
    both = stats.overview(database, segment)
    assert [both["current"], both["previous"]] == [stats.totals(database, segment),
                                                    stats.totals(database, segment.previous())]
    assert both["current"]["sessions"] == Session.select().where(
        in_range & Session.country.in_(["DE", "US"]) & (Session.device == "desktop")).count() > 0
    database.close()
