"""The `entry` (landing page) filter matches the landing URL's path exactly as `page` matches a
visited page's path — exact, `*` wildcards — on both engines, against hand-made sessions.

Each session has one pageview: its landing URL, with the path the collection pipeline would store.
So for every pattern, "landed on" must select exactly the sessions "visited" selects.
"""

from __future__ import annotations

import datetime as dt

import pytest

from core import migrations
from core.db import open_database
from core.enrich.urls import url_path
from core.models import Pageview, Session, Site
from core.queries import sessions, stats
from core.queries.query import QueryError, parse_segment, parse_site_query

NOW = dt.datetime(2026, 3, 30, 12, 0, tzinfo=dt.UTC)
AT = dt.datetime(2026, 3, 29, 10, 0)

LANDINGS = {
    "pricing": "https://shop.example/pricing",
    "deep": "https://shop.example/x/pricing",
    "query": "https://shop.example/pricing?a=1",
    "slash": "https://shop.example/pricing/",
    "fragment": "https://shop.example/pricing#plans",
    "port": "https://shop.example:8443/pricing?next=/x/pricing",
    "older": "https://shop.example/pricing-old",
    "bare": "https://shop.example",
    "bare_query": "https://shop.example?next=/pricing",
    "root_query": "https://shop.example/?next=/pricing#/x/pricing",
    "underscore": "https://shop.example/a_b",
    "lookalike": "https://shop.example/axb",
}


@pytest.fixture
def landed(make_db_url):
    database = open_database(make_db_url("entry"))
    migrations.migrate_up(database.db)
    site = Site.create(domain="shop.example", timezone="UTC", settings={})
    made = {}
    for number, (name, url) in enumerate([*LANDINGS.items(), ("no_landing", "")]):
        session = Session.create(site=site, token=f"t{number}", landing_url=url, started_at=AT, last_seen_at=AT,
                                 pageview_count=1 if url else 0)
        if url:
            Pageview.create(session=session, site=site, client_id="p1", url=url, path=url_path(url), started_at=AT)
        made[session.id] = name
    yield database, site, made
    database.close()


def matched(landed, **filters) -> set[str]:
    database, site, made = landed
    q = parse_site_query(site.id, site.timezone, {"from": "2026-03-29", "to": "2026-03-29", **filters}, now=NOW)
    listed = sessions.list_sessions(database, q, limit=100)
    names = {made[item["id"]] for item in listed["items"]}
    assert listed["total"] == len(names) == stats.overview(database, q)["current"]["sessions"]
    return names


@pytest.mark.parametrize("pattern,expected", [
    ("/pricing", {"pricing", "query", "fragment", "port"}),  # the host, ?query and #fragment are not the path
    ("/x/pricing", {"deep"}),
    ("/pricing/", {"slash"}),
    ("/pricing*", {"pricing", "query", "fragment", "port", "slash", "older"}),
    ("/PRICING*", {"pricing", "query", "fragment", "port", "slash", "older"}),  # wildcards ignore case
    ("*/pricing", {"pricing", "deep", "query", "fragment", "port"}),
    ("/", {"bare", "bare_query", "root_query"}),
    ("/a_*", {"underscore"}),  # _ and % match themselves
    ("*", set(LANDINGS)),  # every session with a landing page
    ("https://shop.example/pricing", {"pricing", "query", "fragment", "port"}),  # a full URL: its path
])
def test_entry_matches_the_landing_path_like_page_matches_visited_paths(landed, pattern, expected):
    assert matched(landed, entry=pattern) == expected
    assert matched(landed, page=pattern if pattern.startswith(("/", "*")) else "/pricing") == expected


def test_entry_combines_with_other_filters(landed):
    assert matched(landed, entry="/pricing", page="/pricing", min_pages="1") == {"pricing", "query", "fragment",
                                                                                  "port"}
    assert matched(landed, entry="/x/pricing", page="/pricing") == set()


def test_sql_path_equals_the_pipelines_path(landed):
    database, site, made = landed
    expr = database.dialect.url_path(Session.landing_url).alias("path")
    rows = Session.select(Session.landing_url, expr).where(Session.landing_url != "").tuples()
    assert {url: path for url, path in rows} == {url: url_path(url) for url in LANDINGS.values()}


@pytest.mark.parametrize("value,reason", [
    ("/pricing?a=1", "leave out ?query"),
    ("/pricing#plans", "leave out ?query"),
    ("https://shop.example/pricing?a=1", "leave out ?query"),
    ("pricing", "must be a path starting with /"),
    ("/" + "x" * 600, "at most 512 characters"),
])
def test_a_value_that_can_never_match_a_path_is_refused_naming_entry(landed, value, reason):
    with pytest.raises(QueryError) as info:
        matched(landed, entry=value)
    assert info.value.field == "entry" and reason in str(info.value)


def test_saved_segments_keep_the_path(landed):
    assert parse_segment({"entry": "https://shop.example/pricing*"}) == {"entry": "/pricing*"}
    assert parse_segment({"entry": "*/pricing"}) == {"entry": "*/pricing"}
