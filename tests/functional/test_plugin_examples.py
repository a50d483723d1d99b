"""The two example plugins shipped in plugins/: 404 pages and feedback polls, on real rows.

Rows are inserted straight into the analytics tables (what the collection pipeline would
store), then read through the plugins' query functions, pages and panels on both engines.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest
import webtest

from core import accounts
from core.app import create_app
from core.models import Event, Session, Site, User
from core.plugins.panels import render_panels
from core.queries.query import parse_query
from tests.conftest import ADMIN_USER, login
from tests.support import PROJECT_ROOT

RANGE = {"from": "2026-11-01", "to": "2026-11-10"}
INSIDE = dt.datetime(2026, 11, 5, 12, 0, 0)


@pytest.fixture
def app(installed_settings):  # type: ignore[no-untyped-def]
    settings = installed_settings.replace({
        "plugins.path": os.path.join(PROJECT_ROOT, "plugins"),
        "plugins.enabled": ["404_pages", "feedback_polls"],
    })
    application = create_app(settings)
    yield application
    application.shutdown()


@pytest.fixture
def admin(app) -> webtest.TestApp:  # type: ignore[no-untyped-def]
    client = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "203.0.113.9"})
    assert login(client).status_int == 303
    return client


def plugin_module(app, name: str):  # type: ignore[no-untyped-def]
    info = app.ctx.services["plugins"].infos[name]
    assert info.state == "loaded", info.reason
    return info.module


_tokens = iter(range(1, 10_000))


def visit(site_id: int = 1, at: dt.datetime = INSIDE) -> Session:
    return Session.create(site=site_id, token=f"t{next(_tokens)}", started_at=at, last_seen_at=at)


def event(session: Session, category: str, action: str, label: str = "", at: dt.datetime = INSIDE) -> None:
    Event.create(session=session, site=session.site_id, occurred_at=at, category=category, action=action, label=label)


def query_for(site_id: int = 1, params: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    site = Site.get_by_id(site_id)
    return parse_query(site.id, site.timezone, params or RANGE)


# -- 404 pages ------------------------------------------------------------------------------------

def seed_404s() -> None:
    first, second, third = visit(), visit(), visit()
    event(first, "404", "/missing-a", at=INSIDE)
    event(first, "404", "/missing-a", at=INSIDE + dt.timedelta(hours=1))
    event(second, "404", "/missing-a", at=INSIDE + dt.timedelta(hours=2))
    event(second, "404", "/old-page")
    event(third, "404", "/<script>alert(1)</script>")
    event(third, "click", "/missing-a")  # another category
    event(third, "404", "/too-early", at=dt.datetime(2026, 10, 31, 23, 59, 59))
    event(third, "404", "/too-late", at=dt.datetime(2026, 11, 11, 0, 0, 0))
    other = Site.create(domain="other.example", name="Other")
    event(visit(other.id), "404", "/other-site")


def test_404_query_counts_hits_and_visits_in_range(app):
    seed_404s()
    queries = plugin_module(app, "404_pages").queries
    assert queries.not_found_pages(query_for()) == [
        {"path": "/missing-a", "hits": 3, "sessions": 2, "last_seen": "2026-11-05 14:00:00"},
        {"path": "/<script>alert(1)</script>", "hits": 1, "sessions": 1, "last_seen": "2026-11-05 12:00:00"},
        {"path": "/old-page", "hits": 1, "sessions": 1, "last_seen": "2026-11-05 12:00:00"},
    ]
    assert queries.not_found_totals(query_for()) == {"hits": 5, "paths": 3}
    assert [row["path"] for row in queries.not_found_pages(query_for(), limit=1)] == ["/missing-a"]


def test_404_range_follows_the_sites_time_zone(app):
    Site.update(timezone="Europe/Berlin").where(Site.id == 1).execute()  # UTC+1 in November
    session = visit()
    event(session, "404", "/berlin-first-hour", at=dt.datetime(2026, 10, 31, 23, 30))  # Nov 1, 00:30 there
    event(session, "404", "/berlin-next-day", at=dt.datetime(2026, 11, 10, 23, 30))  # Nov 11, 00:30 there
    queries = plugin_module(app, "404_pages").queries
    assert [row["path"] for row in queries.not_found_pages(query_for())] == ["/berlin-first-hour"]


def test_404_report_page(app, admin):
    seed_404s()
    page = admin.get("/p/404_pages/sites/1", RANGE)
    rows = [[cell.text for cell in row.select("td")] for row in page.html.select("#not-found-pages tbody tr")]
    assert rows == [
        ["/missing-a", "3", "2", "2026-11-05 14:00:00"],
        ["/<script>alert(1)</script>", "1", "1", "2026-11-05 12:00:00"],
        ["/old-page", "1", "1", "2026-11-05 12:00:00"],
    ]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "<script>alert" not in page.text
    assert page.html.select_one("#not-found-totals").text.startswith("5 hits on 3 missing pages")
    tabs = {a.text: a["href"] for a in page.html.select("nav.site-nav a")}
    assert tabs["404 pages"] == "/p/404_pages/sites/1"
    assert page.html.select_one('link[href="/p/404_pages/static/report.css"]') is not None
    assert admin.get("/p/404_pages/static/report.css").content_type == "text/css"
    empty = admin.get("/p/404_pages/sites/1", {"from": "2020-01-01", "to": "2020-01-02"})
    assert empty.html.select_one("#not-found-pages") is None and "UST.addEvent" in empty.text
    admin.get("/p/404_pages/sites/1", {"from": "yesterday"}, status=400)


def test_404_index_lists_the_users_sites_with_recent_counts(app, admin):
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=5)
    session = visit(at=now)
    event(session, "404", "/gone", at=now)
    event(session, "404", "/gone", at=now)
    event(session, "404", "/lost", at=now)
    hidden = Site.create(domain="hidden.example", name="Hidden")
    rows = [[cell.text.strip() for cell in row.select("td")]
            for row in admin.get("/p/404_pages/").html.select("#not-found-sites tbody tr")]
    assert ["example.com", "3", "2"] in rows and ["Hidden", "0", "0"] in rows
    accounts.create_user("viewer", "viewer-pass-123", 0, site_ids=[1])
    viewer = webtest.TestApp(admin.app, extra_environ={"REMOTE_ADDR": "203.0.113.10"})
    login(viewer, "viewer", "viewer-pass-123")
    names = [a.text for a in viewer.get("/p/404_pages/").html.select("#not-found-sites a")]
    assert names == ["example.com"]
    viewer.get(f"/p/404_pages/sites/{hidden.id}", status=404)
    menu = {a.text: a["href"] for a in viewer.get("/").html.select("nav.menu a")}
    assert menu["404 pages"] == "/p/404_pages/"


def test_404_panel(app):
    seed_404s()
    site = Site.get_by_id(1)
    admin_user = User.get(User.username == ADMIN_USER)
    panels = {p.id: p for p in render_panels(app.ctx, query_for(), site, user=admin_user)}
    panel = panels["404-pages-top"]
    assert panel.error is None and panel.title == "404 pages"
    assert "3 hits" not in panel.html and "5 hits on 3 missing pages." in panel.html
    assert "&lt;script&gt;" in panel.html and "<script>" not in panel.html
    assert 'href="/p/404_pages/sites/1?from=2026-11-01&amp;to=2026-11-10"' in panel.html


# -- feedback polls -------------------------------------------------------------------------------

def answer(question: str, label: str, times: int = 1, site_id: int = 1, at: dt.datetime = INSIDE) -> None:
    for _ in range(times):
        event(visit(site_id, at), "poll", question, label, at=at)


def test_poll_results_counts_and_shares(app):
    answer("How did you find us?", "Search", 3)
    answer("How did you find us?", "Friend", 1)
    answer("Was this page useful?", "Yes")
    answer("Was this page useful?", "")
    for label in ("a", "b", "c"):
        answer("Pick one", label)
    answer("How did you find us?", "Search", 5, at=dt.datetime(2026, 12, 1))  # outside the range
    other = Site.create(domain="other.example")
    answer("How did you find us?", "Friend", 4, site_id=other.id)
    results = plugin_module(app, "feedback_polls").queries.poll_results(query_for())
    assert results == [
        {"question": "How did you find us?", "total": 4, "answers": [
            {"answer": "Search", "count": 3, "share": 75.0}, {"answer": "Friend", "count": 1, "share": 25.0}]},
        {"question": "Pick one", "total": 3, "answers": [
            {"answer": "a", "count": 1, "share": 33.3}, {"answer": "b", "count": 1, "share": 33.3},
            {"answer": "c", "count": 1, "share": 33.3}]},
        {"question": "Was this page useful?", "total": 2, "answers": [
            {"answer": "(no answer)", "count": 1, "share": 50.0}, {"answer": "Yes", "count": 1, "share": 50.0}]},
    ]


def test_poll_answers_beyond_ten_are_summed(app):
    for index in range(12):
        answer("Favourite number?", f"n{index:02d}", times=2 if index == 11 else 1)
    results = plugin_module(app, "feedback_polls").queries.poll_results(query_for())
    answers = results[0]["answers"]
    assert results[0]["total"] == 13 and len(answers) == 11
    assert answers[0] == {"answer": "n11", "count": 2, "share": 15.4}
    assert answers[-1] == {"answer": "Other answers", "count": 2, "share": 15.4}  # n09 and n10


def test_polls_panel_renders_escaped_results(app):
    answer("<img src=x onerror=alert(1)>", "Yes", 2)
    answer("<img src=x onerror=alert(1)>", "No", 2)
    site = Site.get_by_id(1)
    admin_user = User.get(User.username == ADMIN_USER)
    panels = {p.id: p for p in render_panels(app.ctx, query_for(), site, user=admin_user)}
    panel = panels["feedback-polls-results"]
    assert panel.error is None and panel.title == "Feedback polls"
    assert "<img" not in panel.html and "&lt;img src=x onerror=alert(1)&gt;" in panel.html
    assert "4 answers" in panel.html
    assert '<meter min="0" max="100" value="50.0">' in panel.html
    empty = render_panels(app.ctx, query_for(params={"from": "2020-01-01", "to": "2020-01-01"}), site,
                          user=admin_user)
    assert "No poll answers in this range." in next(p for p in empty if p.plugin == "feedback_polls").html


def test_panels_come_in_their_declared_order(app):
    site = Site.get_by_id(1)
    admin_user = User.get(User.username == ADMIN_USER)
    assert [p.plugin for p in render_panels(app.ctx, query_for(), site, user=admin_user)] == [
        "404_pages", "feedback_polls"]


def test_overview_page_shows_the_plugin_panels(app, admin):
    answer("Was this page useful?", "Yes", 3)
    page = admin.get("/sites/1/overview", {"from": "2026-11-01", "to": "2026-11-10"})
    panels = page.html.select("section.panels article.panel")
    assert [p["data-plugin"] for p in panels] == ["404_pages", "feedback_polls"]
    assert "Was this page useful?" in panels[1].text and "3 answers" in panels[1].text
