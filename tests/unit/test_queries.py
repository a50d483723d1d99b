"""Statistics queries against a small hand-built data set with hand-computed answers, on both engines.

The site is in Europe/Berlin and the range is 28-29 March 2026: the clocks go forward on the 29th, and
two sessions sit right at local midnight, so time-zone bucketing and day attribution are tested too.

    id  UTC start          local day  visitor pages                         secs country tags / events
    S1  03-28 10:00        28 (11:00) A       / /pricing /signup            120  DE      newsletter, customer; form/submit 10
    S2  03-28 23:30        29 (00:30) A       /                               0  DE      newsletter
    S3  03-29 12:00        29 (14:00) B       /blog/a /pricing               60  US      video/play 30|100, 50|100
    S4  03-27 22:30        27 (23:30) C       /                               0  GB      (previous period)
    S5  03-27 23:30        28 (00:30) C       /                               0  GB
    S6  03-29 22:30        30 (00:30) D       /                               0  DE      (after the range)
    S7  other site, in range
"""

from __future__ import annotations

import datetime as dt

import pytest

from core import migrations
from core.db import open_database
from core.models import DailyStat, DailyTag, Event, HeatmapPoint, Pageview, Session, SessionTag, Site
from core.queries import reports, rollups, segments, sessions, stats
from core.queries.query import QueryError, parse_site_query

NOW = dt.datetime(2026, 3, 30, 12, 0, tzinfo=dt.UTC)


def add_session(site, start, seconds, paths, visitor, country="DE", device="desktop", browser="Chrome",
                referrer="", utm_source="", tags=(), events=()):
    session = Session.create(
        site=site, token=f"tok-{start.isoformat()}-{site.id}", visitor_hash=visitor, country=country,
        device=device, browser=browser, os="Linux", screen_w=1920, screen_h=1080, language="de-DE",
        referrer=referrer, referrer_domain=referrer.split("/")[2].removeprefix("www.") if referrer else "",
        landing_url=f"https://{site.domain}{paths[0]}", utm_source=utm_source, started_at=start,
        last_seen_at=start + dt.timedelta(seconds=seconds), pageview_count=len(paths), event_count=len(events))
    step = seconds // max(1, len(paths) - 1) if len(paths) > 1 else 0
    for i, path in enumerate(paths):
        pv = Pageview.create(session=session, site=site, client_id=f"p{i}", url=f"https://{site.domain}{path}",
                             path=path, title=path, started_at=start + dt.timedelta(seconds=step * i),
                             active_ms=10_000)
    for tag in tags:
        SessionTag.create(session=session, site=site, tag=tag, created_at=start)
    for category, action, value, secondary in events:
        Event.create(session=session, pageview=pv, site=site, occurred_at=start, category=category, action=action,
                     value=value, value_secondary=secondary)
    return session


@pytest.fixture
def data(make_db_url):
    database = open_database(make_db_url("queries"))
    migrations.migrate_up(database.db)
    site = Site.create(domain="berlin.example", timezone="Europe/Berlin", settings={})
    other = Site.create(domain="other.example", settings={})
    u = dt.datetime
    s = {
        "S1": add_session(site, u(2026, 3, 28, 10, 0), 120, ["/", "/pricing", "/signup"], "A",
                          referrer="https://www.google.com/", tags=("newsletter", "customer"),
                          events=[("form", "submit", 10.0, None)]),
        "S2": add_session(site, u(2026, 3, 28, 23, 30), 0, ["/"], "A", device="mobile", browser="Safari",
                          tags=("newsletter",)),
        "S3": add_session(site, u(2026, 3, 29, 12, 0), 60, ["/blog/a", "/pricing"], "B", country="US",
                          browser="Firefox", referrer="https://news.ycombinator.com/item?id=1", utm_source="hn",
                          events=[("video", "play", 30.0, 100.0), ("video", "play", 50.0, 100.0)]),
        "S4": add_session(site, u(2026, 3, 27, 22, 30), 0, ["/"], "C", country="GB"),
        "S5": add_session(site, u(2026, 3, 27, 23, 30), 0, ["/"], "C", country="GB"),
        "S6": add_session(site, u(2026, 3, 29, 22, 30), 0, ["/"], "D"),
        "S7": add_session(other, u(2026, 3, 28, 12, 0), 10, ["/"], "A"),
    }
    yield database, site, s
    database.close()


def query(site, **params):
    return parse_site_query(site.id, site.timezone, {"from": "2026-03-28", "to": "2026-03-29", **params}, now=NOW)


def test_overview_numbers_and_previous_period(data):
    database, site, _s = data
    result = stats.overview(database, query(site))
    assert result["current"] == {"visitors": 3, "sessions": 4, "pageviews": 7, "events": 3, "bounces": 2,
                                 "bounce_rate": 50.0, "avg_duration": 45.0, "pages_per_session": 1.75}
    assert result["previous"]["sessions"] == 1 and result["previous"]["bounce_rate"] == 100.0
    assert (result["previous_from"], result["previous_to"]) == ("2026-03-26", "2026-03-27")
    assert result["change"]["sessions"] == 300.0
    assert result["change"]["bounce_rate"] == -50.0
    assert result["change"]["avg_duration"] is None  # previous period was 0 s: no percentage


def test_daily_series_in_the_site_zone(data):
    database, site, _s = data
    points = stats.timeseries(database, query(site), "day")["points"]
    assert points == [
        {"bucket": "2026-03-28", "visitors": 2, "sessions": 2, "pageviews": 4, "bounce_rate": 50.0},
        {"bucket": "2026-03-29", "visitors": 2, "sessions": 2, "pageviews": 3, "bounce_rate": 50.0},
    ]


def test_hourly_series_follows_daylight_saving(data):
    database, site, _s = data
    points = {p["bucket"]: p["sessions"] for p in stats.timeseries(database, query(site), "hour")["points"]}
    assert len(points) == 48
    busy = {k: v for k, v in points.items() if v}
    # S1 at 10:00 UTC is 11:00 CET; S3 at 12:00 UTC is 14:00 CEST (after the change).
    assert busy == {"2026-03-28 00:00": 1, "2026-03-28 11:00": 1, "2026-03-29 00:00": 1, "2026-03-29 14:00": 1}


def test_week_month_year_buckets(data):
    database, site, _s = data
    week = stats.timeseries(database, query(site), "week")["points"]
    assert [(p["bucket"], p["sessions"], p["visitors"]) for p in week] == [("2026-03-23", 4, 3)]
    month = stats.timeseries(database, query(site), "month")["points"]
    assert [(p["bucket"], p["pageviews"]) for p in month] == [("2026-03", 7)]
    year = stats.timeseries(database, query(site), "year")["points"]
    assert [(p["bucket"], p["sessions"]) for p in year] == [("2026", 4)]


@pytest.mark.parametrize("params,expected", [
    ({"tag": "newsletter"}, {"S1", "S2"}),
    ({"tag": "newsletter,customer"}, {"S1"}),  # AND
    ({"no_tag": "newsletter"}, {"S3", "S5"}),
    ({"page": "/pricing"}, {"S1", "S3"}),
    ({"page": "/blog/*"}, {"S3"}),
    ({"page": "/pric*"}, {"S1", "S3"}),
    ({"entry": "/blog/a"}, {"S3"}),
    ({"country": "us"}, {"S3"}),
    ({"country": "DE,GB"}, {"S1", "S2", "S5"}),
    ({"min_duration": "60"}, {"S1", "S3"}),
    ({"max_duration": "0"}, {"S2", "S5"}),
    ({"min_duration": "30", "max_duration": "90"}, {"S3"}),
    ({"referrer": "direct"}, {"S2", "S5"}),
    ({"referrer": "google.com"}, {"S1"}),
    ({"referrer": "https://news.ycombinator.com/*"}, {"S3"}),
    ({"device": "mobile"}, {"S2"}),
    ({"browser": "Firefox,Safari"}, {"S2", "S3"}),
    ({"utm_source": "hn"}, {"S3"}),
    ({"event_category": "video"}, {"S3"}),
    ({"event_category": "form", "event_action": "submit"}, {"S1"}),
    ({"min_pages": "2"}, {"S1", "S3"}),
])
def test_segment_filters_select_the_right_sessions(data, params, expected):
    database, site, s = data
    listed = sessions.list_sessions(database, query(site, **params), limit=50)
    names = {name for name, session in s.items() if session.id in {i["id"] for i in listed["items"]}}
    assert names == expected and listed["total"] == len(expected)
    assert stats.overview(database, query(site, **params))["current"]["sessions"] == len(expected)


def test_page_wildcards_escape_sql_patterns(data):
    database, site, s = data
    add_session(site, dt.datetime(2026, 3, 29, 9, 0), 5, ["/100%_off"], "E")
    assert stats.overview(database, query(site, page="/100%_off"))["current"]["sessions"] == 1
    assert stats.overview(database, query(site, page="/1__%*"))["current"]["sessions"] == 0
    assert stats.overview(database, query(site, page="/100%*"))["current"]["sessions"] == 1


@pytest.mark.parametrize("params,field", [
    ({"min_duration": "-5"}, "min_duration"),
    ({"min_duration": "90", "max_duration": "30"}, "min_duration"),
    ({"country": "Germany"}, "country"),
    ({"device": "phone"}, "device"),
    ({"tag": ",".join(f"t{i}" for i in range(30))}, "tag"),
    ({"page": "/" + "x" * 600}, "page"),
])
def test_bad_filters_name_the_parameter(data, params, field):
    _database, site, _s = data
    with pytest.raises(QueryError) as info:
        query(site, **params)
    assert info.value.field == field


def test_breakdowns(data):
    database, site, _s = data
    q = query(site)
    pages = {i["value"]: (i["sessions"], i["pageviews"]) for i in stats.breakdown(database, q, "page")["items"]}
    assert pages == {"/": (3, 3), "/pricing": (2, 2), "/signup": (1, 1), "/blog/a": (1, 1)}
    exits = {i["value"]: i["sessions"] for i in stats.breakdown(database, q, "exit")["items"]}
    assert exits == {"/": 2, "/pricing": 1, "/signup": 1}
    entries = {i["value"]: i["sessions"] for i in stats.breakdown(database, q, "entry")["items"]}
    assert entries == {"/": 3, "/blog/a": 1}
    countries = stats.breakdown(database, q, "country")
    assert [(i["value"], i["sessions"], i["bounce_rate"]) for i in countries["items"]] == [
        ("DE", 2, 50.0), ("GB", 1, 100.0), ("US", 1, 0.0)]
    assert countries["total"] == 3
    refs = {i["value"]: i["sessions"] for i in stats.breakdown(database, q, "referrer_domain")["items"]}
    assert refs == {"": 2, "google.com": 1, "news.ycombinator.com": 1}
    assert stats.breakdown(database, q, "device", limit=1, offset=1)["items"][0]["value"] == "mobile"
    de = stats.breakdown(database, q, "country")["items"][0]
    assert de["avg_duration"] == 60.0 and de["pageviews"] == 4


def test_rollups_give_the_same_answers_as_raw_tables(data):
    database, site, _s = data
    for day in (dt.date(2026, 3, 26), dt.date(2026, 3, 27), dt.date(2026, 3, 28), dt.date(2026, 3, 29)):
        stat = rollups.roll_day(database.db, site, day, now=NOW.replace(tzinfo=None))
        assert stat.complete
    q = query(site)
    assert stats.rolled_days(q)  # the rollup path is taken
    raw_q = query(site, min_pages="0")  # a (no-op) filter forces the raw path
    assert stats.overview(database, q) == stats.overview(database, raw_q)
    for unit in ("day", "week", "month"):
        assert stats.timeseries(database, q, unit) == stats.timeseries(database, raw_q, unit)
    for dimension in stats.DIMENSIONS:
        assert stats.breakdown(database, q, dimension) == stats.breakdown(database, raw_q, dimension), dimension


def test_rollup_sketch_estimates_visitors_of_large_ranges(data, monkeypatch):
    database, site, _s = data
    for day in (dt.date(2026, 3, 28), dt.date(2026, 3, 29)):
        rollups.roll_day(database.db, site, day, now=NOW.replace(tzinfo=None))
    monkeypatch.setattr(stats, "EXACT_VISITORS_LIMIT", 0)  # behave as if the range were huge
    assert stats.overview(database, query(site))["current"]["visitors"] == 3


def test_days_to_roll_and_invalidate(data):
    database, site, s = data
    now = NOW.replace(tzinfo=None)
    days = rollups.days_to_roll(site, now=now)
    assert days[0] == dt.date(2026, 3, 27) and days[-1] == dt.date(2026, 3, 30)
    for day in days:
        rollups.roll_day(database.db, site, day, now=now)
    # Complete days are not rolled again; today always is.
    assert rollups.days_to_roll(site, now=now) == [dt.date(2026, 3, 30)]
    # Rolled just after midnight, a day stays incomplete and is rolled again later.
    rollups.roll_day(database.db, site, dt.date(2026, 3, 29), now=dt.datetime(2026, 3, 29, 22, 30))
    assert rollups.days_to_roll(site, now=now) == [dt.date(2026, 3, 29), dt.date(2026, 3, 30)]
    sessions.delete_sessions(database, site.id, site.timezone, [s["S3"].id])
    assert stats.overview(database, query(site))["current"]["sessions"] == 3  # S3's day is read raw again


def test_sessions_list_sorting_and_paging(data):
    database, site, s = data
    q = query(site)
    order = lambda **kw: [i["id"] for i in sessions.list_sessions(database, q, **kw)["items"]]  # noqa: E731
    assert order() == [s["S3"].id, s["S2"].id, s["S1"].id, s["S5"].id]
    assert order(sort="duration") == [s["S1"].id, s["S3"].id, s["S5"].id, s["S2"].id]
    assert order(sort="pages", order="asc") == [s["S2"].id, s["S5"].id, s["S3"].id, s["S1"].id]
    assert order(sort="events") [:2] == [s["S3"].id, s["S1"].id]
    page = sessions.list_sessions(database, q, limit=2, offset=2)
    assert [i["id"] for i in page["items"]] == [s["S1"].id, s["S5"].id] and page["total"] == 4
    first = sessions.list_sessions(database, q, limit=1)["items"][0]
    assert first["duration"] == 60 and first["tags"] == [] and first["pageviews"] == 2
    with pytest.raises(sessions.SessionError) as info:
        sessions.list_sessions(database, q, sort="bogus")
    assert info.value.field == "sort"


def test_session_detail_timeline_and_tags(data):
    database, site, s = data
    detail = sessions.session_detail(s["S1"])
    assert [p["path"] for p in detail["pageviews_list"]] == ["/", "/pricing", "/signup"]
    assert [t["tag"] for t in detail["tags"]] == ["customer", "newsletter"]
    assert [e["category"] for e in detail["events_list"]] == ["form"]
    assert [entry["kind"] for entry in detail["timeline"]] == ["pageview", "event", "pageview", "pageview"]
    assert sessions.add_tag(s["S1"], " vip ") == "vip"
    sessions.add_tag(s["S1"], "vip")  # a set: adding twice keeps one
    assert SessionTag.select().where(SessionTag.session == s["S1"].id).count() == 3
    assert sessions.remove_tag(s["S1"], "vip") and not sessions.remove_tag(s["S1"], "vip")
    with pytest.raises(sessions.SessionError):
        sessions.add_tag(s["S1"], "x" * 129)


def test_deleting_sessions_removes_everything_under_them(data):
    database, site, s = data
    victim = s["S1"]
    pv = Pageview.select().where(Pageview.session == victim.id).first()
    HeatmapPoint.create(site=site, session=victim, pageview=pv, path="/", kind=1, occurred_at=victim.started_at,
                        x=1, y=2)
    other_site = s["S7"]
    assert sessions.delete_sessions(database, site.id, site.timezone, [victim.id, other_site.id]) == 1
    for model in (Pageview, Event, SessionTag, HeatmapPoint):
        assert model.select().where(model.session == victim.id).count() == 0, model
    assert Session.get_or_none(Session.id == other_site.id) is not None  # another site's: untouched
    assert Pageview.select().where(Pageview.session == s["S3"].id).count() == 2


def test_tags_report(data):
    database, site, _s = data
    report = reports.tags_report(database, query(site), "day")
    assert report["items"] == [{"tag": "newsletter", "sessions": 2, "share": 50.0},
                               {"tag": "customer", "sessions": 1, "share": 25.0}]
    series = {line["tag"]: line["points"] for line in report["series"]}
    assert report["buckets"] == ["2026-03-28", "2026-03-29"]
    assert series == {"newsletter": [1, 1], "customer": [1, 0]}


def test_events_report(data):
    database, site, _s = data
    report = reports.events_report(database, query(site), "day")
    video, form = report["items"]
    assert (video["category"], video["action"], video["count"], video["sessions"]) == ("video", "play", 2, 1)
    assert (video["value_sum"], video["value_avg"], video["value_secondary_sum"], video["value_secondary_avg"]) \
        == (80.0, 40.0, 200.0, 100.0)
    assert (form["category"], form["value_sum"], form["value_secondary_avg"]) == ("form", 10.0, None)
    assert report["total"] == 3 and report["points"] == [1, 2]
    only_video = reports.events_report(database, query(site), "day", group="label", category="video")
    assert only_video["total"] == 2
    us = reports.events_report(database, query(site, country="DE"), "day")
    assert us["total"] == 1


def test_reports_read_the_rollups_with_the_raw_answers(data):
    database, site, s = data
    # Roll only the 28th: the 29th is read raw and merged (as today is, in use).
    rollups.roll_day(database.db, site, dt.date(2026, 3, 28), now=NOW.replace(tzinfo=None))
    q, raw_q = query(site), query(site, min_pages="0")  # a no-op filter forces the raw path
    assert sorted(stats.rolled_days(q)) == [dt.date(2026, 3, 28)]
    tags = reports.tags_report(database, q, "day")
    assert tags["total_sessions"] == 4 and tags == reports.tags_report(database, raw_q, "day")
    assert {line["tag"]: line["points"] for line in tags["series"]} == {"newsletter": [1, 1], "customer": [1, 0]}
    for day in (dt.date(2026, 3, 27), dt.date(2026, 3, 29)):
        rollups.roll_day(database.db, site, day, now=NOW.replace(tzinfo=None))
    assert len(stats.rolled_days(q)) == 2  # now wholly from the rollups
    for unit in ("day", "week", "month", "year"):
        assert reports.tags_report(database, q, unit) == reports.tags_report(database, raw_q, unit), unit
        for group in reports.EVENT_GROUPS:
            for narrow in ({}, {"category": "video"}, {"action": "play"}, {"category": "video", "action": "play"},
                           {"category": "nothing"}):
                rolled = reports.events_report(database, q, unit, group, **narrow)
                assert rolled == reports.events_report(database, raw_q, unit, group, **narrow), (unit, group, narrow)
    # Hand-computed: S3's two plays are one session; S1's submit occurred on the 28th (local).
    report = reports.events_report(database, q, "day", group="category")
    assert [(i["category"], i["count"], i["sessions"], i["value_sum"], i["value_secondary_avg"])
            for i in report["items"]] == [("video", 2, 1, 80.0, 100.0), ("form", 1, 1, 10.0, None)]
    assert report["points"] == [1, 2]
    labels = reports.events_report(database, q, "day", group="label", category="video")
    assert [(i["label"], i["count"], i["sessions"], i["value_avg"]) for i in labels["items"]] == [("", 2, 1, 40.0)]
    assert reports.events_report(database, q, "day", category="nothing")["items"] == []
    # Deleting a session drops its day's rollups: the reports read that day raw again.
    sessions.delete_sessions(database, site.id, site.timezone, [s["S3"].id])
    assert reports.events_report(database, q, "day")["total"] == 1
    assert reports.tags_report(database, q, "day")["total_sessions"] == 3


def test_days_rolled_before_the_report_rollups_get_them_and_keep_their_totals(data):
    database, site, _s = data
    for day in (dt.date(2026, 3, 27), dt.date(2026, 3, 28), dt.date(2026, 3, 29)):
        rollups.roll_day(database.db, site, day, now=NOW.replace(tzinfo=None))
    # As migration 0030 leaves an older day: no events/tags rows; totals that raw rows no longer give
    # (the session cap removed some).
    old = dt.date(2026, 3, 28)
    DailyStat.update(has_reports=False, pageviews=99).where(DailyStat.day == old).execute()
    for model in rollups.REPORT_TABLES:
        model.delete().where(model.day == old).execute()
    q, raw_q = query(site), query(site, min_pages="0")
    assert rollups.days_without_reports(site) == [old]
    assert reports.events_report(database, q) == reports.events_report(database, raw_q)  # the 28th read raw
    assert reports.tags_report(database, q) == reports.tags_report(database, raw_q)
    for day in rollups.days_without_reports(site):
        rollups.roll_reports(database.db, site, day)
    assert rollups.days_without_reports(site) == []
    assert DailyStat.get(DailyStat.day == old).pageviews == 99  # kept
    assert DailyTag.select().where(DailyTag.day == old).count() == 2  # newsletter, customer
    assert reports.events_report(database, q) == reports.events_report(database, raw_q)
    assert reports.tags_report(database, q)["items"][0] == {"tag": "newsletter", "sessions": 2, "share": 50.0}


def test_overview_of_a_segment_in_one_pass_matches_each_period(data):
    database, site, _s = data
    both = stats.overview(database, query(site, country="DE,GB"))
    alone = [stats.totals(database, query(site, country="DE,GB")),
             stats.totals(database, query(site, country="DE,GB").previous())]
    assert [both["current"], both["previous"]] == alone
    # S1 (120 s, 3 pages) and S2 (bounce) of visitor A, S5 (bounce) of C; before: S4 of C.
    assert (both["current"]["sessions"], both["current"]["visitors"], both["current"]["bounces"],
            both["current"]["avg_duration"]) == (3, 2, 2, 40.0)
    assert (both["previous"]["sessions"], both["previous"]["visitors"], both["change"]["sessions"]) == (1, 1, 200.0)


def test_online_now(data):
    database, site, s = data
    now = dt.datetime(2026, 3, 29, 12, 3)  # S3 started 12:00 and was last seen 12:01
    assert stats.online_now(database, site.id, now=now) == 1
    assert stats.online_now(database, site.id, now=now + dt.timedelta(minutes=10)) == 0


def test_saved_segments(data):
    _database, site, _s = data
    seg = segments.save_segment(site.id, "Newsletter readers", {"tag": "newsletter", "from": "x", "bogus": "1"},
                                None)
    assert seg.filters == {"tag": "newsletter"}
    again = segments.save_segment(site.id, "Newsletter readers", {"tag": "newsletter", "country": "de"}, None)
    assert again.id == seg.id and again.filters == {"tag": "newsletter", "country": "DE"}
    assert [x.name for x in segments.list_segments(site.id)] == ["Newsletter readers"]
    with pytest.raises(QueryError) as info:
        segments.save_segment(site.id, "", {"tag": "x"}, None)
    assert info.value.field == "name"
    with pytest.raises(QueryError) as info:
        segments.save_segment(site.id, "empty", {}, None)
    assert info.value.field == "filters"
    assert segments.delete_segment(site.id, seg.id) and segments.list_segments(site.id) == []


def test_visitor_sketch_accuracy_and_merge():
    from core.queries import sketch

    a = sketch.add_all(sketch.new(), (f"visitor-{i}" for i in range(60_000)))
    b = sketch.add_all(sketch.new(), (f"visitor-{i}" for i in range(40_000, 100_000)))
    assert abs(sketch.estimate(a) - 60_000) / 60_000 < 0.04
    merged = sketch.merge(bytearray(a), b)  # the union: 100 000 distinct, overlap counted once
    assert abs(sketch.estimate(merged) - 100_000) / 100_000 < 0.04
    assert sketch.estimate(sketch.add_all(sketch.new(), ["x", "y", "x"])) == 2
    assert sketch.estimate(sketch.new()) == 0
