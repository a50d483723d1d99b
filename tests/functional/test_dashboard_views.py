"""Statistics pages through the real app (WebTest): every page renders, filters are validated, sessions
can be tagged and deleted by analysts only, CSV exports are neutralised against formula injection."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
import webtest

from core import accounts
from core.models import Event, Pageview, Segment, Session, SessionTag, Site, WatchedSession
from core.seed import SeedPlan, seed_site
from tests.conftest import login


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


@pytest.fixture
def site(app):
    site = Site.get(Site.domain == "example.com")
    seed_site(app.ctx.database.db, site, SeedPlan(sessions=60, days=5, end=now(), recording_share=0.1))
    return site


def hostile_session(site, **fields):
    start = now() - dt.timedelta(hours=1)
    values = dict(site=site, token=f"t{start.timestamp()}{len(fields)}", visitor_hash="h1", country="DE",
                  started_at=start, last_seen_at=start + dt.timedelta(seconds=30), pageview_count=1, event_count=1)
    values.update(fields)
    session = Session.create(**values)
    pv = Pageview.create(session=session, site=site, client_id="p1", url="https://example.com/x", path="/x",
                         started_at=start)
    Event.create(session=session, pageview=pv, site=site, occurred_at=start, category="=cat", action="@act",
                 label="-lbl")
    SessionTag.create(session=session, site=site, tag="+tag", created_at=start)
    return session


PAGES = ["overview", "overview?unit=hour&metric=pageviews", "overview?range=90d&unit=month", "sessions",
         "sessions?sort=duration&order=asc", "sessions?sort=pages", "events", "events?group=label&unit=week",
         "tags", "tags?unit=week", "segments", "breakdown/page", "breakdown/city?sort=value",
         "breakdown/referrer", "overview?tag=newsletter&page=/features/*&min_duration=10&device=desktop,mobile"]


@pytest.mark.parametrize("page", PAGES)
def test_every_statistics_page_renders(admin_client, site, page):
    response = admin_client.get(f"/sites/{site.id}/{page}")
    assert response.status_int == 200
    html = response.text
    for tab in ("Overview", "Sessions", "Events", "Tags"):
        assert f'href="/sites/{site.id}/{tab.lower()}"' in html
    assert "/static/build/dashboard.min.js" in html and "<script>" not in html


def test_site_page_redirects_to_the_overview(admin_client, site):
    response = admin_client.get(f"/sites/{site.id}")
    assert response.status_int in (302, 303) and response.location.endswith(f"/sites/{site.id}/overview")


def test_overview_shows_the_numbers_and_the_chart_data(admin_client, site):
    html = admin_client.get(f"/sites/{site.id}/overview?range=7d").text
    sessions = Session.select().where(Session.site == site.id).count()
    assert 'data-metric="sessions"' in html and f"{sessions:,}" in html
    assert 'class="ux-chart" data-chart="{&#34;type&#34;: &#34;line&#34;' in html
    assert 'id="breakdown-page"' in html and 'id="breakdown-country"' in html


@pytest.mark.parametrize("query,field", [("from=2026-13-01", "from"), ("min_duration=abc", "min_duration"),
                                         ("unit=decade", "unit"), ("device=phone", "device")])
def test_bad_parameters_get_a_422_naming_the_field(admin_client, site, query, field):
    response = admin_client.get(f"/sites/{site.id}/overview?{query}", status=422)
    assert field in response.text


def test_unknown_breakdown_is_404(admin_client, site):
    admin_client.get(f"/sites/{site.id}/breakdown/password", status=404)


def test_csv_exports_neutralise_formulas(admin_client, site):
    hostile_session(site, referrer="=HYPERLINK(\"http://evil\")", referrer_domain="=evil", city="@SUM(1)",
                    utm_campaign="+cmd|' /C calc'!A0")
    body = admin_client.get(f"/sites/{site.id}/export/sessions.csv?range=today").text
    rows = list(csv.reader(io.StringIO(body)))
    header, data = rows[0], rows[1:]
    hostile = [dict(zip(header, row, strict=True)) for row in data if row[header.index("tags")] == "'+tag"]
    assert hostile and hostile[0]["referrer"].startswith("'=HYPERLINK")
    assert hostile[0]["city"] == "'@SUM(1)" and hostile[0]["utm_campaign"].startswith("'+cmd")
    for row in data:
        for cell in row:
            assert not cell.startswith(("=", "+", "@")) and not (cell.startswith("-") and not _is_number(cell))
    events = admin_client.get(f"/sites/{site.id}/export/events.csv?range=today").text
    assert "'=cat,'@act" in events
    refs = admin_client.get(f"/sites/{site.id}/export/breakdown-referrer_domain.csv?range=today").text
    assert "'=evil" in refs
    assert admin_client.get(f"/sites/{site.id}/export/tags.csv?range=today").text.count("'+tag") == 1
    response = admin_client.get(f"/sites/{site.id}/export/timeseries.csv")
    assert response.content_type == "text/csv" and "attachment" in response.headers["Content-Disposition"]


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def test_session_page_tags_and_watched_marker(admin_client, site):
    session = Session.select().where(Session.site == site.id).order_by(Session.started_at.desc()).first()
    page = admin_client.get(f"/sites/{site.id}/sessions/{session.id}")
    assert 'id="session-timeline"' in page.text
    assert WatchedSession.select().where(WatchedSession.session == session.id).count() == 1
    listing = admin_client.get(f"/sites/{site.id}/sessions?range=30d&sort=start")
    assert f'<tr class="watched" data-session="{session.id}">' in listing.text
    form = page.forms["add-tag-form"]
    form["tag"] = "  follow-up "
    form.submit(status=303)
    assert SessionTag.get_or_none((SessionTag.session == session.id) & (SessionTag.tag == "follow-up"))
    detail = admin_client.get(f"/sites/{site.id}/sessions/{session.id}")
    remove = [f for f in detail.forms.values() if f.action.endswith("/tags/remove") and f["tag"].value == "follow-up"]
    remove[0].submit(status=303)
    assert not SessionTag.get_or_none((SessionTag.session == session.id) & (SessionTag.tag == "follow-up"))


def test_bulk_delete_removes_sessions_with_everything_under_them(admin_client, site):
    newest = Session.select().where(Session.site == site.id).order_by(Session.started_at.desc(), Session.id.desc())
    victims = [s.id for s in newest.limit(3)]
    form = admin_client.get(f"/sites/{site.id}/sessions?range=30d").forms["sessions-form"]
    for box in form.fields["session"]:
        if int(box._value) in victims:
            box.checked = True
    response = form.submit(status=303)
    assert response.location.endswith(f"/sites/{site.id}/sessions?range=30d")
    assert Session.select().where(Session.id.in_(victims)).count() == 0
    assert Pageview.select().where(Pageview.session.in_(victims)).count() == 0
    assert Event.select().where(Event.session.in_(victims)).count() == 0


def test_delete_needs_the_csrf_token(admin_client, site):
    victim = Session.select().where(Session.site == site.id).first()
    admin_client.post(f"/sites/{site.id}/sessions/{victim.id}/delete", status=403)
    assert Session.get_or_none(Session.id == victim.id) is not None


def test_read_only_users_cannot_tag_delete_or_save_segments(app, client, site):
    accounts.create_user("reader", "reader-password-1", 0, [site.id])
    login(client, "reader", "reader-password-1")
    session = Session.select().where(Session.site == site.id).first()
    page = client.get(f"/sites/{site.id}/sessions/{session.id}")
    assert "add-tag-form" not in page.text and "delete-session" not in page.text
    token = page.html.find("meta", {"name": "csrf-token"})["content"]
    client.post(f"/sites/{site.id}/sessions/{session.id}/delete", {"csrf_token": token}, status=403)
    client.post(f"/sites/{site.id}/sessions/{session.id}/tags", {"csrf_token": token, "tag": "x"}, status=403)
    client.post(f"/sites/{site.id}/segments", {"csrf_token": token, "name": "n", "tag": "x"}, status=403)
    assert Session.get_or_none(Session.id == session.id) is not None


def test_users_without_access_to_the_site_get_404(app, client, site):
    other = Site.create(domain="other.example", settings={})
    accounts.create_user("outsider", "outsider-password-1", 3, [other.id])
    login(client, "outsider", "outsider-password-1")
    client.get(f"/sites/{site.id}/overview", status=404)
    client.get(f"/sites/{site.id}/sessions", status=404)
    session = Session.select().where(Session.site == site.id).first()
    client.get(f"/sites/{other.id}/sessions/{session.id}", status=404)  # another site's session


def test_save_apply_and_delete_a_segment(admin_client, site):
    page = admin_client.get(f"/sites/{site.id}/sessions?tag=newsletter&country=de")
    form = [f for f in page.forms.values() if f.action == f"/sites/{site.id}/segments"][0]
    form["name"] = "German newsletter readers"
    response = form.submit(status=303)
    assert "tag=newsletter" in response.location and "country=DE" in response.location
    segment = Segment.get(Segment.name == "German newsletter readers")
    assert segment.filters == {"tag": "newsletter", "country": "DE"}
    listing = admin_client.get(f"/sites/{site.id}/segments")
    assert "German newsletter readers" in listing.text
    overview = admin_client.get(f"/sites/{site.id}/overview")
    assert "tag=newsletter" in overview.text  # saved segments are offered on every page
    delete = [f for f in listing.forms.values() if f.action.endswith(f"/segments/{segment.id}/delete")][0]
    delete.submit(status=303)
    assert Segment.get_or_none(Segment.id == segment.id) is None


def test_tracked_text_is_escaped_and_only_http_links_are_rendered(admin_client, site):
    hostile_session(site, referrer="javascript:alert(1)", landing_url="javascript:alert(2)",
                    city="<img src=x onerror=alert(3)>", utm_campaign='"><svg onload=alert(4)>')
    session = Session.get(Session.city == "<img src=x onerror=alert(3)>")
    for url in (f"/sites/{site.id}/sessions/{session.id}", f"/sites/{site.id}/sessions?range=today",
                f"/sites/{site.id}/overview?range=today", f"/sites/{site.id}/breakdown/city?range=today"):
        html = admin_client.get(url).text
        assert "<img src=x" not in html and "<svg onload" not in html
        assert 'href="javascript:' not in html


@pytest.fixture
def plain_client(app) -> webtest.TestApp:
    return webtest.TestApp(app)


def test_pages_need_a_login(plain_client, site):
    response = plain_client.get(f"/sites/{site.id}/overview")
    assert response.status_int in (302, 303) and "/login" in response.location


def test_rollups_job_is_registered_and_fills_the_daily_rows(app, site):
    from core.models import DailyStat
    from core.tasks import job_table, run_task_now

    assert job_table(app.ctx)["rollups"].supports_rebuild
    assert run_task_now(app.ctx, "rollups").startswith("rolled up ")
    assert DailyStat.select().where(DailyStat.site == site.id).count() >= 5
    sessions = Session.select().where(Session.site == site.id).count()
    assert sum(row.sessions for row in DailyStat.select().where(DailyStat.site == site.id)) == sessions
