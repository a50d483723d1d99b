"""Segment filters ignore upper/lower case the same way on both engines (docs/dashboard-views.md).

Stored values are mixed-case, as trackers send them; every filter is typed in another case. SQLite
folds ASCII letters only (NOCASE, LIKE); MariaDB's `_ci` collation folds every letter (and accents).
"""

from __future__ import annotations

import datetime as dt
import itertools

import peewee
import pytest

from core import migrations
from core.db import open_database
from core.dialect import ascii_case_ranges
from core.models import Event, Pageview, Session, SessionTag, Site
from core.queries import sessions, stats
from core.queries.filters import session_where
from core.queries.query import parse_site_query

NOW = dt.datetime(2026, 3, 30, 12, 0, tzinfo=dt.UTC)
AT = dt.datetime(2026, 3, 29, 10, 0)

# name -> (session fields, paths, tags, events)
SESSIONS = {
    "A": (dict(country="DE", device="desktop", city="Berlin", browser="Firefox", os="Mac OS X",
               language="de-DE", referrer="https://News.Example.com/Item?id=1", referrer_domain="news.example.com",
               utm_source="Newsletter", utm_medium="Email", utm_campaign="Spring_Sale"),
          ["/Pricing", "/Blog/Post"], ["Trial"], [("Video", "Play")]),
    "B": (dict(country="US", device="mobile", city="Boston", browser="Chrome Mobile", os="Android",
               language="en-us", utm_source="google"),
          ["/pricing-old"], ["newsletter"], [("form", "Submit")]),
    "C": (dict(country="CH", device="tablet", city="Zürich", browser="Safari", os="iOS", language="fr-CH"),
          ["/Äpfel"], ["Äpfel"], []),
}


@pytest.fixture
def mixed(make_db_url):
    database = open_database(make_db_url("case"))
    migrations.migrate_up(database.db)
    site = Site.create(domain="shop.example", timezone="UTC", settings={})
    ids = {}
    for name, (fields, paths, tags, events) in SESSIONS.items():
        session = Session.create(site=site, token=f"t-{name}", landing_url=f"https://shop.example{paths[0]}",
                                 started_at=AT, last_seen_at=AT, pageview_count=len(paths), **fields)
        for number, path in enumerate(paths):
            Pageview.create(session=session, site=site, client_id=f"p{number}", url=f"https://shop.example{path}",
                            path=path, started_at=AT)
        for tag in tags:
            SessionTag.create(session=session, site=site, tag=tag, created_at=AT)
        for category, action in events:
            Event.create(session=session, site=site, occurred_at=AT, category=category, action=action)
        ids[session.id] = name
    yield database, site, ids
    database.close()


def query(site, **filters):
    return parse_site_query(site.id, site.timezone, {"from": "2026-03-29", "to": "2026-03-29", **filters}, now=NOW)


def matched(mixed, **filters) -> set[str]:
    database, site, ids = mixed
    listed = sessions.list_sessions(database, query(site, **filters), limit=50)
    names = {ids[item["id"]] for item in listed["items"]}
    assert listed["total"] == len(names)
    assert stats.overview(database, query(site, **filters))["current"]["sessions"] == len(names)
    return names


@pytest.mark.parametrize("filters,expected", [
    ({"page": "/pricing"}, {"A"}),
    ({"page": "/PRICING"}, {"A"}),
    ({"page": "/pricing,/blog/post"}, {"A"}),
    ({"page": "/PRICING*"}, {"A", "B"}),
    ({"page": "/nope,/BLOG/*"}, {"A"}),
    ({"entry": "/PRICING"}, {"A"}),
    ({"entry": "/pricing-OLD"}, {"B"}),
    ({"referrer": "https://news.example.com/item?id=1"}, {"A"}),
    ({"referrer": "HTTPS://NEWS.EXAMPLE.COM/*"}, {"A"}),
    ({"referrer": "News.Example.com"}, {"A"}),
    ({"country": "de,us"}, {"A", "B"}),
    ({"device": "MOBILE"}, {"B"}),
    ({"city": "BERLIN"}, {"A"}),
    ({"browser": "firefox,CHROME MOBILE"}, {"A", "B"}),
    ({"browser": "fire*"}, {"A"}),
    ({"os": "mac os x"}, {"A"}),
    ({"language": "EN-US"}, {"B"}),
    ({"utm_source": "NEWSLETTER,Google"}, {"A", "B"}),
    ({"utm_medium": "email"}, {"A"}),
    ({"utm_campaign": "spring_sale"}, {"A"}),
    ({"tag": "trial"}, {"A"}),
    ({"tag": "TRIAL,newsletter"}, set()),  # every tag: AND
    ({"no_tag": "TRIAL,NewsLetter"}, {"C"}),
    ({"event_category": "video"}, {"A"}),
    ({"event_category": "VIDEO", "event_action": "play"}, {"A"}),
    ({"event_action": "SUBMIT"}, {"B"}),
    ({"event_category": "FO*"}, {"B"}),
])
def test_filters_ignore_case(mixed, filters, expected):
    assert matched(mixed, **filters) == expected


def test_non_ascii_letters_follow_the_engine(mixed, engine):
    """As documented: SQLite compares non-ASCII letters as stored; MariaDB's collation folds them."""
    for filters in ({"tag": "äpfel"}, {"page": "/äpfel"}, {"city": "ZÜRICH"}):
        assert matched(mixed, **filters) == (set() if engine == "sqlite" else {"C"}), filters
    assert matched(mixed, tag="ÄPFEL", page="/Äpfel", city="zürich") == {"C"}  # only ASCII letters differ
    assert matched(mixed, tag="apfel") == (set() if engine == "sqlite" else {"C"})  # _ci: accents too


def test_every_case_variant_and_nothing_else(make_db_url):
    """More letters than the index ranges spell out (3): the rest is bounded, then compared exactly."""
    database = open_database(make_db_url("variants"))
    migrations.migrate_up(database.db)
    site = Site.create(domain="shop.example", timezone="UTC", settings={})
    variants = ["".join(chars) for chars in itertools.product(*[(c.lower(), c.upper()) if c.isalpha() else (c,)
                                                                  for c in "/ab-cd_e"])]
    decoys = ["/ab-cd_f", "/ab-cd_", "/ab-cd_ee", "/abxcd_e", "/ab-cdxe", "/AB-CD%E", "/ab-c"]
    for number, path in enumerate(variants + decoys):
        session = Session.create(site=site, token=f"t{number}", started_at=AT, last_seen_at=AT)
        Pageview.create(session=session, site=site, client_id="p", url=f"https://shop.example{path}", path=path,
                        started_at=AT)
    try:
        for typed in ("/ab-cd_e", "/AB-CD_E", "/aB-Cd_E"):
            assert stats.overview(database, query(site, page=typed))["current"]["sessions"] == len(variants) == 32
    finally:
        database.close()


def testascii_case_ranges_hold_every_variant():
    for value in ("/pricing", "/Blog/Post-1", "x", "/", "/é-ABC", "Zürich", "/a%_*"):
        ranges = ascii_case_ranges(value)
        assert len(ranges) <= 8
        letters = [i for i, c in enumerate(value) if c.isascii() and c.isalpha()]
        for flips in itertools.product((False, True), repeat=len(letters)):
            chars = list(value)
            for i, flip in zip(letters, flips, strict=True):
                chars[i] = chars[i].swapcase() if flip else chars[i]
            variant = "".join(chars).encode()  # SQLite BINARY compares UTF-8 bytes
            assert any(low.encode() <= variant <= high.encode() for low, high in ranges), (value, variant)


@pytest.mark.parametrize("filters,table,index", [
    ({"page": "/Pricing"}, "pageviews", "pageviews_site_id_path"),
    ({"tag": "Trial"}, "session_tags", "session_tags_site_id_tag"),
    ({"no_tag": "Trial"}, "session_tags", "session_tags_site_id_tag"),
    ({"event_category": "Video", "event_action": "Play"}, "events", "events_site_id_category_action"),
])
def test_exact_values_stay_on_their_index(mixed, engine, filters, table, index):
    """An exact value (no `*`) must still be a seek on (site, column…), not a read of the whole site."""
    database, site, _ids = mixed
    sql, params = Session.select(peewee.fn.COUNT(Session.id)).where(
        session_where(query(site, **filters), database.dialect)).sql()
    if engine == "sqlite":
        plan = [row[3] for row in database.db.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()]
        assert any(f"USING INDEX {index} (site_id=? AND" in step for step in plan), plan
        assert not any(step.startswith("SCAN") or step.endswith("(site_id=?)") for step in plan), plan
    else:
        rows = database.db.execute_sql("EXPLAIN " + sql, params).fetchall()
        assert any(index in str(row[4]) for row in rows), rows  # possible_keys: the match can seek
